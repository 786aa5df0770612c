package checker

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

// TestFastAgreesWithPorcupine: on many random small histories the fast
// search proves exactly the linearizable ones (Porcupine decides), so it
// is sound (never ok for a violation) and, here, complete.
func TestFastAgreesWithPorcupine(t *testing.T) {
	for _, unique := range []bool{false, true} {
		fastAgrees(t, unique)
	}
}

// fastAgrees compares on random histories whose writes write one of three
// values, or (unique) values of their own, which the search's cuts use.
func fastAgrees(t *testing.T, unique bool) {
	rng := rand.New(rand.NewPCG(11, 13))
	n := 20000
	if testing.Short() {
		n = 3000
	}
	var proved int
	for i := 0; i < n; i++ {
		es := randomHistoryOf(rng, 0.5, unique)
		hist, err := build(es)
		if err != nil {
			t.Fatal(err)
		}
		for k := range hist.keys {
			ops := hist.partition(k).ops
			want := porcupine.CheckOperations(newModel(context.Background()), ops)
			got := fastLinearize(context.Background(), ops, fastSteps(len(ops)))
			if got && !want {
				t.Fatalf("history %d key %d: fast search proved a history Porcupine rejects\n%+v", i, k, es)
			}
			if want && !got {
				t.Fatalf("history %d key %d: fast search missed a linearization Porcupine finds\n%+v", i, k, es)
			}
			if got {
				proved++
			}
		}
	}
	if proved < n/10 {
		t.Errorf("only %d keys proved: poor coverage", proved)
	}
}

// TestVerifyOrderRejects: the replay that guards the fast search's answer
// refuses a wrong value, a real-time inversion, a repeated or missing op.
func TestVerifyOrderRejects(t *testing.T) {
	es := h(put(0, "k", "a", 0, 10), get(1, "k", "a", 20, 30), put(0, "k", "b", 40, 50))
	hist, err := build(es)
	if err != nil {
		t.Fatal(err)
	}
	ops := hist.partition(0).ops
	if !verifyOrder(ops, []int{0, 1, 2}) {
		t.Fatal("the history's own order was refused")
	}
	for _, bad := range [][]int{
		{0, 2, 1}, // GET a after PUT b: wrong value, and put b was called after get returned
		{1, 0, 2}, // GET a before PUT a: the key is absent
		{0, 1},    // an op missing
		{0, 1, 1}, // an op twice
		{0, 1, 7}, // out of range
	} {
		if verifyOrder(ops, bad) {
			t.Errorf("verifyOrder accepted %v", bad)
		}
	}
}

// TestFastDecidesManyClients: 85 clients hammering 5 keys (issue 14's
// largest fuzz configuration), with and without failed and unknown-outcome
// ops, are proved linearizable by the fast search itself, segment by
// segment, within its step budget: Porcupine's exponential search is never
// needed for them.
func TestFastDecidesManyClients(t *testing.T) {
	for _, o := range []genOpts{
		{clients: 85, ops: 60, keys: 5, jitter: true, seed: 1},
		{clients: 85, ops: 60, keys: 5, jitter: true, seed: 2, unknown: 0.02, fail: 0.05},
		{clients: 85, ops: 60, keys: 5, jitter: true, seed: 3, memcached: true},
	} {
		hist, err := build(genHistory(o))
		if err != nil {
			t.Fatal(err)
		}
		for k := range hist.keys {
			for i, seg := range split(hist.partition(k), defaultMinSegment) {
				if !fastLinearize(context.Background(), seg.ops, fastSteps(len(seg.ops))) {
					t.Fatalf("%v: key %s segment %d (%d ops) not proved", o, hist.keys[k], i, len(seg.ops))
				}
			}
		}
	}
}

// TestManyClientsStaleReadNeverOK: a read made to return a value that was
// overwritten long before it was called (a stale read, the case the fast
// search's pruning cuts) in an 85-client history is never called
// linearizable; a read of a value nobody wrote is a violation on its key.
func TestManyClientsStaleReadNeverOK(t *testing.T) {
	o := genOpts{clients: 85, ops: 40, keys: 5, jitter: true, seed: 4}
	events := genHistory(o)
	// The first completed Put, and a Get on its key called after a later
	// completed Put on that key returned.
	var first, later *results.Event
	for i := range events {
		e := &events[i]
		if e.Req.Kind != impls.Put || e.Outcome != results.OK {
			continue
		}
		if first == nil {
			first = e
		} else if e.Req.Key == first.Req.Key && e.Call > first.Return {
			later = e
			break
		}
	}
	if later == nil {
		t.Fatal("no two sequential puts on one key")
	}
	stale := -1
	for i := range events {
		e := &events[i]
		if e.Req.Kind == impls.Get && e.Req.Key == first.Req.Key && e.Outcome == results.OK && e.Call > later.Return {
			stale = i
			break
		}
	}
	if stale < 0 {
		t.Fatal("no read after the second put")
	}
	// Porcupine's search for the violation takes from a tenth of a second
	// to minutes on this history, depending on its search order (checker
	// doc.go: such jittered 85-client histories are not always decidable),
	// so the time limit is short and unknown is allowed; ok never is.
	opts := Options{Timeout: 10 * time.Second}
	bad := slices.Clone(events)
	bad[stale].Resp = impls.Response{Found: impls.Present, Value: first.Req.Value}
	if r := Check(context.Background(), bad, opts); r.Verdict == results.VerdictOK {
		t.Fatalf("stale read of %q passed: %s", first.Req.Value, r.Detail)
	}
	bad[stale].Resp.Value = "nobody wrote this"
	switch r := Check(context.Background(), bad, opts); {
	case r.Verdict == results.VerdictUnknown:
		t.Logf("read of an unwritten value: unknown within %v (%s)", opts.Timeout, r.Detail)
	case r.Verdict != results.VerdictViolation || r.Key != first.Req.Key:
		t.Fatalf("read of an unwritten value: %s on %q: %s", r.Verdict, r.Key, r.Detail)
	}
}

// TestOpSetWindow: low and the window the search memoizes determine the
// set exactly, through random placements and backtracks.
func TestOpSetWindow(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 300
	s := newOpSet(n)
	member := make([]bool, n)
	for step := 0; step < 20000; step++ {
		i := rng.IntN(n)
		if i > s.low+100 { // the search places ops near the front
			i = s.low + rng.IntN(100)
			if i >= n {
				continue
			}
		}
		if member[i] {
			s.clear(i)
		} else {
			s.set(i)
		}
		member[i] = !member[i]
		low, words := s.window()
		for j := 0; j < n; j++ {
			in := j < low
			if w := j/64 - low/64; j >= low && w < len(words) {
				in = words[w]&(1<<(j%64)) != 0
			}
			if in != member[j] {
				t.Fatalf("step %d: op %d member %v, window says %v (low %d, %d words)", step, j, member[j], in, low, len(words))
			}
		}
	}
}
