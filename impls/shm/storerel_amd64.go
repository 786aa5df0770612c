package shm

// storeRelease stores v at p with release ordering only: every earlier
// load and store of this goroutine is visible before it, but, unlike
// store (an XCHG on amd64, a full fence that drains the store buffer),
// later loads may pass it. The course's C peers store p_tail and ready
// this way (__atomic_store_n with __ATOMIC_RELEASE, a plain MOV). On amd64
// (TSO) a plain MOV is that store, and the compiler keeps stores in
// program order. p points into the shared mapping, which the race
// detector does not track.
func storeRelease(p *uint32, v uint32) { *p = v }
