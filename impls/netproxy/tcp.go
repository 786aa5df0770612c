package netproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// TCP forwards connections to one upstream TCP server, applying its Faults
// to the byte stream in both directions. On a stream a dropped packet has no
// meaning (TCP would resend it), so:
//   - Isolate cuts every open connection at once and refuses new ones until
//     Heal: to both sides the link is gone;
//   - Degrade's delay and jitter hold each chunk before it is written, in
//     order; a loss decision cuts the connection (what a peer sees when too
//     many packets are lost); duplication is ignored.
type TCP struct {
	*Faults
	ln       net.Listener
	upstream string

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// ListenTCP starts a proxy on listen (e.g. "127.0.0.1:0") forwarding to
// upstream, with fault decisions drawn from seed. Close stops it.
func ListenTCP(listen, upstream string, seed int64) (*TCP, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("netproxy: %w", err)
	}
	p := &TCP{Faults: NewFaults(seed), ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to instead of the upstream's.
func (p *TCP) Addr() string { return p.ln.Addr().String() }

// Upstream is the server the proxy forwards to.
func (p *TCP) Upstream() string { return p.upstream }

// Isolate cuts every open connection and refuses new ones until Heal.
func (p *TCP) Isolate() error {
	if err := p.Faults.Isolate(); err != nil {
		return err
	}
	p.cutAll()
	return nil
}

// Close stops accepting, cuts every connection and waits for the pumps.
func (p *TCP) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.cutAll()
	p.wg.Wait()
	return err
}

func (p *TCP) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// track registers c so Isolate and Close can cut it; false when the proxy
// is closed.
func (p *TCP) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *TCP) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *TCP) accept() {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. EMFILE: back off, keep serving
			continue
		}
		if p.isolatedNow() {
			down.Close() // refused while isolated
			continue
		}
		p.wg.Add(1)
		go p.serve(down)
	}
}

// isolatedNow reports whether the links are cut (not merely lossy).
func (p *TCP) isolatedNow() bool {
	p.Faults.mu.Lock()
	defer p.Faults.mu.Unlock()
	return p.isolated
}

func (p *TCP) serve(down net.Conn) {
	defer p.wg.Done()
	up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		down.Close()
		return
	}
	if !p.track(down) || !p.track(up) {
		down.Close()
		up.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pump(up, down) }()
	go func() { defer wg.Done(); p.pump(down, up) }()
	wg.Wait()
	p.untrack(down)
	p.untrack(up)
}

// pump copies src to dst chunk by chunk, holding or cutting each chunk as
// the faults decide. A clean end of src is passed on as a half-close; an
// error or a cut closes both sides, which ends the other pump too.
func (p *TCP) pump(dst, src net.Conn) {
	cut := true
	defer func() {
		if cut {
			dst.Close()
			src.Close()
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			d := p.Decide()
			if d == nil {
				return // isolated or lost: the link is cut
			}
			if d[0] > 0 {
				time.Sleep(d[0])
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if cw, ok := dst.(*net.TCPConn); ok && errors.Is(err, io.EOF) {
				cw.CloseWrite() // pass the half-close on; the other direction goes on
				cut = false
			}
			return
		}
	}
}
