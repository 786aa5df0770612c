package shm

import (
	"runtime"
	"sync"
)

// A client thread of one slot (w = 1) gets a Go P of its own while its
// cluster is open, as a C client's pthread gets a kernel thread: the
// process's GOMAXPROCS is raised to the number of client threads (if they
// are at most maxClientProcs). A Do then waits for its answer on its own P
// with raw sched_yield calls, where with fewer Ps than waiting goroutines every
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

// maxClientProcs is the most client threads that get a P each: a cluster
// with more keeps GOMAXPROCS (its threads share Ps and take the producer
// lock, as before). Measured on 2 CPUs (Go pair, interleaved with the
// binary from before, load 3-7): -n 3, 4, 8 -w 1 faster at less CPU per
// run with a P each (-n 8: 265 K -> 351 K ops/s, 1.24 -> 0.67 CPU-s), but
// -n 12 and -n 16 fell into runs of about 1.8 CPU-s at half the throughput
// (-n 16: 415 K -> 215 K ops/s, 5 rounds) with that many runnable threads
// per CPU.
func maxClientProcs() int { return 4 * runtime.NumCPU() }

var procs struct {
	mu    sync.Mutex
	users int // open clusters holding a raise
	orig  int // GOMAXPROCS before the first of them
	set   int // the value the last raise set (0: none)
}

// raiseProcs gives each of the cluster's n client threads a P (see
// above) until releaseProcs.
func (c *cluster) raiseProcs(n int) {
	if n > maxClientProcs() {
		return
	}
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
	if cur < n {
		runtime.GOMAXPROCS(n)
		procs.set = n
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
