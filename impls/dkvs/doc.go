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
//   - the bundled cluster for `kvbench run/fuzz --impl dkvs` (impl.go), each
//     server behind a netproxy UDP proxy so network faults reach it, and the
//     dkvs:servers.txt target (target.go).
//
// Exit statuses: a command that fails returns an *ExitError whose ExitCode
// is 256 + the original's error code (129..138); cmd/kvbench exits with it.
package dkvs
