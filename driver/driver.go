package driver

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
	"github.com/kvbench/kvbench/workload"
)

// Config configures one measured phase.
type Config struct {
	// Clients is -n; Window is -w. The driver runs Clients*Window workers
	// (goroutines, or the slots of one goroutine per pipelining client:
	// see pipeline.go); the Window workers of one client share its Client.
	Clients, Window int
	// Ops bounds the total number of operations (split evenly among
	// workers, as YCSB splits operationcount among threads); 0 = unbounded.
	Ops int64
	// Duration bounds the phase's wall time; 0 = unbounded.
	Duration time.Duration
	// Continue, when set, keeps workers that have finished their share of
	// Ops going until it is closed (fuzzing with faults runs until enough
	// faults have happened).
	Continue <-chan struct{}
	// Rate is the target total throughput in ops/s for an open loop; 0 runs
	// a closed loop.
	Rate float64
	// OpTimeout bounds each request; 0 leaves it to ctx and the adapter.
	// A timed-out request has an unknown outcome.
	OpTimeout time.Duration
	// FailBackoff is how long a worker waits after a failed or unknown
	// request before its next one; 0 = none (benchmarks count failures and
	// move on).
	FailBackoff time.Duration
	// Record keeps every operation as a history event.
	Record bool
	// Interval is the histogram merge and progress period (default 1 s).
	Interval time.Duration
	// Hlog receives one interval histogram per op type per Interval.
	Hlog *results.HlogWriter
	// Progress is called from the merging goroutine once per Interval.
	Progress func(Progress)
	// Epoch is the zero of history timestamps and hlog intervals; zero
	// means the driver's start.
	Epoch time.Time
}

// Progress is a snapshot of a running phase.
type Progress struct {
	Elapsed time.Duration
	Done    int64 // operations finished so far
	Total   int64 // Config.Ops, 0 if unbounded
	// Left is the time left of a phase bounded by Duration alone; 0 when
	// the end is not known in time (an Ops bound, or Continue, where
	// Duration is only a cap).
	Left      time.Duration
	OpsPerSec float64 // over the last interval
	P99       time.Duration
	// Errors counts definite failures so far, Unknown operations with an
	// unknown outcome; both only grow, and end at the Result's totals.
	Errors  int64
	Unknown int64
}

// OpenClient opens client number id; the driver calls it once per client
// and again to replace a client after an unknown outcome (window 1 only).
type OpenClient func(ctx context.Context, id int) (impls.Client, error)

// Result is what a measured phase produced.
type Result struct {
	Elapsed time.Duration
	// Hist holds the corrected latency of successful ops per op type;
	// Uncorrected the latency from the actual send (open loop only).
	Hist        [workload.NumOpTypes]*hdr.Histogram
	Uncorrected [workload.NumOpTypes]*hdr.Histogram
	Errors      [workload.NumOpTypes]int64
	Unknown     [workload.NumOpTypes]int64
	Clamped     int64
	// History is the recorded history when Record was set (else nil);
	// History.Events lists it sorted by call time.
	History *results.History
	// FirstErr is the first store error seen, to explain error counts.
	FirstErr error
}

// Ops returns the number of successful operations.
func (r *Result) Ops() (n int64) {
	for _, h := range r.Hist {
		n += h.TotalCount()
	}
	return n
}

// worker is one load goroutine. Its latencies and counters go to its
// stripe, which a few workers share (see stripes): per-worker histograms
// (221 KB each at the 1 ns floor) made kvbench grow by megabytes per client.
type worker struct {
	*stripe
	id, client int
	stream     workload.Stream
	acker      workload.Acker
	quota      int64 // 0 = unbounded

	// rec (the worker's recorded history) and firstErr are its own.
	rec      *results.Recorder
	firstErr error
}

// stripe holds the interval histograms and counters of the workers that
// share it; they write them under mu (held for a histogram record, tens of
// nanoseconds) and the merger swaps them out under mu.
type stripe struct {
	mu   sync.Mutex
	hist [workload.NumOpTypes]*hdr.Histogram
	raw  [workload.NumOpTypes]*hdr.Histogram
	// spareHist and spareRaw are owned by the merger: it swaps them with
	// hist and raw under mu, then merges and resets them outside it.
	spareHist, spareRaw [workload.NumOpTypes]*hdr.Histogram
	errs                [workload.NumOpTypes]int64
	unknown             [workload.NumOpTypes]int64
	clamped             int64
	done                int64
	_                   [64]byte // keep stripes' locks on separate lines
}

// stripes returns the stripes for nw workers: one per worker up to
// 2*GOMAXPROCS, so that workers running at the same time rarely meet on a
// lock, and memory stays a few MB whatever the number of clients.
func stripes(nw int) []*stripe {
	s := make([]*stripe, max(1, min(nw, 2*runtime.GOMAXPROCS(0))))
	for i := range s {
		s[i] = &stripe{}
	}
	return s
}

func newHists() (h [workload.NumOpTypes]*hdr.Histogram) {
	for i := range h {
		h[i] = results.NewHistogram()
	}
	return h
}

// Run executes one measured phase: Clients*Window workers drawing from
// streams(worker) and sending through clients opened with open. It returns
// when every stream or quota is exhausted, Duration has passed, or ctx is
// cancelled (cancellation is not an error: the result covers what ran).
func Run(ctx context.Context, cfg Config, open OpenClient, streams func(worker int) workload.Stream) (*Result, error) {
	if cfg.Clients < 1 || cfg.Window < 1 {
		return nil, fmt.Errorf("need at least one client and a window of one (got -n %d -w %d)", cfg.Clients, cfg.Window)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	nw := cfg.Clients * cfg.Window
	clients := make([]impls.Client, cfg.Clients)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range clients {
		c, err := open(ctx, i)
		if err != nil {
			return nil, fmt.Errorf("open client %d: %w", i, err)
		}
		clients[i] = c
	}
	workers := make([]*worker, nw)
	strs := stripes(nw)
	pipes := pipeliners(cfg, clients)
	for i := range workers {
		stripe := strs[i%len(strs)]
		if pipes != nil {
			// A client's workers run on its pipeline's goroutine: one
			// stripe for all of them, none shared with another
			// client's while there are enough (at -n 2 -w 8 the two
			// goroutines locking the same stripes was 7% of the CPU).
			stripe = strs[i/cfg.Window%len(strs)]
		}
		w := &worker{stripe: stripe, id: i, client: i / cfg.Window, stream: streams(i)}
		w.acker, _ = w.stream.(workload.Acker)
		if cfg.Ops > 0 {
			w.quota = cfg.Ops / int64(nw)
			if int64(i) < cfg.Ops%int64(nw) {
				w.quota++
			}
			if w.quota == 0 {
				continue // more workers than ops
			}
		}
		// The histograms are allocated on a stripe's first op of each
		// type (observe), so a stripe holds two (live and spare) per op
		// type sent, plus two for uncorrected latency in open loop.
		workers[i] = w
	}

	start := time.Now()
	epoch := cfg.Epoch
	if epoch.IsZero() {
		epoch = start
	}
	var stop atomic.Bool
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Duration > 0 {
		t := time.AfterFunc(cfg.Duration, func() { stop.Store(true) })
		defer t.Stop()
	}
	go func() { <-runCtx.Done(); stop.Store(true) }()

	var wg sync.WaitGroup
	var period time.Duration
	if cfg.Rate > 0 {
		period = time.Duration(float64(time.Second) * float64(nw) / cfg.Rate)
	}
	// With -w > 1 and clients that pipeline, one goroutine per client
	// (driver/pipeline.go); otherwise one per worker.
	proto := loop{cfg: cfg, epoch: epoch, start: start, period: period, stop: &stop}
	pipelined := pipes != nil
	if pipelined {
		startPipelines(runCtx, &wg, proto, workers, pipes)
	}
	// With -w 1 and clients an event loop can drive, a few event loops
	// (mux_linux.go) instead of a goroutine per client.
	muxed := !pipelined && startMux(runCtx, &wg, proto, workers, clients, open)
	for _, w := range workers {
		if w == nil || pipelined || muxed {
			continue
		}
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			l := proto
			l.bind(runCtx, w, clients, open)
			l.run(runCtx)
		}(w)
	}

	res := &Result{Hist: newHists(), Uncorrected: newHists()}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	last := time.Duration(0)
	var sc mergeScratch
	for running := true; running; {
		select {
		case <-finished:
			running = false
		case <-tick.C:
		}
		now := time.Since(start)
		if err := merge(res, strs, &sc, cfg, epoch, start, last, now); err != nil {
			stop.Store(true)
			<-finished
			return nil, err
		}
		last = now
	}
	res.Elapsed = time.Since(start)
	if cfg.Record {
		res.History = history(workers)
	}
	for _, w := range workers {
		if w != nil && w.firstErr != nil && res.FirstErr == nil {
			res.FirstErr = w.firstErr
		}
	}
	return res, nil
}

// mergeScratch holds merge's histograms from one interval to the next
// (allocated on first use, reset after each), so that merging allocates
// nothing per interval.
type mergeScratch struct {
	interval, raw [workload.NumOpTypes]*hdr.Histogram
	all           *hdr.Histogram
}

// hist returns *h, allocated if need be.
func (sc *mergeScratch) hist(h **hdr.Histogram) *hdr.Histogram {
	if *h == nil {
		*h = results.NewHistogram()
	}
	return *h
}

// reset empties what merge filled.
func (sc *mergeScratch) reset() {
	for _, h := range sc.interval {
		if h != nil && h.TotalCount() > 0 {
			h.Reset()
		}
	}
	for _, h := range sc.raw {
		if h != nil && h.TotalCount() > 0 {
			h.Reset()
		}
	}
	if sc.all != nil && sc.all.TotalCount() > 0 {
		sc.all.Reset()
	}
}

// merge swaps every stripe's interval histograms out, logs them per op type
// and adds them to the totals. sc is its scratch space.
func merge(res *Result, strs []*stripe, sc *mergeScratch, cfg Config, epoch, start time.Time, from, to time.Duration) error {
	defer sc.reset()
	var interval, raw [workload.NumOpTypes]*hdr.Histogram
	var done, errs int64
	for _, w := range strs {
		w.mu.Lock()
		w.hist, w.spareHist = w.spareHist, w.hist
		w.raw, w.spareRaw = w.spareRaw, w.raw
		for k := range w.errs {
			res.Errors[k] += w.errs[k]
			res.Unknown[k] += w.unknown[k]
			errs += w.errs[k] + w.unknown[k]
			w.errs[k], w.unknown[k] = 0, 0
		}
		res.Clamped += w.clamped
		w.clamped = 0
		done += w.done
		w.mu.Unlock()
		for k := range w.spareHist {
			if h := w.spareHist[k]; h != nil && h.TotalCount() > 0 {
				interval[k] = sc.hist(&sc.interval[k])
				interval[k].Merge(h)
				h.Reset()
			}
			if h := w.spareRaw[k]; h != nil && h.TotalCount() > 0 {
				raw[k] = sc.hist(&sc.raw[k])
				raw[k].Merge(h)
				h.Reset()
			}
		}
	}
	var ops int64
	all := sc.hist(&sc.all)
	off := start.Sub(epoch)
	for k := range interval {
		if interval[k] == nil || interval[k].TotalCount() == 0 {
			continue
		}
		ops += interval[k].TotalCount()
		all.Merge(interval[k])
		res.Hist[k].Merge(interval[k])
		if cfg.Hlog != nil {
			name := workload.OpType(k).String()
			if err := cfg.Hlog.Write(name, off+from, off+to, interval[k]); err != nil {
				return fmt.Errorf("write latency log: %w", err)
			}
		}
		if cfg.Rate > 0 {
			if raw[k] == nil { // cannot happen: observe records both
				raw[k] = sc.hist(&sc.raw[k])
			}
			res.Uncorrected[k].Merge(raw[k])
			if cfg.Hlog != nil {
				name := results.UncorrectedTag(workload.OpType(k).String())
				if err := cfg.Hlog.Write(name, off+from, off+to, raw[k]); err != nil {
					return fmt.Errorf("write latency log: %w", err)
				}
			}
		}
	}
	if cfg.Progress != nil {
		p := Progress{Elapsed: to, Done: done, Total: cfg.Ops, P99: time.Duration(all.ValueAtQuantile(99))}
		if cfg.Continue != nil {
			p.Total = 0 // runs past Ops until Continue closes
		}
		for k := range res.Errors {
			p.Errors += res.Errors[k]
			p.Unknown += res.Unknown[k]
		}
		if secs := (to - from).Seconds(); secs > 0 {
			p.OpsPerSec = float64(ops) / secs
		}
		if cfg.Duration > 0 && cfg.Duration > to && cfg.Ops == 0 && cfg.Continue == nil {
			p.Left = cfg.Duration - to
		}
		cfg.Progress(p)
	}
	return nil
}

// loop is one worker's request loop.
type loop struct {
	cfg          Config
	w            *worker
	epoch, start time.Time
	period       time.Duration // open loop: time between a worker's intended starts
	stop         *atomic.Bool
	client       func() impls.Client
	reopen       func()
	timer        *time.Timer // sleep's, created on first use
}

// bind makes l worker w's loop, sending through clients[w.client]. Only
// with window 1 does a client belong to one worker, so only then may the
// worker replace it without a lock. A client that saw an unknown outcome
// is dropped and reopened before the next request; while that fails (the
// server is down), requests fail definitely with the open error.
func (l *loop) bind(ctx context.Context, w *worker, clients []impls.Client, open OpenClient) {
	l.w = w
	l.client = func() impls.Client {
		if clients[w.client] == nil {
			c, err := open(ctx, w.client)
			if err != nil {
				return brokenClient{err}
			}
			clients[w.client] = c
		}
		return clients[w.client]
	}
	l.reopen = func() {
		if l.cfg.Window == 1 && clients[w.client] != nil {
			clients[w.client].Close()
			clients[w.client] = nil
		}
	}
}

func (l *loop) run(ctx context.Context) {
	w := l.w
	var op workload.Op
	var n int64
	for !l.stop.Load() && (w.quota == 0 || n < w.quota || l.keepGoing()) && w.stream.Next(&op) {
		var intended time.Time
		if l.period > 0 {
			intended = l.start.Add(time.Duration(n) * l.period)
			if d := time.Until(intended); d > 0 && !l.sleep(ctx, d) {
				return
			}
		}
		t0 := l.now()
		if intended.IsZero() {
			intended = t0
		}
		var err error
		if op.Type == workload.ReadModifyWrite {
			err = l.rmw(ctx, &op, intended, t0)
		} else {
			_, err = l.do(ctx, op.Type, op.Req, intended, t0)
		}
		if err == nil && w.acker != nil {
			w.acker.Ack(&op)
		}
		if err != nil && l.cfg.FailBackoff > 0 && !l.sleep(ctx, l.cfg.FailBackoff) {
			return
		}
		n++
	}
}

// sleep waits d or until ctx ends, and reports whether the full d passed.
// It reuses one timer per loop, so an open loop's pacing allocates nothing.
func (l *loop) sleep(ctx context.Context, d time.Duration) bool {
	if l.timer == nil {
		l.timer = time.NewTimer(d)
	} else {
		l.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		l.timer.Stop()
		return false
	case <-l.timer.C:
		return true
	}
}

// keepGoing reports whether a worker past its quota continues.
func (l *loop) keepGoing() bool {
	if l.cfg.Continue == nil {
		return false
	}
	select {
	case <-l.cfg.Continue:
		return false
	default:
		return true
	}
}

// rmw issues YCSB's read-modify-write: a Get then a Put of the same key,
// recorded as READ, UPDATE and (the whole) READ-MODIFY-WRITE.
func (l *loop) rmw(ctx context.Context, op *workload.Op, intended, t0 time.Time) error {
	get := impls.Request{Kind: impls.Get, Key: op.Req.Key}
	if _, err := l.do(ctx, workload.Read, get, intended, t0); err != nil {
		l.count(workload.ReadModifyWrite, err)
		return err
	}
	t1 := l.now()
	end, err := l.do(ctx, workload.Update, op.Req, t1, t1)
	if err != nil {
		l.count(workload.ReadModifyWrite, err)
		return err
	}
	l.w.mu.Lock()
	l.observe(workload.ReadModifyWrite, end.Sub(intended), end.Sub(t0))
	l.w.mu.Unlock()
	return nil
}

// now is time.Now from one read of the monotonic clock: the run's start
// plus the time since (time.Now reads the wall clock as well, which costs
// as much again: 95 ns against 57 ns a call on a 2-core VM).
func (l *loop) now() time.Time { return l.start.Add(time.Since(l.start)) }

// do sends one request and records it. intended is the open-loop intended
// start (equal to t0 in a closed loop); t0 is when the request was sent.
func (l *loop) do(ctx context.Context, typ workload.OpType, req impls.Request, intended, t0 time.Time) (time.Time, error) {
	opCtx := ctx
	if l.cfg.OpTimeout > 0 {
		var cancel context.CancelFunc
		opCtx, cancel = context.WithTimeout(ctx, l.cfg.OpTimeout)
		defer cancel()
	}
	resp, err := l.client().Do(opCtx, req)
	return l.finish(ctx, typ, req, resp, err, intended, t0)
}

// finish records a request's outcome (resp, err) as do does for the
// requests it sends: the event loops of mux_linux.go call it for theirs.
func (l *loop) finish(ctx context.Context, typ workload.OpType, req impls.Request, resp impls.Response, err error, intended, t0 time.Time) (time.Time, error) {
	end := l.now()
	if err != nil && ctx.Err() != nil && !impls.IsUnknown(err) {
		// The run is over; a request cut short by that is not a store error.
		err = fmt.Errorf("%w: run cancelled", impls.ErrUnknownOutcome)
	}
	w := l.w
	if l.cfg.Record {
		w.record(l.epoch, req, resp, err, t0, end)
	}
	if err != nil {
		l.count(typ, err)
		if impls.IsUnknown(err) && ctx.Err() == nil {
			l.reopen()
		}
		return end, err
	}
	w.mu.Lock()
	l.observe(typ, end.Sub(intended), end.Sub(t0))
	w.done++
	w.mu.Unlock()
	return end, nil
}

// observe records one latency; the caller holds w.mu (its stripe's).
func (l *loop) observe(typ workload.OpType, corrected, raw time.Duration) {
	w := l.w
	v, clamped := results.Clamp(int64(corrected))
	if clamped {
		w.clamped++
	}
	if w.hist[typ] == nil {
		w.hist[typ] = results.NewHistogram()
	}
	_ = w.hist[typ].RecordValue(v) // in range after Clamp
	if l.period > 0 {
		v, _ = results.Clamp(int64(raw))
		if w.raw[typ] == nil {
			w.raw[typ] = results.NewHistogram()
		}
		_ = w.raw[typ].RecordValue(v)
	}
}

func (l *loop) count(typ workload.OpType, err error) {
	w := l.w
	w.mu.Lock()
	if impls.IsUnknown(err) {
		w.unknown[typ]++
	} else {
		w.errs[typ]++
	}
	w.done++
	w.mu.Unlock()
	if w.firstErr == nil && !errors.Is(err, context.Canceled) {
		w.firstErr = err
	}
}

// brokenClient stands in for a client that could not be reopened; every
// request fails definitely with the reopen error.
type brokenClient struct{ err error }

func (b brokenClient) Do(context.Context, impls.Request) (impls.Response, error) {
	return impls.Response{}, fmt.Errorf("client unavailable: %w", b.err)
}
func (b brokenClient) Close() error { return nil }

var _ impls.Client = brokenClient{}
