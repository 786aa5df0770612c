package driver

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
	"github.com/kvbench/kvbench/workload"
)

// pipeClient is a mapClient that also pipelines (impls.Pipeliner): Send
// queues a request, Recv applies the oldest and answers it. Requests for
// the key "sendfail" fail definitely at Send (or Do), for "unknown" come
// back with an unknown outcome, for "hang" never come back (Recv and Do wait
// for ctx). It notes protocol violations: more than window requests
// pending, a Recv with none pending, overlapping calls.
type pipeClient struct {
	mapClient
	window  int
	queue   []impls.Request
	busy    atomic.Bool
	maxSeen int // most requests pending at once
	bad     *violations
}

type violations struct {
	mu   sync.Mutex
	list []string
}

func (v *violations) add(format string, a ...any) {
	v.mu.Lock()
	v.list = append(v.list, fmt.Sprintf(format, a...))
	v.mu.Unlock()
}

var errSendFail = errors.New("refused")

func (c *pipeClient) enter() func() {
	if !c.busy.CompareAndSwap(false, true) {
		c.bad.add("overlapping calls")
	}
	return func() { c.busy.Store(false) }
}

func (c *pipeClient) Send(_ context.Context, req impls.Request) error {
	defer c.enter()()
	if req.Key == "sendfail" {
		return errSendFail
	}
	if len(c.queue) == c.window {
		c.bad.add("Send with %d pending (window %d)", len(c.queue), c.window)
	}
	c.queue = append(c.queue, req)
	c.maxSeen = max(c.maxSeen, len(c.queue))
	return nil
}

func (c *pipeClient) Recv(ctx context.Context) (impls.Response, error) {
	defer c.enter()()
	if len(c.queue) == 0 {
		c.bad.add("Recv with nothing pending")
		return impls.Response{}, errors.New("nothing pending")
	}
	req := c.queue[0]
	c.queue = c.queue[1:]
	return c.answer(ctx, req)
}

// answer applies req, or fails as its key says.
func (c *pipeClient) answer(ctx context.Context, req impls.Request) (impls.Response, error) {
	switch req.Key {
	case "unknown":
		return impls.Response{}, fmt.Errorf("lost: %w", impls.ErrUnknownOutcome)
	case "hang":
		<-ctx.Done()
		return impls.Response{}, ctx.Err()
	}
	return c.mapClient.Do(ctx, req)
}

// Do is the same store without pipelining.
func (c *pipeClient) Do(ctx context.Context, req impls.Request) (impls.Response, error) {
	if req.Key == "sendfail" {
		return impls.Response{}, errSendFail
	}
	return c.answer(ctx, req)
}

// solo hides a client's Pipeliner side: the driver runs a goroutine per
// worker.
type solo struct{ impls.Client }

// ackStream is a cycleStream that counts acknowledgements.
type ackStream struct {
	cycleStream
	acks int
}

func (s *ackStream) Ack(*workload.Op) { s.acks++ }

// pipeRun runs cfg against pipeClients (through Do if hide), worker w
// cycling through ops(w); it returns the result, the clients and the
// streams.
func pipeRun(t *testing.T, ctx context.Context, cfg Config, hide bool, ops func(w int) []workload.Op) (*Result, []*pipeClient, []*ackStream) {
	t.Helper()
	mu, m, bad := &sync.Mutex{}, map[string]string{}, &violations{}
	clients := make([]*pipeClient, cfg.Clients)
	for i := range clients {
		clients[i] = &pipeClient{mapClient: mapClient{mu: mu, m: m}, window: cfg.Window, bad: bad}
	}
	open := func(_ context.Context, id int) (impls.Client, error) {
		if hide {
			return solo{clients[id]}, nil
		}
		return clients[id], nil
	}
	strs := make([]*ackStream, cfg.Clients*cfg.Window)
	streams := func(w int) workload.Stream {
		strs[w] = &ackStream{cycleStream: cycleStream{ops: ops(w)}}
		return strs[w]
	}
	res, err := Run(ctx, cfg, open, streams)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range bad.list {
		t.Error(v)
	}
	return res, clients, strs
}

// mixedOps gives each worker its own key and values (an answer taken for
// another worker's request shows) and the four op types, plus, for
// a few workers, requests that fail at send, come back unknown or hang.
func mixedOps(w int) []workload.Op {
	k := fmt.Sprint("k", w)
	ops := []workload.Op{
		{Type: workload.Insert, Req: impls.Request{Kind: impls.Put, Key: k, Value: fmt.Sprint("v", w)}},
		{Type: workload.Read, Req: impls.Request{Kind: impls.Get, Key: k}},
		{Type: workload.ReadModifyWrite, Req: impls.Request{Kind: impls.Put, Key: k, Value: fmt.Sprint("w", w)}},
		{Type: workload.DeleteOp, Req: impls.Request{Kind: impls.Delete, Key: k}},
	}
	switch w % 4 {
	case 1:
		ops = append(ops, workload.Op{Type: workload.Update, Req: impls.Request{Kind: impls.Put, Key: "sendfail", Value: "x"}})
	case 2:
		ops = append(ops, workload.Op{Type: workload.ReadModifyWrite, Req: impls.Request{Kind: impls.Put, Key: "unknown", Value: "x"}})
	case 3:
		ops = append(ops, workload.Op{Type: workload.Read, Req: impls.Request{Kind: impls.Get, Key: "hang"}})
	}
	return ops
}

// shape is an event without its times: what must not depend on whether
// the driver pipelines.
type shape struct {
	Client  int
	Req     impls.Request
	Resp    impls.Response
	Outcome results.Outcome
	Err     string
}

// shapes lists each worker's events in call order.
func shapes(t *testing.T, res *Result) map[int][]shape {
	t.Helper()
	out := map[int][]shape{}
	for _, e := range res.History.Events() {
		if e.Return < e.Call {
			t.Fatalf("event returns before its call: %+v", e)
		}
		out[e.Client] = append(out[e.Client], shape{e.Client, e.Req, e.Resp, e.Outcome, e.Err})
	}
	return out
}

func TestPipelineRecordsLikeAGoroutinePerWorker(t *testing.T) {
	cfg := Config{Clients: 3, Window: 4, Ops: 1003, Record: true, OpTimeout: 20 * time.Millisecond,
		FailBackoff: time.Millisecond}
	piped, clients, pstr := pipeRun(t, context.Background(), cfg, false, mixedOps)
	solo, _, sstr := pipeRun(t, context.Background(), cfg, true, mixedOps)

	for i, c := range clients {
		if c.maxSeen != cfg.Window {
			t.Errorf("client %d: at most %d requests in flight, want the window (%d)", i, c.maxSeen, cfg.Window)
		}
	}
	for k := range piped.Hist {
		name := workload.OpType(k).String()
		if p, s := piped.Hist[k].TotalCount(), solo.Hist[k].TotalCount(); p != s {
			t.Errorf("%s: %d ok pipelined, %d with a goroutine per worker", name, p, s)
		}
		if piped.Errors[k] != solo.Errors[k] || piped.Unknown[k] != solo.Unknown[k] {
			t.Errorf("%s: errors/unknown %d/%d pipelined, %d/%d with a goroutine per worker",
				name, piped.Errors[k], piped.Unknown[k], solo.Errors[k], solo.Unknown[k])
		}
	}
	if piped.Unknown[workload.ReadModifyWrite] == 0 || piped.Unknown[workload.Read] == 0 ||
		piped.Errors[workload.Update] == 0 || piped.Errors[workload.DeleteOp] == 0 {
		t.Errorf("the failures did not all happen: errors %v unknown %v", piped.Errors, piped.Unknown)
	}
	if !reflect.DeepEqual(shapes(t, piped), shapes(t, solo)) {
		t.Error("the histories differ (beyond times) between pipelined and a goroutine per worker")
	}
	for i := range pstr {
		if pstr[i].acks != sstr[i].acks || pstr[i].acks == 0 {
			t.Errorf("worker %d: %d acks pipelined, %d with a goroutine per worker", i, pstr[i].acks, sstr[i].acks)
		}
	}
	if piped.FirstErr == nil {
		t.Error("no first error")
	}
	// Quotas: 1003 ops over 12 workers, 84 for the first 7 and 83 after.
	var ops int
	for w, evs := range shapes(t, piped) {
		n := 0
		for i := range evs {
			// a read-modify-write is two events, or one if its read failed
			if evs[i].Req.Kind != impls.Put || i == 0 || evs[i-1].Req.Kind != impls.Get || evs[i-1].Outcome != results.OK ||
				evs[i-1].Req.Key != evs[i].Req.Key {
				n++
			}
		}
		if want := 83 + min(1, max(0, 7-w)); n != want {
			t.Errorf("worker %d: %d ops, want %d", w, n, want)
		}
		ops += n
	}
	if ops != 1003 {
		t.Errorf("%d ops, want 1003", ops)
	}
}

func TestPipelineStopsAtDurationAndCancel(t *testing.T) {
	slow := func(int) []workload.Op {
		return []workload.Op{{Type: workload.Read, Req: impls.Request{Kind: impls.Get, Key: "x"}},
			{Type: workload.Read, Req: impls.Request{Kind: impls.Get, Key: "hang"}}}
	}
	cfg := Config{Clients: 2, Window: 3, Duration: 200 * time.Millisecond, OpTimeout: 10 * time.Millisecond, Record: true}
	res, _, _ := pipeRun(t, context.Background(), cfg, false, slow)
	if res.Elapsed < 200*time.Millisecond || res.Elapsed > 3*time.Second {
		t.Errorf("elapsed %v, want about 200ms", res.Elapsed)
	}
	if res.Ops() == 0 || res.Unknown[workload.Read] == 0 {
		t.Errorf("ops %d, unknown %d", res.Ops(), res.Unknown[workload.Read])
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	cfg.Duration, cfg.OpTimeout = 0, 0
	res, _, _ = pipeRun(t, ctx, cfg, false, slow)
	if res.Elapsed > 3*time.Second || res.Ops() == 0 {
		t.Errorf("cancelled run: elapsed %v ops %d", res.Elapsed, res.Ops())
	}
	// Every hanging request ended as unknown when the run was cancelled.
	for _, e := range res.History.Events() {
		if e.Req.Key == "hang" && e.Outcome != results.Unknown {
			t.Errorf("a request cut short by the end of the run: %+v", e)
		}
	}
}

func TestPipelineOpenLoop(t *testing.T) {
	get := func(int) []workload.Op {
		return []workload.Op{{Type: workload.Read, Req: impls.Request{Kind: impls.Get, Key: "x"}}}
	}
	cfg := Config{Clients: 2, Window: 4, Ops: 200, Rate: 2000}
	res, _, _ := pipeRun(t, context.Background(), cfg, false, get)
	if c, r := res.Hist[workload.Read].TotalCount(), res.Uncorrected[workload.Read].TotalCount(); c != 200 || r != 200 {
		t.Fatalf("counts %d/%d, want 200", c, r)
	}
	// 100 per client at 1000/s: the last is due after 99 ms.
	if res.Elapsed < 90*time.Millisecond {
		t.Errorf("elapsed %v: the rate was not kept", res.Elapsed)
	}
}

// nopPipe answers every request at once, in order.
type nopPipe struct{ pending int }

func (p *nopPipe) Do(context.Context, impls.Request) (impls.Response, error) {
	return impls.Response{}, nil
}
func (p *nopPipe) Close() error { return nil }
func (p *nopPipe) Send(context.Context, impls.Request) error {
	p.pending++
	return nil
}
func (p *nopPipe) Recv(context.Context) (impls.Response, error) {
	p.pending--
	return impls.Response{Found: impls.Present, Value: "1"}, nil
}

// BenchmarkPipelinePerOp is BenchmarkDriverPerOp for a pipelined client:
// the driver's own cost per operation with a window of 8.
func BenchmarkPipelinePerOp(b *testing.B) {
	for _, clients := range []int{1, 2} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			open := func(context.Context, int) (impls.Client, error) { return &nopPipe{}, nil }
			streams := func(int) workload.Stream {
				return &cycleStream{ops: []workload.Op{{Type: workload.Read, Req: impls.Request{Kind: impls.Get, Key: "user1"}}}}
			}
			b.ReportAllocs()
			b.ResetTimer()
			res, err := Run(context.Background(), Config{Clients: clients, Window: 8, Ops: int64(b.N)}, open, streams)
			if err != nil {
				b.Fatal(err)
			}
			if res.Ops() != int64(b.N) {
				b.Fatalf("ops %d, want %d", res.Ops(), b.N)
			}
		})
	}
}
