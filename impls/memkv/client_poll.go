package memkv

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/kvbench/kvbench/impls"
)

// The window-1 path split in two for an event loop (impls.Polled): Begin
// writes the request, the loop waits (epoll) until the socket is readable,
// and Finish reads the answer with the same reader, parser and failure
// classification as roundTripSolo. Between the two the client holds c.solo,
// as roundTripSolo does for a whole round trip, and the ctx watch is armed,
// so ctx ending closes the connection and ends Finish's read.

var _ impls.BorrowedValues = (*Client)(nil)

// BorrowValues makes the values of the Gets that Finish answers alias a
// buffer the client reuses (see impls.BorrowedValues).
func (c *Client) BorrowValues() { c.borrow = true }

// Begin sends a Get, Put or Delete and returns without its answer (see
// impls.Polled); other kinds return impls.ErrNotPolled.
func (c *Client) Begin(ctx context.Context, req impls.Request, watch func(fd int, conn uint64) error) (bool, impls.Response, error) {
	op, ok := opOf(req.Kind)
	if !ok || c.window != 1 {
		return false, impls.Response{}, impls.ErrNotPolled
	}
	if c.polled != nil {
		return false, impls.Response{}, errors.New("memcached client: Begin with a request in flight")
	}
	if err := checkRequest(ctx, req.Key); err != nil {
		return false, impls.Response{}, err
	}
	c.solo.Lock()
	cn, ok, err := c.soloConn(ctx)
	if err != nil || !ok {
		c.solo.Unlock()
		if err == nil {
			err = impls.ErrNotPolled // not a socket: Do serves it
		}
		return false, impls.Response{}, err
	}
	if c.pcall == nil {
		c.pcall = &call{owned: true}
	}
	cl := c.pcall
	cl.op, cl.key = op, req.Key
	fail := func(err error) (bool, impls.Response, error) {
		release(cl)
		c.solo.Unlock()
		return false, impls.Response{}, err
	}
	check := cn.solo.idle()
	for {
		err := cn.send(cl, req.Value, check, watch)
		if err == nil {
			c.polled, c.pcn = cl, cn
			return true, impls.Response{}, nil
		}
		c.busy.Store(0)
		s := cn.solo
		c.breakConn(cn)
		switch {
		case s.hungUp:
			// The server hung up while the connection was idle, or sent
			// what nobody asked for: nothing of this request was sent;
			// dial a fresh connection for it.
			check = false
		case s.sent == 0:
			return fail(fmt.Errorf("memcached client: %s %q: not sent: %w", opName(op), req.Key, ctxOr(ctx, err)))
		default:
			return fail(fmt.Errorf("memcached client: %s %q: %w: %w", opName(op), req.Key, impls.ErrUnknownOutcome, ctxOr(ctx, err)))
		}
		if cn, ok, err = c.soloConn(ctx); err != nil {
			return fail(err)
		} else if !ok {
			return fail(fmt.Errorf("memcached client: %s %q: not sent: connection is not a socket", opName(op), req.Key))
		}
	}
}

// Finish reads the answer to the request Begin sent.
func (c *Client) Finish(ctx context.Context) (impls.Response, error) {
	cl, cn := c.polled, c.pcn
	if cl == nil {
		return impls.Response{}, errors.New("memcached client: Finish with no request in flight")
	}
	c.polled, c.pcn = nil, nil
	defer c.solo.Unlock()
	s := cn.solo
	s.stage(nil, false) // nothing to write: the Reads under br only read
	s.readable = true   // the caller's epoll saw the socket readable
	if c.borrow {
		cl.vbuf = &c.vbuf
	}
	err := readResponse(cn.br, cl)
	s.readable = false // the answer was in br already
	c.busy.Store(0)
	switch {
	case err == nil && cl.err != nil:
		err = cl.err
		release(cl)
		return impls.Response{}, err
	case err == nil:
		s.markAnswered()
		return answer(cl)
	}
	c.breakConn(cn)
	err = fmt.Errorf("memcached client: %s %q: %w: %w", opName(cl.op), cl.key, impls.ErrUnknownOutcome, ctxOr(ctx, err))
	release(cl)
	return impls.Response{}, err
}

// errHungUp: the server closed an idle connection (Begin's check).
var errHungUp = errors.New("server closed the connection")

// send writes cl's request on cn without waiting for the answer; check
// asks to test first whether the server has hung up. watch sees the socket
// before the write, while it cannot be closed. On failure s.hungUp (nothing
// sent, try a fresh connection) and s.sent (bytes written) tell what
// happened.
func (cn *clientConn) send(cl *call, value string, check bool, watch func(fd int, conn uint64) error) error {
	s := cn.solo
	s.stage(nil, false)
	if cn.br.Buffered() > 0 {
		// The stream is out of step; nothing is sent on it.
		s.hungUp = true
		return errUnsolicited
	}
	cn.out = appendRequest(cn.out[:0], cl.op, cl.key, value, 0)
	// s.polledStep (made once: a closure here would be allocated per
	// request) writes s.pout and leaves the outcome in s.pout and s.perr.
	s.pcheck, s.pwatch, s.pid, s.pout, s.perr = check, watch, cn.id, cn.out, nil
	err := cn.rc.Control(s.polledStep)
	req, werr := s.pout, s.perr
	s.pwatch, s.pout, s.perr = nil, nil, nil
	switch {
	case err != nil:
		return err
	case s.hungUp:
		return errHungUp
	case werr != nil:
		return werr
	}
	if len(req) > 0 {
		// The socket's buffer is full: finish through the runtime's poller.
		n, err := cn.nc.Write(req)
		s.sent += n
		if err != nil {
			return err
		}
	}
	return nil
}

// polledWrite is send's function for rc.Control: it checks for a hang-up
// if asked, shows the socket to s.pwatch, then writes s.pout, leaving in
// s.pout what is left and in s.perr the write's or the watch's error.
func (s *soloSock) polledWrite(fd uintptr) {
	if s.pcheck && peekClosed(int(fd)) {
		s.hungUp = true
		return
	}
	if s.perr = s.pwatch(int(fd), s.pid); s.perr != nil {
		return
	}
	for len(s.pout) > 0 {
		n, err := rawIO(syscall.SYS_WRITE, int(fd), s.pout)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return
		case err != nil:
			s.perr = err
			return
		}
		s.sent += n
		s.pout = s.pout[n:]
	}
}
