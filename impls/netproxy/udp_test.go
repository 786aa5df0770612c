package netproxy

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// echoServer answers each datagram with "<source address>|<payload>".
func echoServer(t *testing.T) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			c.WriteToUDPAddrPort(append([]byte(from.String()+"|"), buf[:n]...), from)
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func newProxy(t *testing.T, seed int64) *UDP {
	t.Helper()
	p, err := ListenUDP("127.0.0.1:0", echoServer(t), seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func client(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exchange sends msg to the proxy and collects replies: until want have
// come (or 5 s passed, on a slow machine), then any more that come within
// quietFor (a duplicate, a reply that should not have come).
func exchange(t *testing.T, c *net.UDPConn, to netip.AddrPort, msg string, want int) (replies []string, froms []netip.AddrPort) {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort([]byte(msg), to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<16)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if len(replies) >= want {
			deadline = time.Now().Add(quietFor)
		}
		c.SetReadDeadline(deadline)
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return replies, froms
		}
		replies = append(replies, string(buf[:n]))
		froms = append(froms, from)
	}
}

// quietFor is how long exchange waits for replies beyond those it wants.
const quietFor = 200 * time.Millisecond

func TestUDPForwardsAndAnswersFromItsAddress(t *testing.T) {
	p := newProxy(t, 1)
	p.SetLifetimes(time.Minute, time.Minute)
	a, b := client(t), client(t)
	ra, fa := exchange(t, a, p.Addr(), "hello", 1)
	rb, _ := exchange(t, b, p.Addr(), "world", 1)
	if len(ra) != 1 || len(rb) != 1 {
		t.Fatalf("replies %q %q, want one each", ra, rb)
	}
	if fa[0] != p.Addr() {
		t.Errorf("reply came from %v, want the proxy %v", fa[0], p.Addr())
	}
	srcA, payloadA, _ := cut(ra[0])
	srcB, payloadB, _ := cut(rb[0])
	if payloadA != "hello" || payloadB != "world" {
		t.Errorf("payloads %q %q", payloadA, payloadB)
	}
	if srcA == srcB {
		t.Errorf("two clients share upstream source %s; want one flow per client", srcA)
	}
	if p.Flows() != 2 {
		t.Errorf("%d flows, want 2", p.Flows())
	}
	// The same client reuses its flow.
	ra2, _ := exchange(t, a, p.Addr(), "again", 1)
	if len(ra2) != 1 {
		t.Fatalf("replies %q, want one", ra2)
	}
	if src, _, _ := cut(ra2[0]); src != srcA {
		t.Errorf("client a's second datagram used upstream %s, first %s", src, srcA)
	}
}

func cut(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '|' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// TestUDPFlowLifetimes: a flow whose datagrams were all answered closes
// after the linger; one still waiting for an answer stays until idle.
func TestUDPFlowLifetimes(t *testing.T) {
	p := newProxy(t, 1)
	p.SetLifetimes(time.Minute, 50*time.Millisecond)
	if r, _ := exchange(t, client(t), p.Addr(), "x", 1); len(r) != 1 {
		t.Fatalf("replies %q", r)
	}
	if !eventually(func() bool { return p.Flows() == 0 }) {
		t.Errorf("%d flows remain after the answer (linger 50ms, idle 1m)", p.Flows())
	}
	// An upstream that never answers: the flow waits for idle.
	mute, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	q, err := ListenUDP("127.0.0.1:0", mute.LocalAddr().(*net.UDPAddr).AddrPort(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	q.SetLifetimes(time.Minute, 10*time.Millisecond)
	exchange(t, client(t), q.Addr(), "x", 0)
	if n := q.Flows(); n != 1 {
		t.Errorf("%d flows: the unanswered flow should stay until idle, not close after the linger", n)
	}
	q.SetLifetimes(50*time.Millisecond, 10*time.Millisecond)
	if !eventually(func() bool { return q.Flows() == 0 }) {
		t.Errorf("%d flows after idle", q.Flows())
	}
}

// eventually polls cond for up to 5 s.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func TestUDPFaults(t *testing.T) {
	p := newProxy(t, 1)
	c := client(t)
	p.Isolate()
	if r, _ := exchange(t, c, p.Addr(), "x", 0); len(r) != 0 {
		t.Errorf("isolated proxy delivered %q", r)
	}
	p.Heal()
	if r, _ := exchange(t, c, p.Addr(), "x", 1); len(r) != 1 {
		t.Errorf("healed proxy: %q", r)
	}
	if err := p.Degrade(0, 0, 1, 0); err != nil {
		t.Fatal(err)
	}
	if r, _ := exchange(t, c, p.Addr(), "x", 0); len(r) != 0 {
		t.Errorf("loss=1 delivered %q", r)
	}
	// dup=1 in both directions: one request becomes two, each answered
	// twice.
	p.Degrade(0, 0, 0, 1)
	if r, _ := exchange(t, c, p.Addr(), "x", 4); len(r) != 4 {
		t.Errorf("dup=1 delivered %d replies, want 4", len(r))
	}
	p.Degrade(20*time.Millisecond, 10*time.Millisecond, 0, 0)
	if r, _ := exchange(t, c, p.Addr(), "x", 1); len(r) != 1 {
		t.Errorf("delayed link: %q", r)
	}
	if err := p.Degrade(0, 0, 1.5, 0); err == nil {
		t.Error("loss 1.5 accepted")
	}
}

func TestFaultsDeterministic(t *testing.T) {
	a, b, c := NewFaults(7), NewFaults(7), NewFaults(8)
	for _, f := range []*Faults{a, b, c} {
		f.Degrade(time.Millisecond, 5*time.Millisecond, 0.3, 0.2)
	}
	same, differ := true, false
	for i := 0; i < 200; i++ {
		da, db, dc := a.Decide(), b.Decide(), c.Decide()
		same = same && equal(da, db)
		differ = differ || !equal(da, dc)
	}
	if !same {
		t.Error("equal seeds gave different decisions")
	}
	if !differ {
		t.Error("different seeds gave identical decisions")
	}
}

func equal(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestUDPCloseStopsEverything(t *testing.T) {
	p, err := ListenUDP("127.0.0.1:0", echoServer(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	c := client(t)
	exchange(t, c, p.Addr(), "x", 1)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if r, _ := exchange(t, c, p.Addr(), "x", 0); len(r) != 0 {
		t.Errorf("closed proxy answered %q", r)
	}
}
