package driver

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
	"github.com/kvbench/kvbench/workload"
)

// histBytes is the memory of a stripe's histograms.
func histBytes(w *stripe) (n int) {
	for _, hs := range [][workload.NumOpTypes]*hdr.Histogram{w.hist, w.raw, w.spareHist, w.spareRaw} {
		for _, h := range hs {
			if h != nil {
				n += h.ByteSize()
			}
		}
	}
	return n
}

// TestStripeHistogramsBounded: a stripe holds histograms only for the op
// types its workers send (live and spare), uncorrected ones only in open
// loop, so the 1 ns floor (221 KB per histogram) costs 2 × 221 KB per op
// type and stripe, not 4 × 7 × 221 KB. Latencies below a microsecond are
// recorded.
func TestStripeHistogramsBounded(t *testing.T) {
	w := &worker{stripe: &stripe{}}
	l := &loop{w: w}
	w.mu.Lock()
	l.observe(workload.Read, 350*time.Nanosecond, 350*time.Nanosecond)
	w.mu.Unlock()
	per := results.HistogramBytes()
	if got := histBytes(w.stripe); got != per {
		t.Errorf("after one closed-loop READ: %d bytes of histograms, want %d", got, per)
	}
	if w.clamped != 0 || w.hist[workload.Read].Min() != 350 {
		t.Errorf("350 ns recorded as min %d (clamped %d)", w.hist[workload.Read].Min(), w.clamped)
	}
	l.period = time.Millisecond // open loop: uncorrected too
	w.mu.Lock()
	l.observe(workload.Update, time.Microsecond, time.Microsecond)
	w.mu.Unlock()
	if got := histBytes(w.stripe); got != 3*per {
		t.Errorf("after an open-loop UPDATE: %d bytes, want %d", got, 3*per)
	}

	// Two workers sharing a stripe, READs and UPDATEs across merges: live +
	// spare per op type, for both workers together.
	res := &Result{Hist: newHists(), Uncorrected: newHists()}
	l.period = 0
	st := &stripe{}
	var sc mergeScratch
	l2 := &loop{w: &worker{stripe: st}}
	l3 := &loop{w: &worker{stripe: st}}
	for tick := 0; tick < 3; tick++ {
		for _, l := range []*loop{l2, l3} {
			l.w.mu.Lock()
			l.observe(workload.Read, time.Microsecond, 0)
			l.observe(workload.Update, time.Microsecond, 0)
			l.w.mu.Unlock()
		}
		if err := merge(res, []*stripe{st}, &sc, Config{}, time.Time{}, time.Time{}, 0, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if got := histBytes(st); got != 4*per {
		t.Errorf("a closed-loop stripe sending 2 op types holds %d bytes of histograms, want %d", got, 4*per)
	}
	if n := res.Hist[workload.Read].TotalCount() + res.Hist[workload.Update].TotalCount(); n != 12 {
		t.Errorf("merged %d ops, want 12", n)
	}
	t.Logf("one histogram: %d bytes; a closed-loop stripe sending 2 op types: %d bytes", per, 4*per)
}

// TestStripesDoNotGrowWithClients: workers share at most 2*GOMAXPROCS
// stripes, so the driver's histogram memory is the same for 16 and 1000
// clients.
func TestStripesDoNotGrowWithClients(t *testing.T) {
	limit := 2 * runtime.GOMAXPROCS(0)
	for _, tc := range []struct{ workers, want int }{
		{0, 1}, {1, 1}, {2, min(2, limit)}, {16, min(16, limit)}, {1000, limit}, {100000, limit},
	} {
		if got := len(stripes(tc.workers)); got != tc.want {
			t.Errorf("stripes(%d) = %d, want %d", tc.workers, got, tc.want)
		}
	}
}

// TestStripedRunCountsEveryOp: 64 workers over shared stripes, every op
// counted once in the result.
func TestStripedRunCountsEveryOp(t *testing.T) {
	const clients, window, ops = 16, 4, 6400
	open := func(context.Context, int) (impls.Client, error) { return nopClient{}, nil }
	res, err := Run(context.Background(), Config{Clients: clients, Window: window, Ops: ops},
		open, func(int) workload.Stream {
			return &cycleStream{ops: []workload.Op{{Type: workload.Read, Req: impls.Request{Kind: impls.Get, Key: "k"}}}}
		})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Ops(); got != ops {
		t.Errorf("%d ops recorded, want %d", got, ops)
	}
}

// TestProgressDoesNotLie: a phase that runs past its ops until Continue
// closes (fuzzing with faults) has no "time left" (its Duration is only a
// cap), and failures and unknown outcomes are counted apart, only growing.
func TestProgressDoesNotLie(t *testing.T) {
	cont := make(chan struct{})
	var ps []Progress
	cfg := Config{Clients: 2, Window: 1, Ops: 200, Duration: 2 * time.Minute, Continue: cont,
		Interval: 10 * time.Millisecond, Progress: func(p Progress) { ps = append(ps, p) }}
	time.AfterFunc(100*time.Millisecond, func() { close(cont) })
	var n atomic.Int64
	open := func(context.Context, int) (impls.Client, error) {
		return failingClient{n: &n}, nil
	}
	streams := func(int) workload.Stream {
		return &cycleStream{ops: []workload.Op{{Type: workload.Read, Req: impls.Request{Kind: impls.Get, Key: "k"}}}}
	}
	res, err := Run(context.Background(), cfg, open, streams)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) < 2 {
		t.Fatalf("%d progress reports", len(ps))
	}
	for i, p := range ps {
		if p.Left != 0 {
			t.Errorf("report %d: %v left of a run whose end is not known", i, p.Left)
		}
		if i > 0 && (p.Errors < ps[i-1].Errors || p.Unknown < ps[i-1].Unknown) {
			t.Errorf("report %d: errors %d unknown %d after %d %d", i, p.Errors, p.Unknown, ps[i-1].Errors, ps[i-1].Unknown)
		}
	}
	last := ps[len(ps)-1]
	if last.Errors != res.Errors[workload.Read] || last.Unknown != res.Unknown[workload.Read] || last.Errors == 0 || last.Unknown == 0 {
		t.Errorf("last report: %d failed %d unknown; result %d %d", last.Errors, last.Unknown, res.Errors[workload.Read], res.Unknown[workload.Read])
	}
}

// failingClient fails every third request definitely and every third with
// an unknown outcome.
type failingClient struct{ n *atomic.Int64 }

func (c failingClient) Do(context.Context, impls.Request) (impls.Response, error) {
	switch c.n.Add(1) % 3 {
	case 0:
		return impls.Response{}, errors.New("refused")
	case 1:
		return impls.Response{}, impls.ErrUnknownOutcome
	}
	return impls.Response{}, nil
}
func (failingClient) Close() error { return nil }
