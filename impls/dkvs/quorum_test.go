package dkvs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// testServer is one in-process dkvs server on a loopback port.
type testServer struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// startServers starts n servers preloaded with pairs and returns them and a
// servers.txt text with one node each.
func startServers(t *testing.T, n int, pairs ...string) ([]*testServer, string) {
	t.Helper()
	var out []*testServer
	var txt strings.Builder
	for i := 0; i < n; i++ {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		s := &testServer{addr: conn.LocalAddr().String(), cancel: cancel, done: make(chan error, 1)}
		go func() { s.done <- NewServer(pairs...).Serve(ctx, conn) }()
		t.Cleanup(s.stop)
		out = append(out, s)
		host, port, _ := net.SplitHostPort(s.addr)
		fmt.Fprintf(&txt, "%s %s 1\n", host, port)
	}
	return out, txt.String()
}

func (s *testServer) stop() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel = nil
	}
}

// deadAddrs reserves n loopback UDP ports nobody answers on (bound, never read).
func deadAddrs(t *testing.T, n int) string {
	t.Helper()
	var txt strings.Builder
	for i := 0; i < n; i++ {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		host, port, _ := net.SplitHostPort(c.LocalAddr().String())
		fmt.Fprintf(&txt, "%s %s 1\n", host, port)
	}
	return txt.String()
}

func TestQuorumPutGet(t *testing.T) {
	_, txt := startServers(t, 3)
	ctx := context.Background()
	c := &QuorumClient{Ring: mustRing(t, txt), Q: Quorum{N: 3, W: 3, R: 3}}
	if err := c.Put(ctx, "abc", "def"); err != nil {
		t.Fatal(err)
	}
	res, err := c.Get(ctx, "abc")
	if err != nil || !res.Found || res.Value != "def" {
		t.Fatalf("get: %+v %v", res, err)
	}
	res, err = c.Get(ctx, "nope")
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrQuorum) || !res.Absent || res.Answered != 3 {
		t.Errorf("get of an absent key: %+v %v; want not found, absent, 3 answers", res, err)
	}
	if _, err := c.Get(ctx, ""); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("get of the empty key: %v", err)
	}
	if err := c.Put(ctx, "", "x"); !errors.Is(err, ErrNetwork) {
		t.Errorf("put of the empty key (servers refuse): %v, want network error", err)
	}
}

// TestQuorumDisagreement: replicas that hold different values give a get
// with R=2 no quorum, and with R=1 the first answer.
func TestQuorumDisagreement(t *testing.T) {
	s1, t1 := startServers(t, 1, "k", "one")
	_, t2 := startServers(t, 1, "k", "two")
	_, t3 := startServers(t, 1, "k", "three")
	_ = s1
	ring := mustRing(t, t1+t2+t3)
	ctx := context.Background()
	c := &QuorumClient{Ring: ring, Q: Quorum{N: 3, W: 2, R: 2}}
	res, err := c.Get(ctx, "k")
	if !errors.Is(err, ErrQuorum) || res.Found || res.Absent || res.Answered != 3 {
		t.Errorf("three different values, R=2: %+v %v", res, err)
	}
	c.Q = Quorum{N: 3, W: 1, R: 1}
	res, err = c.Get(ctx, "k")
	if err != nil || !res.Found {
		t.Errorf("R=1: %+v %v", res, err)
	}
}

func TestQuorumServersDown(t *testing.T) {
	up, txt := startServers(t, 1, "abc", "def")
	ring := mustRing(t, txt+deadAddrs(t, 2))
	ctx := context.Background()
	c := &QuorumClient{Ring: ring, Q: Quorum{N: 3, W: 2, R: 1}, Timeout: time.Second}
	if res, err := c.Get(ctx, "abc"); err != nil || res.Value != "def" {
		t.Errorf("R=1 with one server up: %+v %v", res, err)
	}
	c.Q.R = 2
	start := time.Now()
	res, err := c.Get(ctx, "abc")
	if !errors.Is(err, ErrNotFound) || res.Answered != 1 {
		t.Errorf("R=2 with one server up: %+v %v", res, err)
	}
	if time.Since(start) < 900*time.Millisecond {
		t.Error("a get that cannot reach R returned before the timeout")
	}
	if err := c.Put(ctx, "x", "y"); !errors.Is(err, ErrNetwork) || !errors.Is(err, ErrQuorum) {
		t.Errorf("W=2 with one server up: %v", err)
	}
	c.Q.W = 1
	if err := c.Put(ctx, "x", "y"); err != nil {
		t.Errorf("W=1 with one server up: %v", err)
	}
	up[0].stop()
	c.Q = Quorum{N: 3, W: 1, R: 1}
	if err := c.Put(ctx, "x", "y"); !errors.Is(err, ErrNetwork) {
		t.Errorf("every server down: %v", err)
	}
}

// TestQuorumIgnoresForeignAndDuplicateReplies: a replica that answers twice
// counts once, and a reply from an address outside the replica set does not
// count at all.
func TestQuorumIgnoresForeignAndDuplicateReplies(t *testing.T) {
	// A fake replica answering "v" twice, and one answering from another socket.
	dup, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dup.Close()
	foreign, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	other, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go func() {
		buf := make([]byte, 1<<16)
		for {
			_, from, err := dup.ReadFrom(buf)
			if err != nil {
				return
			}
			dup.WriteTo([]byte("v"), from)
			dup.WriteTo([]byte("v"), from)
		}
	}()
	go func() {
		buf := make([]byte, 1<<16)
		for {
			_, from, err := foreign.ReadFrom(buf)
			if err != nil {
				return
			}
			other.WriteTo([]byte("v"), from)
		}
	}()
	line := func(c net.PacketConn) string {
		h, p, _ := net.SplitHostPort(c.LocalAddr().String())
		return h + " " + p + " 1\n"
	}
	c := &QuorumClient{Ring: mustRing(t, line(dup)+line(foreign)), Q: Quorum{N: 2, W: 2, R: 2}, Timeout: time.Second}
	res, err := c.Get(context.Background(), "k")
	if err == nil || res.Found || res.Answered != 1 {
		t.Errorf("one duplicated and one foreign answer reached R=2: %+v %v", res, err)
	}
}

func TestQuorumValidate(t *testing.T) {
	for _, q := range []Quorum{{0, 1, 1}, {2, 3, 1}, {2, 1, 3}, {3, 0, 1}, {300, 1, 255}} {
		if err := q.Validate(); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("%v: %v", q, err)
		}
	}
	if err := (Quorum{3, 2, 2}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestQuorumHonoursContext(t *testing.T) {
	ring := mustRing(t, deadAddrs(t, 3))
	c := &QuorumClient{Ring: ring, Q: Quorum{N: 3, W: 2, R: 2}, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Put(ctx, "k", "v")
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("put with a 50ms context: %v after %v", err, time.Since(start))
	}
}

// TestQuorumRoute: with Route, datagrams go to the routed address and only
// its replies count, while placement follows the ring's addresses.
func TestQuorumRoute(t *testing.T) {
	_, real := startServers(t, 1, "k", "v")
	ringTxt := deadAddrs(t, 1) // the ring names a dead address...
	ring := mustRing(t, ringTxt)
	to := mustRing(t, real).Servers()[0]
	c := &QuorumClient{Ring: ring, Q: Quorum{N: 1, W: 1, R: 1}, Timeout: time.Second,
		Route: map[netip.AddrPort]netip.AddrPort{ring.Servers()[0]: to}} // ...routed to a live server
	if res, err := c.Get(context.Background(), "k"); err != nil || res.Value != "v" {
		t.Errorf("routed get: %+v %v", res, err)
	}
	c.Route = nil
	if _, err := c.Get(context.Background(), "k"); err == nil {
		t.Error("unrouted get to a dead address succeeded")
	}
}
