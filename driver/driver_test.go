package driver

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
	"github.com/kvbench/kvbench/workload"
)

// mapClient is a linearizable in-memory store (one mutex).
type mapClient struct {
	mu    *sync.Mutex
	m     map[string]string
	delay time.Duration
	fail  func(impls.Request) error
}

func (c *mapClient) Do(ctx context.Context, req impls.Request) (impls.Response, error) {
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	if c.fail != nil {
		if err := c.fail(req); err != nil {
			return impls.Response{}, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.m[req.Key]
	switch req.Kind {
	case impls.Get:
		return impls.Response{Found: impls.FoundOf(ok), Value: old}, nil
	case impls.Put:
		c.m[req.Key] = req.Value
		return impls.Response{Found: impls.FoundOf(ok)}, nil
	default:
		return impls.Response{}, impls.ErrUnsupported
	}
}
func (c *mapClient) Close() error { return nil }

type cycleStream struct {
	ops []workload.Op
	i   int
}

func (s *cycleStream) Next(op *workload.Op) bool {
	*op = s.ops[s.i%len(s.ops)]
	s.i++
	return true
}

func TestRunCountsOpsPerTypeAndWorker(t *testing.T) {
	mu, m := &sync.Mutex{}, map[string]string{}
	open := func(ctx context.Context, id int) (impls.Client, error) { return &mapClient{mu: mu, m: m}, nil }
	streams := func(w int) workload.Stream {
		k := fmt.Sprint("k", w)
		return &cycleStream{ops: []workload.Op{
			{Type: workload.Insert, Req: impls.Request{Kind: impls.Put, Key: k, Value: "v"}},
			{Type: workload.Read, Req: impls.Request{Kind: impls.Get, Key: k}},
			{Type: workload.ReadModifyWrite, Req: impls.Request{Kind: impls.Put, Key: k, Value: "w"}},
			{Type: workload.DeleteOp, Req: impls.Request{Kind: impls.Delete, Key: k}},
		}}
	}
	res, err := Run(context.Background(), Config{Clients: 3, Window: 2, Ops: 1003, Record: true}, open, streams)
	if err != nil {
		t.Fatal(err)
	}
	// 6 workers: quotas 168,167,167,167,167,167 -> per worker ops cycle through 4 types.
	var inserts, reads, rmws, deletes int64
	for w := 0; w < 6; w++ {
		q := int64(1003 / 6)
		if w < 1003%6 {
			q++
		}
		for i := int64(0); i < q; i++ {
			switch i % 4 {
			case 0:
				inserts++
			case 1:
				reads++
			case 2:
				rmws++
			case 3:
				deletes++
			}
		}
	}
	check := func(name string, got, want int64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	check("INSERT", res.Hist[workload.Insert].TotalCount(), inserts)
	check("READ", res.Hist[workload.Read].TotalCount(), reads+rmws) // RMW's Get counts as READ too
	check("UPDATE", res.Hist[workload.Update].TotalCount(), rmws)
	check("READ-MODIFY-WRITE", res.Hist[workload.ReadModifyWrite].TotalCount(), rmws)
	check("DELETE errors", res.Errors[workload.DeleteOp], deletes)
	events := res.History.Events()
	check("events", int64(len(events)), inserts+reads+2*rmws+deletes)
	for i := 1; i < len(events); i++ {
		if events[i].Call < events[i-1].Call {
			t.Fatal("events not sorted by call time")
		}
	}
	var failed int
	for _, e := range events {
		if e.Return < e.Call {
			t.Fatalf("event returns before its call: %+v", e)
		}
		if e.Outcome == results.Fail {
			failed++
			if e.Req.Kind != impls.Delete || e.Err == "" {
				t.Fatalf("failed event without error text: %+v", e)
			}
		}
	}
	check("failed events", int64(failed), deletes)
}

func TestRunStopsAtDurationAndCancel(t *testing.T) {
	mu, m := &sync.Mutex{}, map[string]string{}
	open := func(ctx context.Context, id int) (impls.Client, error) {
		return &mapClient{mu: mu, m: m, delay: 100 * time.Microsecond}, nil
	}
	streams := func(int) workload.Stream {
		return &cycleStream{ops: []workload.Op{{Type: workload.Read, Req: impls.Request{Kind: impls.Get, Key: "x"}}}}
	}
	var ticks atomic.Int32
	cfg := Config{Clients: 2, Window: 1, Duration: 300 * time.Millisecond, Interval: 50 * time.Millisecond,
		Progress: func(Progress) { ticks.Add(1) }}
	res, err := Run(context.Background(), cfg, open, streams)
	if err != nil {
		t.Fatal(err)
	}
	if res.Elapsed < 300*time.Millisecond || res.Elapsed > 3*time.Second {
		t.Errorf("elapsed %v, want about 300ms", res.Elapsed)
	}
	if res.Ops() == 0 || ticks.Load() < 2 {
		t.Errorf("ops %d, progress ticks %d", res.Ops(), ticks.Load())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	cfg.Duration = 0
	res, err = Run(ctx, cfg, open, streams)
	if err != nil {
		t.Fatalf("cancellation is not an error: %v", err)
	}
	if res.Elapsed > 3*time.Second || res.Ops() == 0 {
		t.Errorf("cancelled run: elapsed %v ops %d", res.Elapsed, res.Ops())
	}
}

func TestOpenLoopCorrectsForCoordinatedOmission(t *testing.T) {
	// The store stalls for 200ms once; a closed loop would record one slow op,
	// the open loop records every op that was due during the stall as late.
	var calls atomic.Int64
	mu, m := &sync.Mutex{}, map[string]string{}
	c := &mapClient{mu: mu, m: m, fail: func(impls.Request) error {
		if calls.Add(1) == 10 {
			time.Sleep(200 * time.Millisecond)
		}
		return nil
	}}
	open := func(context.Context, int) (impls.Client, error) { return c, nil }
	streams := func(int) workload.Stream {
		return &cycleStream{ops: []workload.Op{{Type: workload.Read, Req: impls.Request{Kind: impls.Get, Key: "x"}}}}
	}
	res, err := Run(context.Background(), Config{Clients: 1, Window: 1, Ops: 200, Rate: 500}, open, streams)
	if err != nil {
		t.Fatal(err)
	}
	corr, raw := res.Hist[workload.Read], res.Uncorrected[workload.Read]
	if corr.TotalCount() != 200 || raw.TotalCount() != 200 {
		t.Fatalf("counts %d/%d, want 200", corr.TotalCount(), raw.TotalCount())
	}
	// At 500/s (2ms apart) about 100 ops were due during the 200ms stall.
	slowCorr := corr.TotalCount() - countBelow(corr, 50*time.Millisecond)
	slowRaw := raw.TotalCount() - countBelow(raw, 50*time.Millisecond)
	if slowRaw > 2 {
		t.Errorf("uncorrected: %d ops over 50ms, want 1", slowRaw)
	}
	if slowCorr < 50 {
		t.Errorf("corrected: %d ops over 50ms, want about 75 (those due during the stall)", slowCorr)
	}
}

func countBelow(h *hdr.Histogram, d time.Duration) (n int64) {
	for _, b := range h.Distribution() {
		if b.To < int64(d) {
			n += b.Count
		}
	}
	return n
}
