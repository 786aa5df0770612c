package netproxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Flow lifetimes. A client's flow (its upstream socket) is closed once it
// has been idle for DefaultIdle, or, when every datagram it forwarded has
// been answered by as many datagrams from the server, once it has been
// quiet for DefaultLinger. Request/response clients that use a fresh
// socket per request (dkvs) would otherwise keep thousands of sockets open
// under load; a multi-datagram answer (a dkvs dump) arrives back to back,
// well within the linger.
const (
	DefaultIdle   = 3 * time.Second
	DefaultLinger = 200 * time.Millisecond
)

// UDP forwards datagrams between clients and one upstream UDP server,
// applying its Faults in both directions. Each client source address gets
// its own upstream socket (a flow), so the server replies to that socket
// and the proxy relays the reply to the client from the listener's
// address: to the client, the proxy is the server.
type UDP struct {
	*Faults
	ln       *net.UDPConn
	upstream netip.AddrPort
	idle     time.Duration // guarded by mu
	linger   time.Duration // guarded by mu

	mu     sync.Mutex
	flows  map[netip.AddrPort]*flow
	closed bool
	wg     sync.WaitGroup
	done   chan struct{}
}

// flow is one client's upstream socket.
type flow struct {
	client netip.AddrPort
	conn   *net.UDPConn
	// guarded by UDP.mu:
	last    time.Time // last datagram either way
	pending int       // datagrams forwarded upstream minus datagrams answered
}

// ListenUDP starts a proxy listening on listen (e.g. "127.0.0.1:0") that
// forwards to upstream, with link faults drawn from seed. Close stops it.
func ListenUDP(listen string, upstream netip.AddrPort, seed int64) (*UDP, error) {
	la, err := net.ResolveUDPAddr("udp4", listen)
	if err != nil {
		return nil, fmt.Errorf("netproxy: %w", err)
	}
	ln, err := net.ListenUDP("udp4", la)
	if err != nil {
		return nil, fmt.Errorf("netproxy: %w", err)
	}
	_ = ln.SetReadBuffer(4 << 20)
	_ = ln.SetWriteBuffer(4 << 20)
	p := &UDP{Faults: NewFaults(seed), ln: ln, upstream: upstream, idle: DefaultIdle, linger: DefaultLinger,
		flows: map[netip.AddrPort]*flow{}, done: make(chan struct{})}
	p.wg.Add(2)
	go p.readClients()
	go p.expire()
	return p, nil
}

// Addr is the address clients send to.
func (p *UDP) Addr() netip.AddrPort { return p.ln.LocalAddr().(*net.UDPAddr).AddrPort() }

// Upstream is the server the proxy forwards to.
func (p *UDP) Upstream() netip.AddrPort { return p.upstream }

// Flows returns how many client flows are open (for tests and logs).
func (p *UDP) Flows() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.flows)
}

// Close stops forwarding, closes every socket and waits for the proxy's
// goroutines. Datagrams still delayed are dropped.
func (p *UDP) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	err := p.ln.Close()
	for _, f := range p.flows {
		f.conn.Close()
	}
	p.flows = nil
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// readClients relays client datagrams upstream through their flows.
func (p *UDP) readClients() {
	defer p.wg.Done()
	buf := make([]byte, 1<<16)
	for {
		n, from, err := p.ln.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		f, err := p.flowFor(from)
		if err != nil {
			continue // the client's datagram is lost, as on a congested link
		}
		p.deliver(buf[:n], func(b []byte) {
			p.mu.Lock()
			f.pending++
			f.last = time.Now()
			p.mu.Unlock()
			_, _ = f.conn.Write(b)
		})
	}
}

// flowFor returns client's flow, opening it (and its reader) on first use.
func (p *UDP) flowFor(client netip.AddrPort) (*flow, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, net.ErrClosed
	}
	if f := p.flows[client]; f != nil {
		f.last = time.Now()
		return f, nil
	}
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(p.upstream))
	if err != nil {
		return nil, err
	}
	_ = conn.SetReadBuffer(4 << 20)
	f := &flow{client: client, conn: conn, last: time.Now()}
	p.flows[client] = f
	p.wg.Add(1)
	go p.readUpstream(f)
	return f, nil
}

// readUpstream relays the server's replies on f back to f's client.
func (p *UDP) readUpstream(f *flow) {
	defer p.wg.Done()
	buf := make([]byte, 1<<16)
	for {
		n, err := f.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP unreachable while the server is down
		}
		p.mu.Lock()
		f.last = time.Now()
		f.pending--
		p.mu.Unlock()
		p.deliver(buf[:n], func(b []byte) { _, _ = p.ln.WriteToUDPAddrPort(b, f.client) })
	}
}

// deliver sends b (copied when delayed) as Faults decides.
func (p *UDP) deliver(b []byte, send func([]byte)) {
	for _, d := range p.Decide() {
		if d == 0 {
			send(b)
			continue
		}
		c := append([]byte(nil), b...)
		time.AfterFunc(d, func() {
			select {
			case <-p.done:
			default:
				send(c)
			}
		})
	}
}

// expireTick is how often expire looks for flows to close.
const expireTick = 25 * time.Millisecond

// SetLifetimes changes how long idle and answered flows live (see
// DefaultIdle and DefaultLinger).
func (p *UDP) SetLifetimes(idle, linger time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle, p.linger = idle, linger
}

// expire closes flows idle for longer than p.idle, and answered flows
// quiet for longer than p.linger.
func (p *UDP) expire() {
	defer p.wg.Done()
	t := time.NewTicker(expireTick)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case now := <-t.C:
			p.mu.Lock()
			for k, f := range p.flows {
				quiet := now.Sub(f.last)
				if quiet > p.idle || (f.pending <= 0 && quiet > p.linger) {
					f.conn.Close()
					delete(p.flows, k)
				}
			}
			p.mu.Unlock()
		}
	}
}
