// Package probe holds reusable hostile-peer and crash probes that any
// store's tests can run, so every store meets the same bar (issue 13):
//
//   - CrashCycles: a durability test for a store that claims to survive
//     kill -9. Writers (several per connection, pipelined) write unique
//     values to their own keys; the store is killed at random moments (or
//     when KillWhen says, e.g. during a compaction) and restarted on the
//     same data; after every restart each key must hold its last
//     acknowledged value or the value of a write whose outcome was unknown.
//   - TornTail: a recovery test for a store's append-only log. The log is
//     written once, then for each trial a copy is damaged at the tail (cut
//     mid-record, garbage or zeros appended, a byte flipped in one of the
//     last records) and the store must recover exactly the intact prefix.
//   - Exchange, Compare and MemcachedInputs: a table of malformed inputs
//     sent to two servers side by side (e.g. memkv and a real memcached),
//     byte for byte.
//   - Flood: many connections each sending a partial request and holding
//     it, while the server's RSS is read from /proc.
//
// The probes return figures and findings rather than failing a test
// themselves: a test decides what is acceptable and logs the figures.
// Each probe's work is bounded by its config (counts, sizes, durations)
// and by ctx. Long reports whether KVBENCH_PROBE=long asks for the long
// versions (`make probe`); `make test` runs the short ones. Name a store's
// probe tests TestProbe<Something>: `make probe` runs every test so named
// under impls/ (impls/memkv/probe_test.go shows each probe in use).
package probe

import "os"

// Long reports whether the long versions of the probes were asked for
// (environment KVBENCH_PROBE=long, as `make probe` sets).
func Long() bool { return os.Getenv("KVBENCH_PROBE") == "long" }
