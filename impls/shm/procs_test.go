package shm

import (
	"path/filepath"
	"runtime"
	"testing"
)

// TestClientThreadsGetProcs: a cluster of one-slot threads raises
// GOMAXPROCS to its thread count while open (and its Do calls then take no
// producer lock); wider windows and more than maxClientProcs threads leave
// it alone; the last cluster to close restores it.
func TestClientThreadsGetProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	open := func(n, w int) *cluster {
		t.Helper()
		c, err := newCluster(filepath.Join(t.TempDir(), FileName), n, w, defaultWait())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	procs := func() int { return runtime.GOMAXPROCS(0) }

	wide := open(3, 2)
	if p := procs(); p != 1 {
		t.Fatalf("-n 3 -w 2: GOMAXPROCS %d, want 1 (unchanged)", p)
	}
	if wide.threads[0].oneRing == nil {
		t.Error("-n 3 -w 2 on 1 P: no producer lock")
	}
	many := open(maxClientProcs()+1, 1)
	if p := procs(); p != 1 {
		t.Fatalf("-n %d -w 1: GOMAXPROCS %d, want 1 (unchanged)", maxClientProcs()+1, p)
	}
	if many.threads[0].oneRing == nil {
		t.Error("more threads than Ps: no producer lock")
	}
	a := open(2, 1)
	if p := procs(); p != 2 {
		t.Fatalf("-n 2 -w 1: GOMAXPROCS %d, want 2", p)
	}
	if a.threads[0].oneRing != nil || a.threads[0].ring == nil {
		t.Error("-n 2 -w 1 with a P per thread: want no lock for Do, the cluster's lock kept")
	}
	b := open(3, 1)
	if p := procs(); p != 3 {
		t.Fatalf("-n 3 -w 1 as well: GOMAXPROCS %d, want 3", p)
	}
	for _, c := range []*cluster{wide, many, b} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if p := procs(); p != 3 {
		t.Fatalf("a raising cluster still open: GOMAXPROCS %d, want 3", p)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil { // a second Close gives nothing back twice
		t.Fatal(err)
	}
	if p := procs(); p != 1 {
		t.Fatalf("all closed: GOMAXPROCS %d, want 1 (restored)", p)
	}
}
