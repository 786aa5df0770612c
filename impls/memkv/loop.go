package memkv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The event loops (--loop epoll, the default): memcached's worker threads
// in Go. Each loop is a goroutine with its own epoll instance; the listener
// hands each connection to the loop with the fewest (pickLoop). A loop
// owns its connections' non-blocking sockets, registered edge-triggered for
// input and output once, so it never changes a registration: on input it
// reads once into the connection's 16 KiB buffer, runs every command that
// has fully arrived with the same interpreter as a goroutine
// (conn.process), and sends all the replies with one write. One request and
// its answer cost about three system calls (epoll_wait, read, write;
// measured 3.2 at one client, memcached 3.0), where a goroutine on Go's
// netpoller costs about five (a read that finds nothing, and the
// netpoller's wake-ups). A connection gets maxReadsPerTurn reads, then the
// loop turns to the others.
//
// A loop is not locked to its OS thread: measured, locking cost futex
// wake-ups (0.20 per request at -n 16 against 0.11 unlocked) whenever Go's
// scheduler had to hand a P back to the one thread that may run the loop.
// It passes through the scheduler every yieldEvery (rarely: each pass
// wakes an idle thread), and `kvbench serve` keeps one P spare
// (loopProcs); see run and loopProcs for why. What else could wake a
// thread per request is kept off the loops' path: the log's flusher wakes
// once per gatherDelay at most (--fsync never and interval).
//
// Replies are sent only once the log records they depend on are durable
// (--fsync always): the loop holds the connection's output, neither
// reading nor running its commands meanwhile, and the log's flusher wakes
// the loop (an eventfd) when it made them durable. A loop never waits for
// the disk (see wal.notify). A client that does not read its replies stops
// its own connection only: the loop holds at most one batch of replies for
// it and reads from it no more until they are sent.
//
// What a loop does not do it hands to a goroutine for the rest of the
// connection's life, with the bytes already read: a command line longer
// than the buffer (long multi-gets, or too long), a data block that does
// not fit in the buffer (values over about 16 KiB), and retrievals of more
// than maxTokens-2 keys, whose answers a goroutine sends as they are built.

// LoopMode says how connections are served.
type LoopMode uint8

const (
	// LoopEpoll serves connections on memkv's own epoll event loops.
	LoopEpoll LoopMode = iota
	// LoopGo serves each connection on its own goroutine (Go's netpoller).
	LoopGo
)

func (m LoopMode) String() string {
	if m == LoopGo {
		return "go"
	}
	return "epoll"
}

// ParseLoopMode parses --loop.
func ParseLoopMode(s string) (LoopMode, error) {
	switch s {
	case "epoll":
		return LoopEpoll, nil
	case "go":
		return LoopGo, nil
	}
	return 0, fmt.Errorf("unknown loop %q (want epoll or go)", s)
}

// maxReadsPerTurn is how many reads a connection gets before the loop
// turns to the others (memcached's reqs_per_event, in reads).
const maxReadsPerTurn = 8

// yieldEvery is how often a busy loop passes through Go's scheduler: well
// within sysmon's 10 ms (see run), and rarely, because each pass wakes an
// idle thread to spin on the spare P (runtime.Gosched calls wakep): at 1 ms
// that was 0.05 futex calls per request at -n 4, at 5 ms 0.01.
const yieldEvery = int64(5 * time.Millisecond)

// errWouldBlock is a loop connection's read finding no input: the loop
// waits for the socket's next readiness event.
var errWouldBlock = errors.New("memkv: no input ready")

// eventLoop is one event loop and its connections.
type eventLoop struct {
	srv    *Server
	epfd   int
	efd    int         // eventfd waking the loop: new connections, durable log, stop
	now    int64       // the time of the commands run, read once per wake-up
	conns  []*loopConn // by file descriptor
	held   []*loopConn // connections whose replies wait for the log
	ready  []*loopConn // connections that used up their turn with input left
	want   atomic.Int64
	woken  atomic.Bool  // an eventfd wake-up is pending
	nconns atomic.Int32 // connections given to the loop and not yet let go (pickLoop)
	done   chan struct{}

	mu        sync.Mutex // guards incoming, closeReqs and stopping
	incoming  []*loopConn
	closeReqs []*loopConn
	stopping  bool
}

// loopConn is a connection served by an event loop.
type loopConn struct {
	l        *eventLoop
	fd       int
	c        *conn
	readable bool         // input may be waiting (cleared by a short read)
	hup      bool         // the client shut down its side: read until EOF
	writable bool         // the socket may take output (cleared by EAGAIN)
	eof      bool         // the client will send nothing more
	iov      [][]byte     // replies being written (write consumes it from the front)
	iovs     [][]byte     // iov's backing array, kept for the next replies
	iovecs   []unix.Iovec // writev's argument, reused
	held     bool         // in l.held
	queued   bool         // in l.ready
	closed   bool
}

// Close asks the connection's loop to close it (a loopConn stands in
// Server.conns for its connection); it returns at once.
func (lc *loopConn) Close() error {
	l := lc.l
	l.mu.Lock()
	l.closeReqs = append(l.closeReqs, lc)
	l.mu.Unlock()
	l.wake()
	return nil
}

// newEventLoop creates a loop; run runs it.
func newEventLoop(s *Server) (*eventLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memkv: epoll_create: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("memkv: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, fmt.Errorf("memkv: epoll_ctl: %w", err)
	}
	return &eventLoop{srv: s, epfd: epfd, efd: efd, done: make(chan struct{})}, nil
}

// run is the loop's goroutine.
func (l *eventLoop) run() {
	defer close(l.done)
	defer unix.Close(l.epfd)
	defer unix.Close(l.efd)
	var gc *wal // group commit: the loop counts as active while it runs commands
	if w := l.srv.wal; w != nil && w.mode == FsyncAlways {
		gc = w
	}
	events := make([]unix.EpollEvent, 256)
	var yielded int64
	for {
		timeout := -1
		if len(l.ready) > 0 {
			timeout = 0 // look at the others, then come back to them
		}
		n, err := unix.EpollWait(l.epfd, events, timeout)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			fmt.Fprintf(l.srv.cfg.Log, "memkv: epoll_wait: %v\n", err)
			l.closeAll()
			return
		}
		if gc != nil {
			gc.active.Add(1)
		}
		l.now = time.Now().UnixNano()
		if l.now-yielded > yieldEvery {
			// Go's sysmon takes a goroutine that has not been through the
			// scheduler for 10 ms for a runaway: it would take the loop's
			// P away at every epoll_wait (a nanosleep and futex wake-ups
			// per request). A pass through the scheduler now and then
			// keeps the loop an ordinary goroutine.
			runtime.Gosched()
			yielded = l.now
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if fd == l.efd {
				if l.wakeUp() {
					l.closeAll()
					return
				}
				continue
			}
			if fd >= len(l.conns) || l.conns[fd] == nil {
				continue
			}
			lc := l.conns[fd]
			if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				lc.readable = true
			}
			if ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				lc.hup = true
			}
			if ev.Events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				lc.writable = true
			}
			l.service(lc)
		}
		l.serviceReady()
		if gc != nil {
			gc.active.Add(-1)
			gc.nudge()
		}
	}
}

// serviceReady gives the connections that used up their turn another.
func (l *eventLoop) serviceReady() {
	ready := l.ready
	l.ready = nil
	for _, lc := range ready {
		lc.queued = false
		if !lc.closed {
			l.service(lc)
		}
	}
}

// wake makes the loop look at its incoming connections, held replies and
// stop request.
func (l *eventLoop) wake() {
	if l.woken.CompareAndSwap(false, true) {
		var one = [8]byte{1}
		unix.Write(l.efd, one[:])
	}
}

// wakeUp handles the eventfd: new connections, replies the log made
// durable. It reports whether the loop must stop.
func (l *eventLoop) wakeUp() (stop bool) {
	var b [8]byte
	unix.Read(l.efd, b[:])
	l.woken.Store(false)
	l.mu.Lock()
	in, reqs, stop := l.incoming, l.closeReqs, l.stopping
	l.incoming, l.closeReqs = nil, nil
	l.mu.Unlock()
	for _, lc := range in {
		l.add(lc)
	}
	for _, lc := range reqs {
		if !lc.closed {
			l.close(lc)
		}
	}
	if stop {
		return true
	}
	held := l.held
	l.held = nil
	for _, lc := range held {
		lc.held = false
		if !lc.closed {
			l.service(lc)
		}
	}
	l.setWant()
	return false
}

// pickLoop chooses the loop for a new connection (and counts it there):
// the one with the fewest, as memcached hands connections to its threads
// in turn. Packing the first 16 connections on one loop (so the others
// slept; fewer, larger batches) cost less CPU per request while the load
// generator was the bottleneck, but once it was not it capped memkv at one
// thread's speed: interleaved against memcached -t 2 (3 rounds of 3 s,
// load 2-3), packed 0.41x memcached at -n 4 and 0.73x at -n 32, spread
// 0.99x and 1.02x at 1.01x and 0.98x its CPU per request.
func (s *Server) pickLoop() *eventLoop {
	best := s.loops[0]
	for _, l := range s.loops[1:] {
		if l.nconns.Load() < best.nconns.Load() {
			best = l
		}
	}
	best.nconns.Add(1)
	return best
}

// adopt gives the loop a connection (from the accepting goroutine). It
// reports false when the loop is stopping; the caller then closes it.
func (l *eventLoop) adopt(lc *loopConn) bool {
	l.mu.Lock()
	if l.stopping {
		l.mu.Unlock()
		return false
	}
	l.incoming = append(l.incoming, lc)
	l.mu.Unlock()
	l.wake()
	return true
}

// add registers an adopted connection with epoll, edge-triggered.
func (l *eventLoop) add(lc *loopConn) {
	for lc.fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*loopConn, len(l.conns)+64)...)
	}
	l.conns[lc.fd] = lc
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(lc.fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, lc.fd, &ev); err != nil {
		fmt.Fprintf(l.srv.cfg.Log, "memkv: epoll_ctl: %v\n", err)
		l.close(lc)
		return
	}
	l.service(lc)
}

// stop makes the loop close its connections and end; it returns at once.
func (l *eventLoop) stop() {
	l.mu.Lock()
	l.stopping = true
	l.mu.Unlock()
	l.wake()
}

// closeAll closes every connection of the stopping loop.
func (l *eventLoop) closeAll() {
	for _, lc := range l.conns {
		if lc != nil {
			l.close(lc)
		}
	}
	l.mu.Lock()
	in := l.incoming
	l.incoming, l.stopping = nil, true
	l.mu.Unlock()
	for _, lc := range in {
		l.close(lc)
	}
}

// service advances a connection as far as it can without waiting: send
// the replies (once durable), run the commands that have fully arrived,
// read more input. It returns when the connection waits for the socket or
// the log, is closed, or was handed to a goroutine.
func (l *eventLoop) service(lc *loopConn) {
	c := lc.c
	reads := 0
	for !lc.closed {
		if len(lc.iov) > 0 || len(c.out) > 0 {
			if !l.send(lc) {
				return
			}
			continue
		}
		if c.closing {
			l.close(lc)
			return
		}
		if l.execute(lc) {
			l.toGoroutine(lc)
			return
		}
		if len(c.out) > 0 || c.closing {
			continue
		}
		if lc.eof {
			l.close(lc)
			return
		}
		if !lc.readable {
			return
		}
		if reads == maxReadsPerTurn {
			// Others' turn: a client that keeps its socket full must not
			// starve the loop's other connections.
			if !lc.queued {
				lc.queued = true
				l.ready = append(l.ready, lc)
			}
			return
		}
		reads++
		// One read, appended to what the buffer holds.
		switch _, err := c.br.Peek(c.br.Buffered() + 1); {
		case err == nil || err == errWouldBlock:
		case err == io.EOF:
			lc.eof = true
		default:
			l.close(lc)
			return
		}
	}
}

// execute runs the commands that have fully arrived, until the replies
// fill flushThreshold. It reports whether the next command is one for a
// goroutine (see frame).
func (l *eventLoop) execute(lc *loopConn) (toGoroutine bool) {
	c := lc.c
	for !c.closing && len(c.out)+c.refLen < flushThreshold {
		complete, ok := lc.frame()
		if !ok {
			return true
		}
		if !complete {
			return false
		}
		line, err := c.readLine() // buffered: it cannot wait
		if err == nil {
			c.now = l.now
			err = c.process(line)
			c.releaseLong()
		}
		if err != nil {
			c.closing = true
		}
	}
	return false
}

// frame reports whether the buffer holds the whole next command (its line
// and its data block), and ok false if the command is one for a goroutine:
// its line or data block cannot fit in the buffer, or it is a retrieval of
// more keys than the tokenizer splits off (its answer may be large).
func (lc *loopConn) frame() (complete, ok bool) {
	c := lc.c
	buf, _ := c.br.Peek(c.br.Buffered())
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		return false, len(buf) < readBufSize
	}
	nt, rest := c.tokenize(trimLine(buf[:i+1]))
	if nt == maxTokens && len(rest) > 0 {
		return false, false
	}
	need := i + 1 + c.blockLen(nt)
	if need > readBufSize {
		return false, false
	}
	return len(buf) >= need, true
}

// send writes the connection's replies once they may leave. It reports
// false when they cannot all go now: the log is not yet durable (the
// connection is held), the socket is full, or the connection was closed.
func (l *eventLoop) send(lc *loopConn) bool {
	c := lc.c
	if len(lc.iov) == 0 {
		if !c.settle() {
			l.hold(lc)
			return false
		}
		if w := c.srv.wal; w != nil {
			w.throttle()
		}
		// From iovs, not iov: write slices iov from the front, so
		// iov[:0] would have one entry less room each time and, at
		// none, allocate a new array for every reply (an allocation per
		// request was most of memkv's garbage: a collection every
		// 0.8 s at 230k requests/s).
		lc.iov = c.outBufs(lc.iovs[:0])
		lc.iovs = lc.iov[:0]
	}
	done, err := lc.write()
	if err != nil {
		l.close(lc)
		return false
	}
	if !done {
		return false // write left lc.iov's rest for the socket's next turn
	}
	c.resetOut() // write emptied lc.iov, dropping its references
	return true
}

// hold parks a connection whose replies wait for the log, and makes sure
// the flusher will wake the loop for it.
func (l *eventLoop) hold(lc *loopConn) {
	if !lc.held {
		lc.held = true
		l.held = append(l.held, lc)
	}
	l.setWant()
	if w := l.srv.wal; w.durable.Load() >= lc.c.wait || w.failing.Load() {
		l.wake() // the log moved before it could see want
	}
}

// setWant publishes the smallest log position a held reply waits for
// (0: none), which wal.notify compares with the durable position.
func (l *eventLoop) setWant() {
	var want int64
	for _, lc := range l.held {
		if want == 0 || lc.c.wait < want {
			want = lc.c.wait
		}
	}
	l.want.Store(want)
}

// logMoved is called by the log's flusher when records became durable or
// the log failed: the loop is woken if replies it holds may now go.
func (l *eventLoop) logMoved(w *wal) {
	if want := l.want.Load(); want > 0 && (want <= w.durable.Load() || w.failing.Load()) {
		l.wake()
	}
}

// read is the connection's input without waiting (connReader.Read).
func (lc *loopConn) read(p []byte) (int, error) {
	if !lc.readable {
		return 0, errWouldBlock
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := rawIO(unix.SYS_READ, lc.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			lc.readable = false
			return 0, errWouldBlock
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		if n < len(p) && !lc.hup {
			// The socket had no more: more input is a new edge. Not so
			// for a shutdown already reported, hence hup.
			lc.readable = false
		}
		lc.c.nread += int64(n)
		return n, nil
	}
}

// maxIOV is the most buffers one writev takes (Linux's IOV_MAX).
const maxIOV = 1024

// write sends lc.iov without waiting; done is false if the socket filled.
func (lc *loopConn) write() (done bool, err error) {
	for len(lc.iov) > 0 {
		if !lc.writable {
			return false, nil
		}
		var n int
		if len(lc.iov) == 1 {
			n, err = rawIO(unix.SYS_WRITE, lc.fd, lc.iov[0])
		} else {
			n, err = lc.writev()
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			lc.writable = false
			return false, nil
		case err != nil:
			return false, err
		}
		for n > 0 || (len(lc.iov) > 0 && len(lc.iov[0]) == 0) {
			if k := min(n, len(lc.iov[0])); k < len(lc.iov[0]) {
				lc.iov[0] = lc.iov[0][k:]
				n = 0
			} else {
				n -= k
				lc.iov[0] = nil
				lc.iov = lc.iov[1:]
			}
		}
	}
	return true, nil
}

// writev sends the first maxIOV buffers of lc.iov with one writev.
func (lc *loopConn) writev() (int, error) {
	lc.iovecs = lc.iovecs[:0]
	for _, b := range lc.iov[:min(len(lc.iov), maxIOV)] {
		var v unix.Iovec
		if len(b) > 0 {
			v.Base = &b[0]
			v.SetLen(len(b))
		}
		lc.iovecs = append(lc.iovecs, v)
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITEV, uintptr(lc.fd), uintptr(unsafe.Pointer(&lc.iovecs[0])), uintptr(len(lc.iovecs)))
	clear(lc.iovecs) // drop the references to the buffers
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawIO is read(2) or write(2) (trap) on a non-blocking socket, without
// telling Go's scheduler: it never blocks, and entersyscall/exitsyscall
// cost more than the call itself on a loop's busy path (the server's
// loops, and the client's window-1 and polled paths).
func rawIO(trap uintptr, fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// detach takes the connection off the loop without closing its socket.
func (l *eventLoop) detach(lc *loopConn) {
	if !lc.closed {
		l.nconns.Add(-1)
	}
	lc.closed = true
	if lc.fd < len(l.conns) && l.conns[lc.fd] == lc {
		l.conns[lc.fd] = nil
		unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, lc.fd, nil)
	}
}

// close closes the connection and forgets it.
func (l *eventLoop) close(lc *loopConn) {
	if lc.closed && lc.fd < 0 {
		return
	}
	l.detach(lc)
	unix.Close(lc.fd)
	lc.fd = -1
	s := l.srv
	s.stats.bytesRead.Add(uint64(lc.c.nread))
	lc.c.releaseLong()
	s.forget(lc)
}

// toGoroutine hands the connection, with what it has read so far, to a
// goroutine that serves it for the rest of its life (see the file comment).
func (l *eventLoop) toGoroutine(lc *loopConn) {
	s := l.srv
	l.detach(lc)
	f := os.NewFile(uintptr(lc.fd), "memkv-conn")
	nc, err := net.FileConn(f) // a duplicate descriptor, on Go's netpoller
	f.Close()
	lc.fd = -1
	if err != nil {
		fmt.Fprintf(s.cfg.Log, "memkv: cannot hand a connection to a goroutine: %v\n", err)
		s.stats.bytesRead.Add(uint64(lc.c.nread))
		s.forget(lc)
		return
	}
	c := lc.c
	c.lc, c.w = nil, nc
	c.cr.setReader(nc)
	if !s.retrack(lc, nc) {
		nc.Close()
		s.stats.bytesRead.Add(uint64(c.nread))
		return
	}
	go func() {
		defer s.untrack(nc)
		s.runConn(c)
	}()
}
