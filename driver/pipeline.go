package driver

import (
	"context"
	"sync"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/internal/fifo"
	"github.com/kvbench/kvbench/workload"
)

// Pipelined clients. When -w > 1 and every client implements
// impls.Pipeliner, one goroutine per client runs that client's Window
// workers, each now a slot: it keeps every slot's request in flight through
// Send, collects the oldest answer with Recv and sends the next request of
// the slot that answered, as the course's C client thread does. Each slot
// keeps its worker's stream, quota, pacing, counters and history, and sends
// its next request only once its previous one is answered, as the worker's
// own goroutine would; every answer is recorded by loop.finish, as loop.do
// records a worker's, so the results and the history have the same shape
// as with a goroutine per worker.
//
// Open loop: a slot whose intended start comes while the goroutine waits
// for the oldest answer is sent when that answer is in; its corrected
// latency counts from the intended start, so the delay is measured, not
// hidden.

// pipeliners returns the clients as impls.Pipeliners if the run pipelines
// them: cfg.Window > 1 and every client implements impls.Pipeliner.
func pipeliners(cfg Config, clients []impls.Client) []impls.Pipeliner {
	if cfg.Window < 2 {
		return nil
	}
	pipes := make([]impls.Pipeliner, len(clients))
	for i, c := range clients {
		p, ok := c.(impls.Pipeliner)
		if !ok {
			return nil
		}
		pipes[i] = p
	}
	return pipes
}

// startPipelines starts one goroutine per client of pipes (see
// pipeliners) with at least one worker on wg. proto is the loop every slot
// copies (cfg, epoch, start, period, stop).
func startPipelines(ctx context.Context, wg *sync.WaitGroup, proto loop, workers []*worker, pipes []impls.Pipeliner) {
	w := proto.cfg.Window
	for i, p := range pipes {
		pl := newPipeline(p, proto, workers[i*w:(i+1)*w])
		if len(pl.idle) == 0 {
			continue // more workers than ops: this client has none
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pl.run(ctx)
		}()
	}
}

// pipeline is one client's goroutine: its slots, the ones with a request in
// flight in the order sent (flight), and the ones without (idle).
type pipeline struct {
	p      impls.Pipeliner
	flight fifo.Queue[*slot]
	idle   []*slot
}

// rmwPhase is where a slot stands in a read-modify-write.
type rmwPhase uint8

const (
	single  rmwPhase = iota // a single request (not a read-modify-write)
	rmwRead                 // the read of a read-modify-write
	rmwPut                  // its write
)

// slot is one worker of a pipelined client: its loop (stream, quota,
// stripe, events) and the operation it is on.
type slot struct {
	l   loop
	n   int64 // operations drawn so far, loop.run's n
	op  workload.Op
	has bool // op is drawn and not finished
	// notBefore delays the slot's next request after a failure
	// (Config.FailBackoff).
	notBefore time.Time

	// The request in flight (or about to be sent): its op type, request,
	// phase, intended start and send time; opT0 is the op's first send
	// (a read-modify-write's read).
	typ          workload.OpType
	req          impls.Request
	phase        rmwPhase
	intended, t0 time.Time
	opT0         time.Time
	opCtx        context.Context // bounded by Config.OpTimeout, or the run's
	cancel       context.CancelFunc
}

// newPipeline makes the pipeline of one client's workers (nil ones, which
// have no operations, are left out).
func newPipeline(p impls.Pipeliner, proto loop, workers []*worker) *pipeline {
	pl := &pipeline{p: p}
	for _, w := range workers {
		if w == nil {
			continue
		}
		s := &slot{l: proto}
		s.l.w = w
		s.l.reopen = func() {} // with a window above one a client is never replaced
		pl.idle = append(pl.idle, s)
	}
	pl.flight.Reserve(len(pl.idle))
	return pl
}

// run keeps every slot's request in flight until every slot is done, then
// returns; see pipeline.
func (pl *pipeline) run(ctx context.Context) {
	for {
		wake, ok := pl.sendDue(ctx)
		switch {
		case pl.flight.Len() > 0:
			pl.recv(ctx)
		case !ok:
			return // every slot is done
		case wake != nil:
			// Nothing in flight: wait for the slot due first.
			if !wake.l.sleep(ctx, time.Until(wake.due())) {
				return
			}
		}
		// Otherwise sends failed at once: those slots draw again.
	}
}

// sendDue sends the next request of every idle slot that is due. It
// returns the idle slot due first among the others, and false when no slot
// has anything left to send.
func (pl *pipeline) sendDue(ctx context.Context) (wake *slot, ok bool) {
	var now time.Time
	idle := pl.idle[:0]
	for _, s := range pl.idle {
		if !s.has && !s.draw() {
			continue // done: dropped from idle
		}
		if due := s.due(); !due.IsZero() {
			if now.IsZero() {
				now = s.l.now()
			}
			if due.After(now) {
				idle = append(idle, s)
				if wake == nil || due.Before(wake.due()) {
					wake = s
				}
				continue
			}
		}
		if !pl.send(ctx, s) {
			idle = append(idle, s) // failed at once and finished: draws again
		}
	}
	clear(pl.idle[len(idle):])
	pl.idle = idle
	return wake, len(idle) > 0
}

// draw takes the slot's next operation, under loop.run's conditions, and
// sets up its first request.
func (s *slot) draw() bool {
	l, w := &s.l, s.l.w
	if l.stop.Load() || !(w.quota == 0 || s.n < w.quota || l.keepGoing()) || !w.stream.Next(&s.op) {
		return false
	}
	s.has = true
	s.intended = time.Time{}
	if l.period > 0 {
		s.intended = l.start.Add(time.Duration(s.n) * l.period)
	}
	s.typ, s.req, s.phase = s.op.Type, s.op.Req, single
	if s.op.Type == workload.ReadModifyWrite {
		s.typ, s.req, s.phase = workload.Read, impls.Request{Kind: impls.Get, Key: s.op.Req.Key}, rmwRead
	}
	return true
}

// due is when the slot's request may be sent: its intended start (open
// loop) or the end of its failure backoff, whichever is later; zero for
// at once.
func (s *slot) due() time.Time {
	if s.notBefore.After(s.intended) {
		return s.notBefore
	}
	return s.intended
}

// send sends the slot's request. It reports whether the request is in
// flight; if not, Send failed and the outcome is already recorded.
func (pl *pipeline) send(ctx context.Context, s *slot) bool {
	s.t0 = s.l.now() // as loop.run: one read of the monotonic clock
	if s.phase != rmwPut {
		s.opT0 = s.t0
		if s.intended.IsZero() {
			s.intended = s.t0
		}
	}
	s.opCtx = ctx
	if s.l.cfg.OpTimeout > 0 {
		s.opCtx, s.cancel = context.WithDeadline(ctx, s.t0.Add(s.l.cfg.OpTimeout))
	}
	if err := pl.p.Send(s.opCtx, s.req); err != nil {
		pl.answer(ctx, s, impls.Response{}, err)
		return false
	}
	pl.flight.Push(s)
	return true
}

// recv collects the oldest answer and acts on it.
func (pl *pipeline) recv(ctx context.Context) {
	s := pl.flight.Pop()
	resp, err := pl.p.Recv(s.opCtx)
	if pl.answer(ctx, s, resp, err) {
		return // the read-modify-write's write is in flight
	}
	pl.idle = append(pl.idle, s)
}

// answer records the outcome of the slot's request (an answer, or a send
// that failed) with loop.finish, as loop.do does, and moves the slot on: a
// successful read-modify-write read sends the write (answer reports
// whether it is in flight); anything else finishes the operation as
// loop.run does.
func (pl *pipeline) answer(ctx context.Context, s *slot, resp impls.Response, err error) bool {
	if s.cancel != nil {
		s.cancel()
		s.cancel = nil
	}
	l := &s.l
	intended := s.intended
	if s.phase == rmwPut {
		intended = s.t0 // as loop.rmw times the write from its own start
	}
	end, err := l.finish(ctx, s.typ, s.req, resp, err, intended, s.t0)
	switch {
	case err != nil && s.phase != single:
		l.count(workload.ReadModifyWrite, err)
	case s.phase == rmwRead:
		s.typ, s.req, s.phase = workload.Update, s.op.Req, rmwPut
		return pl.send(ctx, s)
	case s.phase == rmwPut:
		l.w.mu.Lock()
		l.observe(workload.ReadModifyWrite, end.Sub(s.intended), end.Sub(s.opT0))
		l.w.mu.Unlock()
	}
	s.finish(err)
	return false
}

// finish ends the slot's operation as loop.run does after each one: ack a
// success, back off after a failure, count it.
func (s *slot) finish(err error) {
	w := s.l.w
	if err == nil && w.acker != nil {
		w.acker.Ack(&s.op)
	}
	s.notBefore = time.Time{}
	if err != nil && s.l.cfg.FailBackoff > 0 {
		s.notBefore = time.Now().Add(s.l.cfg.FailBackoff)
	}
	s.has = false
	s.n++
}
