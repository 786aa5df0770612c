package shm

import (
	"runtime"
	"sync"
)

// A client thread of one slot (w = 1) gets a Go P of its own while its
// cluster is open, as a C client's pthread gets a kernel thread: the
// process's GOMAXPROCS is raised to the number of client threads (up to
// maxClientProcs). A Do then waits for its answer on its own P with raw
// sched_yield calls, where with fewer Ps than waiting goroutines every
// yield first passed the P to another goroutine through runtime.Gosched
// (the global run queue's lock, a wakep; profiled at -n 4 -w 1: 10% of the
// client's CPU in runtime.lock2/unlock2 alone) and the kernel saw only
// GOMAXPROCS client threads to share the processors with the server's. The
// C client's n threads each yield on their own slot; so do these now.
// Parking is unchanged (the cluster's one poller goroutine parks for the
// Do calls), so an idle client still holds no processor. Clusters with
// w > 1 are left alone: their threads pipeline (one goroutine each, busy
// submitting bursts), and with a P each they took the processors from the
// server: Go pair at -n 4 -w 16, 6 interleaved rounds at load 5, 950 K ->
// 743 K ops/s, CPU per run 0.35 -> 0.48 s.
//
// The last cluster to close puts GOMAXPROCS back, unless something else
// changed it meanwhile.

// maxClientProcs bounds the raise: beyond it the threads share Ps as
// before (a P per thread for hundreds of threads would only add scheduler
// and GC work).
const maxClientProcs = 16

var procs struct {
	mu    sync.Mutex
	users int // open clusters holding a raise
	orig  int // GOMAXPROCS before the first of them
	set   int // the value the last raise set (0: none)
}

// raiseProcs gives each of the cluster's n client threads a P (see
// above) until releaseProcs.
func (c *cluster) raiseProcs(n int) {
	want := min(n, maxClientProcs)
	procs.mu.Lock()
	defer procs.mu.Unlock()
	if c.raised {
		return
	}
	c.raised = true
	cur := runtime.GOMAXPROCS(0)
	if procs.users == 0 {
		procs.orig, procs.set = cur, 0
	}
	procs.users++
	if cur < want {
		runtime.GOMAXPROCS(want)
		procs.set = want
	}
}

// releaseProcs gives back the cluster's raise (once); the last one
// restores GOMAXPROCS if it still has the value a raise set.
func (c *cluster) releaseProcs() {
	procs.mu.Lock()
	defer procs.mu.Unlock()
	if !c.raised {
		return
	}
	c.raised = false
	procs.users--
	if procs.users == 0 && procs.set != 0 && runtime.GOMAXPROCS(0) == procs.set {
		runtime.GOMAXPROCS(procs.orig)
	}
}
