package driver

import (
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/kvbench/kvbench/results"
	"github.com/kvbench/kvbench/workload"
)

// histBytes is the memory of a worker's histograms.
func histBytes(w *worker) (n int) {
	for _, hs := range [][workload.NumOpTypes]*hdr.Histogram{w.hist, w.raw, w.spareHist, w.spareRaw} {
		for _, h := range hs {
			if h != nil {
				n += h.ByteSize()
			}
		}
	}
	return n
}

// TestWorkerHistogramsBounded: a worker holds histograms only for the op
// types it sends (live and spare), uncorrected ones only in open loop, so
// the 1 ns floor (221 KB per histogram) costs 2 × 221 KB per op type and
// worker, not 4 × 7 × 221 KB. Latencies below a microsecond are recorded.
func TestWorkerHistogramsBounded(t *testing.T) {
	w := &worker{}
	l := &loop{w: w}
	w.mu.Lock()
	l.observe(workload.Read, 350*time.Nanosecond, 350*time.Nanosecond)
	w.mu.Unlock()
	per := results.HistogramBytes()
	if got := histBytes(w); got != per {
		t.Errorf("after one closed-loop READ: %d bytes of histograms, want %d", got, per)
	}
	if w.clamped != 0 || w.hist[workload.Read].Min() != 350 {
		t.Errorf("350 ns recorded as min %d (clamped %d)", w.hist[workload.Read].Min(), w.clamped)
	}
	l.period = time.Millisecond // open loop: uncorrected too
	w.mu.Lock()
	l.observe(workload.Update, time.Microsecond, time.Microsecond)
	w.mu.Unlock()
	if got := histBytes(w); got != 3*per {
		t.Errorf("after an open-loop UPDATE: %d bytes, want %d", got, 3*per)
	}

	// READs and UPDATEs across merges: live + spare per op type.
	res := &Result{Hist: newHists(), Uncorrected: newHists()}
	l.period = 0
	w2 := &worker{}
	l2 := &loop{w: w2}
	for tick := 0; tick < 3; tick++ {
		w2.mu.Lock()
		l2.observe(workload.Read, time.Microsecond, 0)
		l2.observe(workload.Update, time.Microsecond, 0)
		w2.mu.Unlock()
		if err := merge(res, []*worker{w2}, Config{}, time.Time{}, time.Time{}, 0, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if got := histBytes(w2); got != 4*per {
		t.Errorf("a closed-loop worker sending 2 op types holds %d bytes of histograms, want %d", got, 4*per)
	}
	if n := res.Hist[workload.Read].TotalCount() + res.Hist[workload.Update].TotalCount(); n != 6 {
		t.Errorf("merged %d ops, want 6", n)
	}
	t.Logf("one histogram: %d bytes; a closed-loop worker sending 2 op types: %d bytes", per, 4*per)
}
