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
// tests apply it to every entry of registry.All (and flag variants that
// change a claim), to a real memcached through the memcached:// target, to
// the exec: target driving `kvbench client NAME` (whose answers must also
// match the native adapter's), and to the shm:, istkvs:, dkvs: and etcd:
// targets.
// Each case asserts exact responses; none is weakened to make a store pass.
// What a protocol cannot say or carry is declared on the Subject, not
// guessed: FoundUnknown (memcached's set does not say whether the key
// existed), TokenValues (MadKV's line protocol), MaxValueSize and NoNUL
// (dkvs's datagrams), ReadFirst (a client that reads before it writes may
// truthfully fail definitely when a crash hits its read). Durability comes
// from Impl.Claims under the subject's flags with a crash.
//
// A store's own package applies it in a test:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.Subject{Name: "memkv", Impl: memkv.Impl(),
//			Start: memkv.Impl().Start, Exe: kvbenchBinary, FoundUnknown: []impls.Kind{impls.Put}})
//	}
package conformance
