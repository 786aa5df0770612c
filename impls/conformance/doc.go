// Package conformance is the one behaviour suite every key-value store and
// every target kind must pass: get after put, Found as the protocol reveals
// it, swap, delete, inclusive scans, ErrUnsupported exactly for the kinds a
// store lacks, values of every shape it accepts, pipelined windows, an
// unknown outcome for a request in flight when the server is killed, a
// definite answer for one sent after the crash, Close twice, and a restart
// on the same data (that keeps acknowledged writes when the store claims to
// be durable across a crash).
//
// A store's package applies it with Run and a Subject; this package's own
// tests apply it to every entry of registry.All, to a real memcached through
// the memcached adapter, and to the exec: target driving `kvbench client`.
// Each case asserts exact responses; none is weakened to make a store pass.
package conformance
