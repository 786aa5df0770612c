package netproxy

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// tcpEchoServer echoes each line back until the client closes.
func tcpEchoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, msg string) (string, error) {
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(msg + "\n")); err != nil {
		return "", err
	}
	line, err := r.ReadString('\n')
	return line, err
}

func TestTCPForwardsIsolatesHeals(t *testing.T) {
	p, err := ListenTCP("127.0.0.1:0", tcpEchoServer(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if got, err := roundTrip(c, r, "hello"); err != nil || got != "hello\n" {
		t.Fatalf("through the proxy: %q, %v", got, err)
	}

	// Isolation cuts the open connection and refuses new ones.
	if err := p.Isolate(); err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(c, r, "lost"); err == nil {
		t.Fatalf("an isolated link answered %q", got)
	}
	if c2, err := net.Dial("tcp", p.Addr()); err == nil {
		r2 := bufio.NewReader(c2)
		if got, err := roundTrip(c2, r2, "refused"); err == nil {
			t.Fatalf("a new connection through an isolated link answered %q", got)
		}
		c2.Close()
	}

	// Healed, a new connection works again.
	p.Heal()
	c3, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if got, err := roundTrip(c3, bufio.NewReader(c3), "again"); err != nil || got != "again\n" {
		t.Fatalf("after heal: %q, %v", got, err)
	}
}

func TestTCPDelay(t *testing.T) {
	p, err := ListenTCP("127.0.0.1:0", tcpEchoServer(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if err := p.Degrade(100*time.Millisecond, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if got, err := roundTrip(c, r, "slow"); err != nil || got != "slow\n" {
		t.Fatalf("%q, %v", got, err)
	}
	// Both directions are held 100 ms: a round trip takes at least 200 ms.
	// (A lower bound only: this asserts the fault acted, not a speed.)
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("round trip through a 100 ms delay each way took %v", d)
	}
}

func TestTCPCloseEndsEverything(t *testing.T) {
	p, err := ListenTCP("127.0.0.1:0", tcpEchoServer(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	roundTrip(c, r, "x")
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if _, err := roundTrip(c, r, "after"); err == nil {
		t.Fatal("a connection survived Close")
	}
}
