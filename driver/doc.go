// Package driver owns the measured phase of a run: Clients*Window workers
// drawing requests from workload streams and sending them through
// impls.Clients, closed or open loop, with one timing wrapper per request
// (loop.do) that feeds both the HdrHistograms (striped: workers share at
// most 2*GOMAXPROCS sets, so memory does not grow with clients; merged by
// one goroutine each interval, outside the stripes' locks) and, when
// recording, the history (record.go: compact records, about 155 B per op).
//
// A worker is a goroutine calling Client.Do, except with -w > 1 and clients
// that implement impls.Pipeliner: then one goroutine per client keeps its
// Window workers' requests in flight with Send and Recv (pipeline.go), as
// the course's C client thread does, and records each answer through the
// same loop.do; and except for closed-loop benchmarks with -w 1 over
// clients that implement impls.Polled (memcached/memkv): then GOMAXPROCS
// event loops each own a share of the clients and wait for their answers
// on one epoll instance, as memcaslap's threads do (mux_linux.go), and
// record each answer through loop.finish. Recorded, paced, timed-out and
// fault-injected phases keep a goroutine per client.
//
// It knows nothing about which store it drives or what faults are injected:
// scenarios.Bench and scenarios.Fuzz set it up, the nemesis runs beside it.
package driver
