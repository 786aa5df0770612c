package checker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

func TestSplitCutsOnlyAtQuiescentDeterminedPoints(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []results.Event
		// sizes are the segments' op counts, carried ops included.
		sizes   []int
		carried []string // the carried state per segment
	}{
		{name: "sequential reads and writes", events: h(
			put(0, "k", "a", 0, 10), get(1, "k", "a", 20, 30), del(0, "k", impls.Present, 40, 50), get(1, "k", none, 60, 70)),
			sizes: []int{1, 2, 2, 1}, carried: []string{"", `"a"`, `"a"`, ""}},
		{name: "touching windows are concurrent: no cut", events: h(
			put(0, "k", "a", 0, 10), get(1, "k", "a", 10, 20)),
			sizes: []int{2}, carried: []string{""}},
		{name: "overlap prevents a cut", events: h(
			put(0, "k", "a", 0, 10), get(1, "k", "a", 5, 30), get(0, "k", "a", 20, 40), get(0, "k", "a", 50, 60)),
			sizes: []int{3, 2}, carried: []string{"", `"a"`}},
		{name: "concurrent writes leave the state undetermined: no cut until one write follows both", events: h(
			put(0, "k", "a", 0, 10), put(1, "k", "b", 5, 15), get(2, "k", "b", 20, 30),
			put(0, "k", "c", 40, 50), get(1, "k", "c", 60, 70)),
			sizes: []int{4, 2}, carried: []string{"", `"c"`}},
		{name: "an unknown write prevents every later cut", events: h(
			unknown(put(0, "k", "a", 0, 10)), get(1, "k", none, 20, 30), get(1, "k", "a", 40, 50)),
			sizes: []int{3}, carried: []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hist, err := build(tc.events)
			if err != nil {
				t.Fatal(err)
			}
			segs := split(hist.partition(0), 1)
			if len(segs) != len(tc.sizes) {
				t.Fatalf("%d segments, want %d", len(segs), len(tc.sizes))
			}
			for i, s := range segs {
				carried := ""
				if s.carried() == 1 {
					carried = s.ops[0].Input.(*op).after.String()
				}
				if len(s.ops) != tc.sizes[i] || carried != tc.carried[i] {
					t.Errorf("segment %d: %d ops carrying %q, want %d carrying %q", i, len(s.ops), carried, tc.sizes[i], tc.carried[i])
				}
			}
		})
	}
}

// randomHistory runs a random op mix on a sequential store, placing each
// op's window randomly around its linearization point, then with
// probability corrupt changes one response. Windows are sparse enough for
// quiescent points, dense enough for overlaps.
func randomHistory(rng *rand.Rand, corrupt float64) []results.Event {
	return randomHistoryOf(rng, corrupt, false)
}

// randomHistoryOf is randomHistory; with unique, every write writes a
// value of its own (as the fuzz mix does) instead of one of three.
func randomHistoryOf(rng *rand.Rand, corrupt float64, unique bool) []results.Event {
	store := map[string]string{}
	keys := []string{"a", "b"}[:1+rng.IntN(2)]
	vals := []string{"x", "y", "z"}
	value := func(i int) string {
		if unique {
			return fmt.Sprintf("v%d", i)
		}
		return vals[rng.IntN(3)]
	}
	n := 2 + rng.IntN(25)
	var es []results.Event
	for i := 0; i < n; i++ {
		t := int64(i * 10)
		k := keys[rng.IntN(len(keys))]
		old, had := store[k]
		e := results.Event{Client: rng.IntN(4), Call: t - rng.Int64N(25), Return: t + rng.Int64N(25), Outcome: results.OK}
		switch rng.IntN(5) {
		case 0:
			e.Req = impls.Request{Kind: impls.Get, Key: k}
			e.Resp = impls.Response{Found: impls.FoundOf(had), Value: old}
		case 1:
			e.Req = impls.Request{Kind: impls.Put, Key: k, Value: value(i)}
			e.Resp = impls.Response{Found: impls.FoundOf(had)}
			store[k] = e.Req.Value
		case 2:
			e.Req = impls.Request{Kind: impls.Swap, Key: k, Value: value(i)}
			e.Resp = impls.Response{Found: impls.FoundOf(had), Value: old}
			store[k] = e.Req.Value
		case 3:
			e.Req = impls.Request{Kind: impls.Delete, Key: k}
			e.Resp = impls.Response{Found: impls.FoundOf(had)}
			delete(store, k)
		case 4:
			e.Req = impls.Request{Kind: impls.Scan, Key: "a", End: "b"}
			for _, k := range keys {
				if v, ok := store[k]; ok {
					e.Resp.Pairs = append(e.Resp.Pairs, impls.Pair{Key: k, Value: v})
				}
			}
		}
		switch r := rng.Float64(); {
		case r < 0.05:
			e.Outcome = results.Unknown
		case r < 0.08:
			e.Outcome = results.Fail // the store did apply it: a corruption
		}
		es = append(es, e)
	}
	if rng.Float64() < corrupt {
		e := &es[rng.IntN(len(es))]
		e.Resp.Found = impls.Found(rng.IntN(3) - 1)
		e.Resp.Value = vals[rng.IntN(3)]
		if len(e.Resp.Pairs) > 0 {
			e.Resp.Pairs = e.Resp.Pairs[1:]
		}
	}
	return es
}

// TestSplitAgreesWithWholeHistoryCheck compares Check's verdict with
// Porcupine's on the unsplit history, on many random small histories,
// linearizable and not.
func TestSplitAgreesWithWholeHistoryCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	var okN, badN, cut int
	for i := 0; i < n; i++ {
		es := randomHistory(rng, 0.5)
		hist, err := build(es)
		if err != nil {
			t.Fatal(err)
		}
		var all []porcupine.Operation
		for k := range hist.keys {
			p := hist.partition(k)
			all = append(all, p.ops...)
			if len(split(p, 1)) > 1 {
				cut++
			}
		}
		model := newModel(context.Background())
		model.Partition = partitionByKey
		want := results.VerdictViolation
		switch {
		case hist.answered == 0:
			want = results.VerdictUnknown // nothing answered proves nothing
		case porcupine.CheckOperations(model, all):
			want = results.VerdictOK
			okN++
		default:
			badN++
		}
		if r := Check(context.Background(), es, Options{minSegment: 1}); r.Verdict != want {
			t.Fatalf("history %d: Check says %s (%s), whole-history Porcupine says %s\n%+v", i, r.Verdict, r.Detail, want, es)
		}
	}
	t.Logf("%d linearizable, %d not, %d partitions with cuts", okN, badN, cut)
	if okN < n/10 || badN < n/10 || cut < n/10 {
		t.Errorf("poor coverage: %d linearizable, %d not, %d with cuts", okN, badN, cut)
	}
}
