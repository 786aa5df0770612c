package checker

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/anishathalye/porcupine"
)

// TestFastAgreesWithPorcupine: on many random small histories the fast
// search proves exactly the linearizable ones (Porcupine decides), so it
// is sound (never ok for a violation) and, here, complete.
func TestFastAgreesWithPorcupine(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 13))
	n := 20000
	if testing.Short() {
		n = 3000
	}
	var proved int
	for i := 0; i < n; i++ {
		es := randomHistory(rng, 0.5)
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
