// Package dkvs is kvbench's faithful Go version of EPFL CS-202's DKVS
// (seed 002, spec specs/dkvs.md): UDP servers that each hold a 256-bucket
// local table, a consistent-hashing ring of virtual nodes placed by SHA-1,
// and a quorum client that sends each request to the first N distinct
// servers clockwise from the key and succeeds on W acknowledgements (put) or
// R equal values (get). Servers never talk to each other: no read repair,
// no hinted handoff, no versions.
//
// It owns:
//   - the wire protocol (wire.go) and the server (server.go, table.go):
//     `kvbench serve dkvs <ip> <port> [key value]...`;
//   - servers.txt and the ring (ring.go);
//   - the quorum client (quorum.go) that kvbench's adapters and the
//     command-line client share;
//   - the original's command-line client and dump-ring with their exact
//     output and exit statuses (cli.go): `kvbench client dkvs ...`;
//   - the store's description, flags and claims (impl.go) and the bundled
//     cluster for `kvbench run/fuzz --impl dkvs` (cluster.go): S servers of
//     V nodes, or the servers of a --servers-file, each behind a netproxy
//     UDP proxy so network faults reach it;
//   - the dkvs:servers.txt target (target.go): anyone's servers, reached
//     through kvbench's proxies, started and faulted with --serve.
//
// What the quorums guarantee (claims in impl.go; scenario dkvs-quorums):
// without versions only R = N is linearizable, and only without crashes
// (a server restarts empty) or delays (they reorder puts). With R < N,
// concurrent puts reach replicas in different orders and successive reads
// can disagree, W+R > N notwithstanding; with W+R <= N reads also miss
// completed writes. Measured on the project's 2-core machine (5 servers x 3
// nodes, 5 conflicting fuzz clients, 200 ops each): (3,1,1) and (3,3,1)
// under loss produced the predicted violations with witnesses; every other
// cell, the R = N ones (3,1,3) and (5,3,3) under crash and loss included,
// checked ok (a crash violation needs every replica of a key to crash after
// its last write, which short runs rarely produce).
//
// Cost: each operation opens a fresh UDP socket and crosses one proxy per
// replica; YCSB A with 4 clients on S=3, N=3 ran 3 800-4 700 ops/s (p99
// 5-10 ms) on a loaded machine, against 8 300 for memkv with fsync and
// 56 000 without. The quorum client's own logic (ring lookup, reply
// bookkeeping) is within noise of a bare socket round trip.
//
// Exit statuses: a command that fails returns an *ExitError whose ExitCode
// is 256 + the original's error code (129..138); cmd/kvbench exits with it.
package dkvs
