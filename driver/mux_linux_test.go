package driver

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/memkv"
	"github.com/kvbench/kvbench/results"
	"github.com/kvbench/kvbench/workload"
)

func dialer(addr string) OpenClient {
	return func(ctx context.Context, id int) (impls.Client, error) { return memkv.Dial(ctx, addr, 1) }
}

// withMux runs f with the event loops allowed to record (muxRecord) and
// reports how many loops f started.
func withMux(t *testing.T, f func()) int64 {
	t.Helper()
	muxRecord = true
	defer func() { muxRecord = false }()
	before := muxStarted.Load()
	f()
	return muxStarted.Load() - before
}

// workerOps is a worker's own cycle over its own keys: every kind the
// loops send with Begin, a read-modify-write, and a Swap (which goes
// through Do on the loop).
func workerOps(w int) workload.Stream {
	k, k2 := fmt.Sprint("k", w), fmt.Sprint("j", w)
	return &cycleStream{ops: []workload.Op{
		{Type: workload.Read, Req: impls.Request{Kind: impls.Get, Key: k}},
		{Type: workload.Insert, Req: impls.Request{Kind: impls.Put, Key: k, Value: "a" + k}},
		{Type: workload.Read, Req: impls.Request{Kind: impls.Get, Key: k}},
		{Type: workload.ReadModifyWrite, Req: impls.Request{Kind: impls.Put, Key: k, Value: "b" + k}},
		{Type: workload.Update, Req: impls.Request{Kind: impls.Swap, Key: k2, Value: "c" + k}},
		{Type: workload.Update, Req: impls.Request{Kind: impls.Swap, Key: k2, Value: "d" + k}},
		{Type: workload.Read, Req: impls.Request{Kind: impls.Get, Key: k}},
		{Type: workload.DeleteOp, Req: impls.Request{Kind: impls.Delete, Key: k}},
		{Type: workload.DeleteOp, Req: impls.Request{Kind: impls.Delete, Key: k2}},
	}}
}

// perClient is a history without times: each client's requests, answers
// and outcomes in order.
func perClient(h *results.History) map[int][]string {
	out := map[int][]string{}
	for _, e := range h.Events() {
		out[e.Client] = append(out[e.Client], fmt.Sprintf("%+v -> %+v %v %s", e.Req, e.Resp, e.Outcome, e.Err))
	}
	return out
}

// TestMuxRecordsWhatGoroutinesRecord: the event loops send the same
// requests and record the same answers, op counts and per-type
// histograms as a goroutine per client.
func TestMuxRecordsWhatGoroutinesRecord(t *testing.T) {
	addr := startMemkv(t)
	cfg := Config{Clients: 7, Window: 1, Ops: 7 * 45, Record: true}
	ref, err := Run(context.Background(), cfg, dialer(addr), workerOps)
	if err != nil {
		t.Fatal(err)
	}
	var res *Result
	if n := withMux(t, func() { res, err = Run(context.Background(), cfg, dialer(addr), workerOps) }); n == 0 {
		t.Fatal("the event loops did not run")
	}
	if err != nil {
		t.Fatal(err)
	}
	want, got := perClient(ref.History), perClient(res.History)
	if len(got) != 7 || len(want) != 7 {
		t.Fatalf("%d and %d clients recorded, want 7", len(got), len(want))
	}
	for c := range want {
		if len(got[c]) != len(want[c]) {
			t.Fatalf("client %d: %d events, goroutines recorded %d", c, len(got[c]), len(want[c]))
		}
		for i := range want[c] {
			if got[c][i] != want[c][i] {
				t.Fatalf("client %d event %d:\n got  %s\n want %s", c, i, got[c][i], want[c][i])
			}
		}
	}
	for k := range ref.Hist {
		if a, b := ref.Hist[k].TotalCount(), res.Hist[k].TotalCount(); a != b {
			t.Errorf("%s: %d ops, goroutines %d", workload.OpType(k), b, a)
		}
		if ref.Errors[k] != 0 || res.Errors[k] != 0 || ref.Unknown[k] != 0 || res.Unknown[k] != 0 {
			t.Errorf("%s: errors %d/%d unknown %d/%d", workload.OpType(k), res.Errors[k], ref.Errors[k], res.Unknown[k], ref.Unknown[k])
		}
	}
	for _, e := range res.History.Events() {
		if e.Return < e.Call {
			t.Fatalf("event returns before its call: %+v", e)
		}
	}
}

// TestMuxOnlyForBenchmarks: the event loops never run a recorded, paced,
// timed-out or fault-tolerant phase unless a test asks.
func TestMuxOnlyForBenchmarks(t *testing.T) {
	addr := startMemkv(t)
	for _, cfg := range []Config{
		{Clients: 3, Window: 1, Ops: 30, Record: true},
		{Clients: 3, Window: 1, Ops: 30, OpTimeout: time.Second},
		{Clients: 3, Window: 1, Ops: 30, FailBackoff: time.Millisecond},
		{Clients: 3, Window: 1, Ops: 30, Rate: 1e5},
		{Clients: 1, Window: 1, Ops: 30},
		{Clients: 3, Window: 2, Ops: 30},
	} {
		before := muxStarted.Load()
		if _, err := Run(context.Background(), cfg, dialer(addr), workerOps); err != nil {
			t.Fatal(err)
		}
		if muxStarted.Load() != before {
			t.Errorf("%+v ran on the event loops", cfg)
		}
	}
	before := muxStarted.Load()
	if _, err := Run(context.Background(), Config{Clients: 3, Window: 1, Ops: 30}, dialer(addr), workerOps); err != nil {
		t.Fatal(err)
	}
	if muxStarted.Load() == before {
		t.Error("a plain closed-loop -w 1 phase did not run on the event loops")
	}
}

// lineServer answers each request line with answer(n, line), n counting
// connections from 1; it hangs up when answer returns "".
func lineServer(t *testing.T, answer func(n int, line string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	conns := 0
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns++
			n := conns
			mu.Unlock()
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if strings.HasPrefix(line, "set ") {
						if _, err := br.ReadString('\n'); err != nil {
							return
						}
					}
					a := answer(n, line)
					if a == "" {
						return
					}
					if _, err := nc.Write([]byte(a)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestMuxHangUpMidRequest: a server that takes each request and hangs up
// without answering leaves every request's outcome unknown, as with a
// goroutine per client, and the loops go on with fresh connections.
func TestMuxHangUpMidRequest(t *testing.T) {
	addr := lineServer(t, func(int, string) string { return "" })
	cfg := Config{Clients: 4, Window: 1, Ops: 40, Record: true}
	var res *Result
	var err error
	if n := withMux(t, func() { res, err = Run(context.Background(), cfg, dialer(addr), workerOps) }); n == 0 {
		t.Fatal("the event loops did not run")
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops() != 0 {
		t.Errorf("%d ops succeeded against a server that never answers", res.Ops())
	}
	for _, e := range res.History.Events() {
		// A Swap's read step failing is definite (nothing written);
		// everything else was sent and never answered.
		if e.Req.Kind != impls.Swap && e.Outcome != results.Unknown {
			t.Errorf("%+v: outcome %v, want unknown", e.Req, e.Outcome)
		}
	}
	if len(res.History.Events()) < 40 {
		t.Errorf("%d events, want at least 40", len(res.History.Events()))
	}
}

// TestMuxReconnectsNeverCrossAnswers: connections that the server closes
// after a few answers are replaced again and again, so descriptors are
// reused across clients of one loop; every answer a client takes must be
// its own (the server answers a get with the key as the value).
func TestMuxReconnectsNeverCrossAnswers(t *testing.T) {
	var mu sync.Mutex
	served := map[int]int{}
	addr := lineServer(t, func(n int, line string) string {
		mu.Lock()
		served[n]++
		k := served[n]
		mu.Unlock()
		if k > 3 {
			return "" // hang up on the fourth request
		}
		f := strings.Fields(line)
		if f[0] == "get" {
			return fmt.Sprintf("VALUE %s 0 %d\r\n%s\r\nEND\r\n", f[1], len(f[1]), f[1])
		}
		return "STORED\r\n"
	})
	streams := func(w int) workload.Stream {
		k := fmt.Sprint("key", w)
		return &cycleStream{ops: []workload.Op{
			{Type: workload.Read, Req: impls.Request{Kind: impls.Get, Key: k}},
			{Type: workload.Update, Req: impls.Request{Kind: impls.Put, Key: k, Value: "v"}},
		}}
	}
	cfg := Config{Clients: 9, Window: 1, Ops: 9 * 60, Record: true}
	var res *Result
	var err error
	if n := withMux(t, func() { res, err = Run(context.Background(), cfg, dialer(addr), streams) }); n == 0 {
		t.Fatal("the event loops did not run")
	}
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for _, e := range res.History.Events() {
		if e.Outcome != results.OK {
			continue
		}
		ok++
		if e.Req.Kind == impls.Get && (e.Resp.Found != impls.Present || e.Resp.Value != e.Req.Key) {
			t.Fatalf("client %d: get %q answered %+v", e.Client, e.Req.Key, e.Resp)
		}
		if want := fmt.Sprint("key", e.Client); e.Req.Key != want {
			t.Fatalf("client %d sent %q, want %q", e.Client, e.Req.Key, want)
		}
	}
	if ok < 9*60/4 {
		t.Errorf("only %d of %d requests succeeded", ok, 9*60)
	}
}

// TestMuxCancel: cancelling the run while every request waits on a server
// that never answers ends the phase; the requests in flight are unknown.
func TestMuxCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once every client's request has arrived: all 5 are in flight.
	var arrived atomic.Int32
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				if _, err := br.Peek(1); err == nil && arrived.Add(1) == 5 {
					cancel()
				}
				br.WriteTo(discard{})
			}()
		}
	}()
	var res *Result
	if n := withMux(t, func() {
		res, err = Run(ctx, Config{Clients: 5, Window: 1, Record: true}, dialer(ln.Addr().String()), workerOps)
	}); n == 0 {
		t.Fatal("the event loops did not run")
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(res.History.Events()) != 5 {
		t.Fatalf("%d events, want the 5 requests in flight", len(res.History.Events()))
	}
	for _, e := range res.History.Events() {
		if e.Outcome != results.Unknown {
			t.Errorf("%+v: outcome %v, want unknown", e.Req, e.Outcome)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
