// Package netproxy is the network-fault proxy kvbench owns: it sits on the
// links between kvbench's clients and the servers it starts, so the
// nemesis can isolate a server or degrade its links (delay, jitter, loss,
// duplication) without touching the server process.
//
// Faults (faults.go) is the fault state and the per-packet decision, shared
// by every transport and deterministic from a seed: it implements
// impls.NetFaulter. UDP (udp.go) is the datagram proxy dkvs uses: one
// listener per server, one upstream socket per client source address, so
// the server sees each client as a distinct peer and its replies find the
// way back. TCP (tcp.go) is the stream proxy on the same Faults: Isolate
// cuts open connections and refuses new ones until Heal, delay holds each
// chunk in order, a loss decision cuts the connection, duplication is
// ignored. Links (group.go) faults one node's several proxies as one.
package netproxy
