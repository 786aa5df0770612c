package madkv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// conn is one client connection to a server or the manager. Any number of
// goroutines may call it at once: requests are written whole under a lock
// and a reader goroutine matches responses to callers by tag, so calls
// pipeline on the connection.
type conn struct {
	addr string
	nc   net.Conn

	wmu  sync.Mutex // serializes writes
	wbuf []byte

	mu      sync.Mutex
	pending map[uint64]chan response
	nextTag uint64
	err     error         // why the connection died
	dead    chan struct{} // closed when the reader stopped
}

// errConnLost: the connection broke (the peer crashed or closed it).
var errConnLost = errors.New("madkv: connection lost")

const dialTimeout = time.Second

func dialConn(ctx context.Context, addr string) (*conn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c := &conn{addr: addr, nc: nc, pending: map[uint64]chan response{}, dead: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

func (c *conn) alive() bool {
	select {
	case <-c.dead:
		return false
	default:
		return true
	}
}

func (c *conn) close() {
	c.nc.Close()
	<-c.dead
}

func (c *conn) readLoop() {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var buf []byte
	var err error
	for {
		buf, err = readFrame(br, buf, MaxResponseFrame)
		if err != nil {
			break
		}
		var r response
		r, err = decodeResponse(buf)
		if err != nil {
			break
		}
		c.mu.Lock()
		ch := c.pending[r.tag]
		delete(c.pending, r.tag)
		c.mu.Unlock()
		if ch != nil {
			ch <- r // cap 1, one send per tag
		}
		if cap(buf) > 1<<20 {
			buf = nil // do not keep a large scan's buffer
		}
	}
	c.nc.Close()
	c.mu.Lock()
	c.err = fmt.Errorf("%w: %s: %v", errConnLost, c.addr, err)
	c.pending = nil
	c.mu.Unlock()
	close(c.dead)
}

// call sends r and waits for its response. sent reports whether any byte
// of the request may have reached the peer (then, on an error, the request
// may have been executed).
func (c *conn) call(ctx context.Context, r *request) (resp response, sent bool, err error) {
	ch := make(chan response, 1)
	c.mu.Lock()
	if c.pending == nil {
		err := c.err
		c.mu.Unlock()
		return response{}, false, err
	}
	c.nextTag++
	r.tag = c.nextTag
	c.pending[r.tag] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		if c.pending != nil {
			delete(c.pending, r.tag)
		}
		c.mu.Unlock()
	}

	c.wmu.Lock()
	c.wbuf = appendRequest(c.wbuf[:0], r)
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetWriteDeadline(dl)
	} else {
		c.nc.SetWriteDeadline(time.Time{})
	}
	_, werr := c.nc.Write(c.wbuf)
	if cap(c.wbuf) > 1<<20 {
		c.wbuf = nil
	}
	c.wmu.Unlock()
	if werr != nil {
		forget()
		c.nc.Close() // a partial frame leaves the stream unusable
		<-c.dead
		return response{}, true, fmt.Errorf("%w: %s: write: %v", errConnLost, c.addr, werr)
	}
	select {
	case resp := <-ch:
		return resp, true, nil
	case <-c.dead:
		select {
		case resp := <-ch: // answered just before the connection died
			return resp, true, nil
		default:
		}
		c.mu.Lock()
		err := c.err
		c.mu.Unlock()
		return response{}, true, err
	case <-ctx.Done():
		forget() // a late answer finds no tag and is dropped
		return response{}, true, ctx.Err()
	}
}

// peer is one address and its current connection, redialled on demand.
type peer struct {
	addr string
	mu   sync.Mutex
	c    *conn
	// resent counts mutations sent again after an attempt that may have
	// reached the server (what deduplication is for).
	resent atomic.Uint64
}

func (p *peer) get(ctx context.Context) (*conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.c != nil && p.c.alive() {
		return p.c, nil
	}
	c, err := dialConn(ctx, p.addr)
	if err != nil {
		return nil, err
	}
	p.c = c
	return c, nil
}

func (p *peer) close() {
	p.mu.Lock()
	c := p.c
	p.c = nil
	p.mu.Unlock()
	if c != nil {
		c.close()
	}
}
