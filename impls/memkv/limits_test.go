package memkv

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// TestConnLimit: connections beyond --conn-limit are answered like
// memcached answers them and closed; the adapter reports that as a
// definite failure (nothing was executed); a freed slot is reused.
func TestConnLimit(t *testing.T) {
	s := newMemServer(t, Config{MaxConns: 2})
	addr := startTCP(t, s)
	a, b := dialSession(t, addr), dialSession(t, addr)
	for _, c := range []*session{a, b} {
		if got := c.do("version\r\n", 1); !strings.HasPrefix(got, "VERSION") {
			t.Fatalf("within the limit: %q", got)
		}
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	out, _ := io.ReadAll(nc)
	nc.Close()
	if string(out) != "ERROR Too many open connections\r\n" {
		t.Errorf("beyond the limit: %q", out)
	}
	cl, err := Dial(context.Background(), addr, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	waitInput(t, cl.(*Client)) // the refusal has arrived
	if _, err := cl.Do(context.Background(), impls.Request{Kind: impls.Put, Key: "k", Value: "v"}); err == nil || impls.IsUnknown(err) {
		t.Errorf("adapter beyond the limit: %v, want a definite error", err)
	}
	if got := a.do("stats\r\n", 1); !strings.HasPrefix(got, "STAT") {
		t.Fatal(got)
	}
	a.nc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for s.stats.currConns.Load() > 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := dialSession(t, addr).do("version\r\n", 1); !strings.HasPrefix(got, "VERSION") {
		t.Errorf("after a connection closed: %q", got)
	}
	if n := s.stats.rejectedConns.Load(); n != 2 {
		t.Errorf("rejected_connections %d, want 2", n)
	}
}

// TestInflightBudget: a value's buffer grows with the bytes that arrived
// (never the declared size up front), all values being received share
// one budget, a value beyond it is refused with memcached's out-of-memory
// line and skipped (the connection stays usable), and so is a multi-get
// line that would not fit.
func TestInflightBudget(t *testing.T) {
	s := newMemServer(t, Config{MaxInflightBytes: minInflightBytes})
	addr := startTCP(t, s)
	a, b := dialSession(t, addr), dialSession(t, addr)
	// a announces 1 MB and sends 40 KB: it holds a 64 KiB buffer, not 1 MB.
	a.nc.Write([]byte("set big 0 0 1048576\r\n" + strings.Repeat("a", 40<<10)))
	deadline := time.Now().Add(10 * time.Second)
	for s.inflight.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := s.inflight.Load(); got != 64<<10 {
		t.Fatalf("in flight after 40 KB of a 1 MB value: %d bytes, want 65536", got)
	}
	// The budget is spent: b's 50 KB value is refused, b stays usable.
	val := strings.Repeat("b", 50<<10)
	if got := b.do(setCmd("v", val)+"get v\r\n", 2); got != oomLine+"\r\nEND\r\n" {
		t.Errorf("value beyond the budget: %q", got)
	}
	// Small values do not need the budget.
	if got := b.do(setCmd("small", "x")+"get small\r\n", 4); got != "STORED\r\nVALUE small 0 1\r\nx\r\nEND\r\n" {
		t.Errorf("small value: %q", got)
	}
	// a's value cannot grow past the budget either: refused once it is all there.
	a.nc.Write([]byte(strings.Repeat("a", 1048576-40<<10) + "\r\n"))
	if got := a.do("get big\r\n", 2); got != oomLine+"\r\nEND\r\n" {
		t.Errorf("1 MB value beyond the budget: %q", got)
	}
	if got := s.inflight.Load(); got != 0 {
		t.Errorf("budget not returned: %d bytes in flight", got)
	}
	if got := b.do(setCmd("v", val), 1); got != "STORED\r\n" {
		t.Errorf("value within the budget once it is free: %q", got)
	}
	// A multi-get line longer than the budget is refused and the connection
	// closed. (70 KB: the server has read all of it when it refuses, so the
	// close is not a reset that could overtake the answer.)
	c := dialSession(t, addr)
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	c.nc.Write([]byte("get" + strings.Repeat(" key", 17500) + "\r\n"))
	if got, err := c.br.ReadString('\n'); got != oomReadLine+"\r\n" {
		t.Errorf("long multi-get beyond the budget: %q %v", got, err)
	}
	if _, err := c.br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("connection not closed after the refused line: %v", err)
	}
}

// waitInput waits until the server has sent c's connection something (or
// hung up), without consuming it.
func waitInput(t *testing.T, c *Client) {
	t.Helper()
	c.mu.Lock()
	cn := c.cn
	c.mu.Unlock()
	if cn == nil || cn.rc == nil {
		t.Fatal("the client has no connection")
	}
	for i := 0; ; i++ {
		if _, err := cn.peek(); err != syscall.EAGAIN {
			return // input, EOF or a broken connection
		}
		if i > 10000 {
			t.Fatal("the server sent nothing within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
