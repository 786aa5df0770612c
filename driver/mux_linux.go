package driver

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/workload"
)

// Event loops for window-1 clients. With -w 1 a goroutine per client parks
// on the runtime's poller after each request and is woken for its answer;
// at tens of clients against a fast server that park and wake cost more
// than the request's own system calls. When every client implements
// impls.Polled, GOMAXPROCS goroutines (at most one per client) each own a
// share of the clients completely, as memcaslap's threads own theirs: a
// loop sends each of its clients' requests with Begin, waits on its own
// epoll instance for their sockets, and reads each answer with Finish. A
// client is only ever used by its loop, one request at a time, so what
// reaches the server and what is recorded is what a goroutine per client
// would send and record: the same stream, quota, read-modify-write steps,
// reopening after an unknown outcome, loop.finish for every answer.
// Requests Begin does not start (kinds that take several round trips,
// such as Swap, or a client that could not be reopened) go through Do,
// synchronously, on the loop.
//
// epoll's data is a token: the worker's index in its loop and a
// generation that changes with every registration, never the socket's
// descriptor, so an event of a closed connection whose descriptor was
// reused is never taken for another's. A connection that a client
// replaced is registered afresh under a new generation (impls.Polled's
// watch), and a closed socket leaves epoll by itself.
//
// Per request the loops allocate nothing: the functions they hand the
// runtime's poller are made once, and since they keep no history (nothing
// looks at an answer's value once it is timed) they ask clients that can
// for borrowed values (impls.BorrowedValues: a Get's value aliases a
// buffer the client reuses).
//
// Used only for closed-loop benchmarks: -w 1, no --rate, no per-request
// timeout, no backoff, no Continue, and no recorded history (fuzzing and
// --check keep a goroutine per client); muxRecord lets tests record.

// muxRecord lets tests run the event loops with Config.Record;
// muxStarted counts the loops started (for tests).
var (
	muxRecord  = false
	muxStarted atomic.Int64
)

func useMux(cfg Config, clients []impls.Client) bool {
	if cfg.Window != 1 || len(clients) < 2 || cfg.Rate > 0 || cfg.OpTimeout > 0 || cfg.FailBackoff > 0 ||
		cfg.Continue != nil || (cfg.Record && !muxRecord) {
		return false
	}
	for _, c := range clients {
		if _, ok := c.(impls.Polled); !ok {
			return false
		}
	}
	return true
}

// startMux starts the event loops on wg if the run is one for them (see
// useMux) and reports whether it did; if not, the caller runs a goroutine
// per worker.
func startMux(ctx context.Context, wg *sync.WaitGroup, proto loop, workers []*worker, clients []impls.Client, open OpenClient) bool {
	if !useMux(proto.cfg, clients) {
		return false
	}
	loops := make([]*muxLoop, min(runtime.GOMAXPROCS(0), len(clients)))
	for i := range loops {
		m, err := newMuxLoop()
		if err != nil {
			for _, m := range loops[:i] {
				m.close()
			}
			return false
		}
		loops[i] = m
	}
	if !proto.cfg.Record {
		// Nothing looks at an answer's value once it is timed: let Gets'
		// values alias a buffer each client reuses (no allocation).
		for _, c := range clients {
			borrowValues(c)
		}
		o := open
		open = func(ctx context.Context, id int) (impls.Client, error) {
			c, err := o(ctx, id)
			if err == nil {
				borrowValues(c)
			}
			return c, err
		}
	}
	for i, w := range workers { // window 1: worker i sends through client i
		if w == nil {
			continue // more workers than ops
		}
		m := loops[i%len(loops)]
		mw := &muxWorker{idx: int32(len(m.ws)), l: proto}
		mw.l.bind(ctx, w, clients, open)
		mw.watch = func(fd int, conn uint64) error { return m.watch(mw, fd, conn) }
		m.ws = append(m.ws, mw)
	}
	muxStarted.Add(int64(len(loops)))
	for _, m := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.run(ctx)
		}()
	}
	return true
}

func borrowValues(c impls.Client) {
	if b, ok := c.(impls.BorrowedValues); ok {
		b.BorrowValues()
	}
}

// newMuxLoop makes a loop with its epoll instance and the eventfd that
// wakes it when the run's context ends.
func newMuxLoop() (*muxLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeToken}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, err
	}
	return &muxLoop{epfd: epfd, efd: efd}, nil
}

func (m *muxLoop) close() {
	unix.Close(m.epfd)
	unix.Close(m.efd)
}

// wakeToken is the eventfd's epoll data: no worker's index.
const wakeToken = -1

// muxLoop is one event loop and the workers (clients) it owns.
type muxLoop struct {
	epfd   int // the epoll instance
	efd    int // an eventfd, readable once the run's context has ended
	ws     []*muxWorker
	gen    uint32 // the last registration's generation
	active int    // workers with a request in flight
	events [64]unix.EpollEvent
	// yielded is when the loop last passed through Go's scheduler (ns
	// into the run).
	yielded int64
}

// yieldEvery is how often a busy loop passes through Go's scheduler, well
// within the 10 ms after which sysmon takes a goroutine that never does
// for a runaway (as memkv's server loops do).
const yieldEvery = int64(5 * time.Millisecond)

// muxWorker is one worker of a loop and the operation it is on.
type muxWorker struct {
	l   loop
	idx int32
	// tok and conn are the generation and the connection of the worker's
	// registration in force (tok 0: none).
	tok   uint32
	conn  uint64
	watch func(fd int, conn uint64) error

	n       int64       // operations finished
	busy    bool        // on an operation (op)
	op      workload.Op // the operation
	phase   rmwPhase
	pending impls.Polled // the client with the request in flight, if any
	// intended and t0 are the operation's; the request in flight (or
	// just answered) is req of type typ, sent at sent (intended reqInt).
	intended, t0 time.Time
	typ          workload.OpType
	req          impls.Request
	reqInt, sent time.Time
}

// wait returns the events that are there, or waits in epoll_wait until
// some are, as memcaslap's threads do. It first looks without telling the
// runtime (a system call that cannot block needs no hand-off of the
// thread's P); only if nothing is there does it block, in a system call
// the runtime knows of, so the P can run other goroutines meanwhile.
// Measured against parking the goroutine on the runtime's poller (the
// epoll instance registered there, woken through the runtime's own
// epoll_wait and a thread hand-off): at 32 connections against memcached
// -t 2, 245-262k against 182k requests/s, at 4.0-4.3 against 5.3-5.6
// CPU-µs each (the whole process's, loading included).
func (m *muxLoop) wait() (int, error) {
	for {
		n, err := pollEvents(m.epfd, m.events[:])
		if err == nil && n == 0 {
			n, err = waitEvents(m.epfd, m.events[:])
		}
		if err != unix.EINTR {
			return n, err
		}
	}
}

func (m *muxLoop) run(ctx context.Context) {
	// ctx ending wakes wait. The eventfd is closed only once that
	// wake-up is either cancelled or written: a write after the close
	// could land on a descriptor the process has reused.
	woken := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		one := [8]byte{1}
		unix.Write(m.efd, one[:])
		close(woken)
	})
	defer func() {
		if !stop() {
			<-woken
		}
		m.close()
	}()
	start := time.Now()
	for _, w := range m.ws {
		m.drive(ctx, w)
	}
	for m.active > 0 {
		if ctx.Err() != nil {
			// Give up on every request in flight as Do would: ctx's
			// end closes their connections, so Finish returns at once
			// with an unknown outcome.
			for _, w := range m.ws {
				if w.pending != nil {
					m.ready(ctx, w)
				}
			}
			continue
		}
		if now := int64(time.Since(start)); now-m.yielded > yieldEvery {
			runtime.Gosched()
			m.yielded = now
		}
		n, err := m.wait()
		if err != nil {
			// Cannot happen; should it, read every answer through the
			// runtime's poller (Finish waits for it).
			for _, w := range m.ws {
				if w.pending != nil {
					m.ready(ctx, w)
				}
			}
			continue
		}
		for _, ev := range m.events[:n] {
			idx := int(ev.Fd)
			if idx < 0 || idx >= len(m.ws) {
				continue
			}
			if w := m.ws[idx]; w.pending != nil && uint32(ev.Pad) == w.tok {
				// A stale edge (an earlier answer's last bytes) can wake
				// a worker before its answer: Finish then waits for it.
				m.ready(ctx, w)
			}
		}
	}
}

// watch registers w's socket fd (connection conn) unless it is registered.
func (m *muxLoop) watch(w *muxWorker, fd int, conn uint64) error {
	if w.tok != 0 && conn == w.conn {
		return nil
	}
	m.gen++
	if m.gen == 0 || m.gen > 1<<31-1 {
		m.gen = 1
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: w.idx, Pad: int32(m.gen)}
	err := unix.EpollCtl(m.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
	if err == unix.EEXIST { // the same socket, registered under an older token
		err = unix.EpollCtl(m.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
	}
	if err != nil {
		return err
	}
	w.tok, w.conn = m.gen, conn
	return nil
}

// ready collects the answer to w's request in flight and drives w on.
func (m *muxLoop) ready(ctx context.Context, w *muxWorker) {
	pc := w.pending
	w.pending = nil
	m.active--
	resp, err := pc.Finish(ctx)
	m.answered(ctx, w, resp, err)
	m.drive(ctx, w)
}

// drive starts w's requests until one is in flight or w is done.
func (m *muxLoop) drive(ctx context.Context, w *muxWorker) {
	for w.pending == nil {
		if !w.busy && !m.next(ctx, w) {
			return
		}
		c := w.l.client()
		if pc, ok := c.(impls.Polled); ok {
			pending, resp, err := pc.Begin(ctx, w.req, w.watch)
			if pending {
				w.pending = pc
				m.active++
				return
			}
			if !errors.Is(err, impls.ErrNotPolled) {
				m.answered(ctx, w, resp, err)
				continue
			}
		}
		resp, err := c.Do(ctx, w.req)
		m.answered(ctx, w, resp, err)
	}
}

// next takes w's next operation and stages its (first) request, as
// loop.run does; false when w is done.
func (m *muxLoop) next(ctx context.Context, w *muxWorker) bool {
	l := &w.l
	if l.stop.Load() || ctx.Err() != nil || (l.w.quota > 0 && w.n >= l.w.quota) || !l.w.stream.Next(&w.op) {
		return false
	}
	w.t0 = l.now()
	w.intended = w.t0
	w.busy = true
	if w.op.Type == workload.ReadModifyWrite {
		w.phase = rmwRead
		w.stage(workload.Read, impls.Request{Kind: impls.Get, Key: w.op.Req.Key}, w.intended, w.t0)
	} else {
		w.phase = single
		w.stage(w.op.Type, w.op.Req, w.intended, w.t0)
	}
	return true
}

func (w *muxWorker) stage(typ workload.OpType, req impls.Request, intended, sent time.Time) {
	w.typ, w.req, w.reqInt, w.sent = typ, req, intended, sent
}

// answered records the outcome of w's request and moves w on: to a
// read-modify-write's write, or to the end of the operation (as loop.run
// and loop.rmw do).
func (m *muxLoop) answered(ctx context.Context, w *muxWorker, resp impls.Response, err error) {
	l := &w.l
	end, err := l.finish(ctx, w.typ, w.req, resp, err, w.reqInt, w.sent)
	switch {
	case w.phase == rmwRead && err == nil:
		t1 := l.now()
		w.phase = rmwPut
		w.stage(workload.Update, w.op.Req, t1, t1)
		return
	case w.phase != single && err != nil:
		l.count(workload.ReadModifyWrite, err)
	case w.phase == rmwPut:
		l.w.mu.Lock()
		l.observe(workload.ReadModifyWrite, end.Sub(w.intended), end.Sub(w.t0))
		l.w.mu.Unlock()
	}
	if err == nil && l.w.acker != nil {
		l.w.acker.Ack(&w.op)
	}
	w.busy = false
	w.n++
}

// pollEvents is epoll_wait(2) with a zero timeout, made without telling the
// runtime (it never blocks; see memkv's rawIO).
func pollEvents(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// waitEvents is epoll_wait(2) blocking until there are events.
func waitEvents(epfd int, events []unix.EpollEvent) (int, error) {
	return unix.EpollWait(epfd, events, -1)
}
