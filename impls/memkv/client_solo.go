package memkv

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// The window-1 fast path. With one request in flight there is nothing to
// pipeline, so the caller drives the socket itself: no reader goroutine,
// no channel handoff, and two system calls per request. The request is
// written from inside the first call of syscall.RawConn.Read's function,
// which the runtime makes after it has reset the socket's read readiness:
// returning false then parks the caller until the answer arrives, without
// a read that would only find nothing there yet (EAGAIN), and without a
// lost wake-up (the reset precedes the write). The read comes on the next
// call.
//
// The check for a server that hung up while the connection was idle (a
// MSG_PEEK recv, see Client) is made only when the connection has been
// idle for soloIdleCheck: in a closed loop the next request follows its
// predecessor's answer within a few microseconds, a gap in which a crash
// is as unlikely to fall as its hang-up is to arrive in time to be seen,
// and the check would add a third system call to every request. A server
// killed between two requests of a test or of a paced run takes longer
// than that to die (TestClientAcrossServerKill: SIGKILL, wait, request).

// soloIdleCheck is how long a connection that its callers drive must have
// been idle before a request checks whether the server hung up meanwhile.
const soloIdleCheck = 50 * time.Microsecond

// monoBase is the zero of monoNow.
var monoBase = time.Now()

// monoNow reads the monotonic clock alone (time.Now reads the wall clock
// too, which costs as much again); it is never zero.
func monoNow() time.Duration { return time.Since(monoBase) + 1 }

// idle reports whether the connection has been idle for soloIdleCheck
// since its last answer (or never answered).
func (s *soloSock) idle() bool {
	return s.answered == 0 || monoNow()-s.answered >= soloIdleCheck
}

// markAnswered notes that an answer was read now.
func (s *soloSock) markAnswered() { s.answered = monoNow() }

// soloSock is the io.Reader under a window-1 connection's bufio.Reader.
// Each request is staged in req; the Read that starts reading its answer
// writes it first.
type soloSock struct {
	nc net.Conn
	rc syscall.RawConn
	// req holds the bytes of the request not yet written; sent counts
	// those written.
	req  []byte
	sent int
	// check asks the first Read of a request to test first whether the
	// server has hung up; hungUp reports that it had, and nothing was
	// written.
	check, hungUp bool
	// answered is when the last answer was read, as monoNow (zero:
	// never).
	answered time.Duration
	// step is s.io, made once (a method value passed to rc.Read on each
	// call would be allocated each time); it reads into p and leaves the
	// outcome in n and err.
	step func(fd uintptr) bool
	p    []byte
	n    int
	err  error
	// polledStep is s.polledWrite, made once, for Begin's write
	// (client_poll.go); its arguments and results are pcheck, pwatch,
	// pid, pout and perr.
	polledStep func(fd uintptr)
	// readable (set by Finish) lets the next Read try a read under
	// rc.Control first; ctlStep is s.readNow, made once.
	readable bool
	ctlStep  func(fd uintptr)
	pcheck   bool
	pwatch   func(fd int, conn uint64) error
	pid      uint64
	pout     []byte
	perr     error
}

// stage sets the request the next Read writes before it reads.
func (s *soloSock) stage(req []byte, check bool) {
	s.req, s.sent, s.check, s.hungUp, s.readable = req, 0, check, false, false
}

// Read writes the staged request, if any, then reads what is there.
func (s *soloSock) Read(p []byte) (int, error) {
	s.p = p
	if s.readable && len(s.req) == 0 {
		// An event loop saw the socket readable (Finish): read at once
		// under rc.Control, which skips the read lock and the poller's
		// readiness reset of rc.Read; only if nothing is there yet (a
		// stale edge) wait through rc.Read below.
		s.readable = false
		s.n, s.err = 0, nil
		if err := s.rc.Control(s.ctlStep); err != nil {
			return 0, err
		}
		switch {
		case s.err == syscall.EAGAIN:
		case s.err != nil:
			return 0, s.err
		case s.n == 0:
			return 0, io.EOF
		default:
			return s.n, nil
		}
	}
	for {
		s.n, s.err = 0, nil
		if err := s.rc.Read(s.step); err != nil {
			return 0, err
		}
		switch {
		case s.err != nil || s.hungUp:
			return 0, s.err
		case len(s.req) > 0:
			// A partial write (the socket's buffer is full): finish it
			// through the runtime's poller, then read.
			w, err := s.nc.Write(s.req)
			s.sent += w
			s.req = s.req[w:]
			if err != nil {
				return 0, err
			}
		case s.n == 0:
			return 0, io.EOF
		default:
			return s.n, nil
		}
	}
}

// io is rc.Read's function: it writes the staged request if there is one
// (then returns false, to wait until the answer can be read), else reads.
func (s *soloSock) io(fd uintptr) bool {
	if len(s.req) > 0 {
		return s.writeStaged(int(fd))
	}
	s.n, s.err = readFD(int(fd), s.p)
	return s.err != syscall.EAGAIN
}

// readNow is rc.Control's function for a read the caller expects to find
// data for.
func (s *soloSock) readNow(fd uintptr) { s.n, s.err = readFD(int(fd), s.p) }

// writeStaged checks for a hang-up if asked, then writes the request. It
// returns false (wait until the socket is readable) once the whole
// request is written.
func (s *soloSock) writeStaged(fd int) bool {
	if s.check {
		s.check = false
		if peekClosed(fd) {
			s.hungUp = true
			return true
		}
	}
	for {
		w, err := rawIO(syscall.SYS_WRITE, fd, s.req)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return true
		case err != nil:
			s.err = err
			return true
		}
		s.sent += w
		s.req = s.req[w:]
		return len(s.req) > 0
	}
}

func readFD(fd int, p []byte) (int, error) {
	for {
		n, err := rawIO(syscall.SYS_READ, fd, p)
		if err != syscall.EINTR {
			return max(n, 0), err
		}
	}
}

// peekClosed reports, without blocking, whether the peer closed the
// connection (EOF or an error such as a reset is pending).
func peekClosed(fd int) bool {
	var b [1]byte
	for {
		n, _, err := syscall.Recvfrom(fd, b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if err == syscall.EINTR {
			continue
		}
		return (err == nil && n == 0) || (err != nil && err != syscall.EAGAIN)
	}
}

// connIDs numbers window-1 connections (clientConn.id).
var connIDs atomic.Uint64

// newSoloConn makes a connection over nc that its callers drive (no
// reader goroutine yet); ok is false when nc is not a socket (then the
// reader serves it from the start).
func newSoloConn(nc net.Conn) (cn *clientConn, ok bool) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	s := &soloSock{nc: nc, rc: rc}
	s.step = s.io
	s.polledStep = s.polledWrite
	s.ctlStep = s.readNow
	cn = &clientConn{id: connIDs.Add(1), nc: nc, rc: rc, solo: s, br: bufio.NewReaderSize(s, 64<<10),
		out: make([]byte, 0, 1<<10), gone: make(chan struct{}), dead: make(chan struct{}), done: make(chan struct{})}
	close(cn.dead)
	close(cn.done) // no reader goroutine to wait for
	return cn, true
}

// roundTripSolo is roundTrip on a window-1 connection, for the caller
// holding c.solo (callers beyond the window take turns). The request is
// written and its answer read by this goroutine; ctx ending meanwhile
// closes the connection (see watchLocked), which ends the wait.
func (c *Client) roundTripSolo(ctx context.Context, cn *clientConn, op byte, key, value string, cas uint64) (*call, error) {
	cl := callPool.Get().(*call)
	cl.op, cl.key = op, key
	fail := func(err error) (*call, error) {
		release(cl)
		return nil, err
	}
	check := cn.solo.idle()
	for {
		err := cn.exchange(cl, value, cas, check)
		c.busy.Store(0)
		s := cn.solo
		switch {
		case err == nil && cl.err != nil:
			return fail(cl.err)
		case err == nil:
			s.markAnswered()
			return cl, nil
		case s.hungUp:
			// The server hung up while the connection was idle, or sent
			// what nobody asked for: nothing of this request was sent;
			// dial a fresh connection for it.
			c.breakConn(cn)
			check = false
		case s.sent == 0:
			c.breakConn(cn)
			return fail(fmt.Errorf("memcached client: %s %q: not sent: %w", opName(op), key, ctxOr(ctx, err)))
		default:
			c.breakConn(cn)
			return fail(fmt.Errorf("memcached client: %s %q: %w: %w", opName(op), key, impls.ErrUnknownOutcome, ctxOr(ctx, err)))
		}
		var ok bool
		if cn, ok, err = c.soloConn(ctx); err != nil {
			return fail(err)
		} else if !ok {
			return fail(fmt.Errorf("memcached client: %s %q: not sent: connection is not a socket", opName(op), key))
		}
	}
}

// errUnsolicited: bytes arrived on an idle window-1 connection.
var errUnsolicited = fmt.Errorf("%w: data nobody asked for", errProtocol)

// exchange sends cl's request and reads its answer into cl; check asks to
// test first whether the server has hung up.
func (cn *clientConn) exchange(cl *call, value string, cas uint64, check bool) error {
	s := cn.solo
	if cn.br.Buffered() > 0 {
		// The stream is out of step; nothing is sent on it.
		s.stage(nil, false)
		s.hungUp = true
		return errUnsolicited
	}
	cn.out = appendRequest(cn.out[:0], cl.op, cl.key, value, cas)
	s.stage(cn.out, check)
	if err := readResponse(cn.br, cl); err != nil {
		return err
	}
	if len(s.req) > 0 { // cannot happen: the first Read writes the request
		return errProtocol
	}
	return nil
}

// soloConn returns the connection for the window-1 path, dialling when
// needed, and arms the ctx watch; ok is false when the connection is not a
// window-1 one.
func (c *Client) soloConn(ctx context.Context) (cn *clientConn, ok bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cn, err = c.connLocked(ctx); err != nil {
		return nil, false, err
	}
	if cn.solo == nil {
		return cn, false, nil
	}
	c.watchLocked(ctx)
	return cn, true, nil
}

// ctxOr returns ctx's error when ctx has ended (the cause of err), else err.
func ctxOr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if err == nil {
		return errProtocol
	}
	return err
}

// watchLocked makes ctx ending close the connection while a request under
// ctx is in flight (c.busy holds the watch's generation from here until
// roundTripSolo reads the answer). Successive requests under contexts
// that end together (the same Done channel) share one registration, so a
// benchmark's long-lived context costs one context.AfterFunc, not one per
// request. The caller holds c.mu and c.solo.
func (c *Client) watchLocked(ctx context.Context) {
	done := ctx.Done()
	if done != c.watchDone || c.watchStop == nil {
		if c.watchStop != nil {
			c.watchStop()
		}
		c.watchGen++
		c.watchDone, c.watchStop = done, func() bool { return true }
		if done != nil {
			gen := c.watchGen
			c.watchStop = context.AfterFunc(ctx, func() {
				c.mu.Lock()
				if c.busy.Load() == gen && c.cn != nil {
					c.breakLocked(c.cn)
				}
				c.mu.Unlock()
			})
		}
	}
	c.busy.Store(c.watchGen)
}
