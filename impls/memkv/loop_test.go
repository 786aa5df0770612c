package memkv

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// loopModes are both ways of serving connections.
var loopModes = []LoopMode{LoopEpoll, LoopGo}

// sendAll sends in on a new connection to addr, shuts down its sending
// side and returns everything the server wrote until it closed.
func sendAll(t testing.TB, addr string, in ...string) string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// A generous deadline: it only tells a hang from an answer.
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	for i, part := range in {
		if i > 0 {
			time.Sleep(time.Millisecond) // most likely a read of its own
		}
		if _, err := io.WriteString(nc, part); err != nil {
			t.Fatal(err)
		}
	}
	nc.(*net.TCPConn).CloseWrite()
	out, err := io.ReadAll(nc)
	if err != nil {
		t.Fatalf("input %q: %v after %q", trunc(strings.Join(in, "")), err, out)
	}
	return string(out)
}

// TestProtocolOverTCP: the protocol table over a socket, served by the
// event loops and by goroutines, gives the same bytes as the interpreter
// alone (TestProtocol).
func TestProtocolOverTCP(t *testing.T) {
	for _, mode := range loopModes {
		t.Run(mode.String(), func(t *testing.T) {
			for _, tc := range protocolCases {
				s := newMemServer(t, Config{MaxValueSize: 1024, Loop: mode})
				if got := sendAll(t, startTCP(t, s), tc.in); got != tc.want {
					t.Errorf("%s: input %q\n got %q\nwant %q", tc.name, trunc(tc.in), got, tc.want)
				}
			}
		})
	}
}

// TestLoopSplitAtEveryByte: a pipeline arriving in two reads, cut at every
// byte (inside lines, inside data blocks, between "\r" and "\n"), is
// answered exactly as when it arrives whole.
func TestLoopSplitAtEveryByte(t *testing.T) {
	in := "set a 0 0 5\r\nhello\r\nget a b\r\nincr n 1\r\nset n 0 0 1 noreply\r\n7\r\nincr n 2\r\n" +
		"append a 0 0 1\r\n!\r\ngets a\r\ndelete a\r\nbogus\r\nget a\r\n"
	want := converse(newMemServer(t, Config{}), in)
	for i := 1; i < len(in); i++ {
		s := newMemServer(t, Config{Loop: LoopEpoll})
		if got := sendAll(t, startTCP(t, s), in[:i], in[i:]); got != want {
			t.Fatalf("split at %d (%q|%q):\n got %q\nwant %q", i, in[max(0, i-10):i], in[i:min(len(in), i+10)], got, want)
		}
		s.Close()
	}
}

// TestLoopManyConnections: many concurrent connections, each with its own
// keys, pipelined and one request at a time.
func TestLoopManyConnections(t *testing.T) {
	s := newMemServer(t, Config{Loop: LoopEpoll, MaxConns: 2000})
	addr := startTCP(t, s)
	const conns, rounds = 300, 20
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- chatter(addr, i, rounds)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if out := converse(s, "stats\r\n"); !strings.Contains(out, fmt.Sprintf("STAT total_connections %d\r\n", conns)) {
		t.Errorf("stats after %d connections:\n%s", conns, out)
	}
}

// chatter sets and reads back keys of connection id: one request per
// round trip, then a pipelined batch.
func chatter(addr string, id, rounds int) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(nc)
	expect := func(want string) error {
		got := make([]byte, len(want))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
			return fmt.Errorf("conn %d: got %q %v, want %q", id, got, err, want)
		}
		return nil
	}
	var batch, batchWant strings.Builder
	for r := range rounds {
		k, v := fmt.Sprintf("c%d-%d", id, r), fmt.Sprintf("v%d", r*id)
		fmt.Fprintf(nc, "set %s 0 0 %d\r\n%s\r\n", k, len(v), v)
		if err := expect("STORED\r\n"); err != nil {
			return err
		}
		fmt.Fprintf(&batch, "get %s\r\n", k)
		fmt.Fprintf(&batchWant, "VALUE %s 0 %d\r\n%s\r\nEND\r\n", k, len(v), v)
	}
	io.WriteString(nc, batch.String())
	return expect(batchWant.String())
}

// TestLoopClientThatNeverReads: a client that asks for large answers and
// never reads them fills its socket; the loop holds its replies and serves
// everyone else meanwhile.
func TestLoopClientThatNeverReads(t *testing.T) {
	s := newMemServer(t, Config{Loop: LoopEpoll})
	addr := startTCP(t, s)
	big := strings.Repeat("x", 15000) // fits the loop's buffer: no goroutine
	if got := sendAll(t, addr, fmt.Sprintf("set big 0 0 %d\r\n%s\r\n", len(big), big)); got != "STORED\r\n" {
		t.Fatalf("set big: %q", got)
	}
	var hogs []net.Conn
	for range 4 { // on every loop, most likely
		hog, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer hog.Close()
		hogs = append(hogs, hog)
		go func() {
			// 2000 answers of 15 KB: far more than socket buffers take.
			io.WriteString(hog, strings.Repeat("get big\r\n", 2000))
		}()
	}
	time.Sleep(100 * time.Millisecond)
	for i := range 20 {
		if err := chatter(addr, i, 5); err != nil {
			t.Fatal(err)
		}
	}
	// The hogs' answers are intact once they read.
	br := bufio.NewReader(hogs[0])
	hogs[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	want := fmt.Sprintf("VALUE big 0 %d\r\n%s\r\nEND\r\n", len(big), big)
	for i := range 2000 {
		got := make([]byte, len(want))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
			t.Fatalf("answer %d to the slow reader: %v %q", i, err, trunc(string(got)))
		}
	}
}

// TestLoopClosedMidCommand: connections that go away inside a command line
// or a data block change nothing and leave the server serving.
func TestLoopClosedMidCommand(t *testing.T) {
	s := newMemServer(t, Config{Loop: LoopEpoll})
	addr := startTCP(t, s)
	for _, in := range []string{"set a 0 0 10\r\nabc", "set a 0 0 10\r\n", "set a 0 0", "get a b", "set a 0 0 1\r\nx\r"} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(nc, in)
		time.Sleep(time.Millisecond)
		nc.Close() // a reset or a FIN, whichever comes
		if got := sendAll(t, addr, "get a\r\n"); got != "END\r\n" {
			t.Fatalf("after a connection closed in %q: get a = %q", in, got)
		}
	}
	waitFor(t, "connections closed", func() bool {
		return strings.Contains(converse(s, "stats\r\n"), "STAT curr_connections 0\r\n")
	})
}

// waitFor polls cond until it holds (or fails the test after a while).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i == 1000 {
			t.Fatalf("%s: never", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLoopHandsOffToGoroutines: what the loop leaves to a goroutine (a
// data block larger than its buffer, a refused too-large value, a long
// multi-get line, a retrieval of many keys) is served alike (a line too
// long, which hangs up with unread input, is TestLongLines'), on the same
// connection, after and before commands the loop ran.
func TestLoopHandsOffToGoroutines(t *testing.T) {
	val := strings.Repeat("v", 100_000)
	many := "get"
	for i := range 30 {
		many += fmt.Sprint(" k", i)
	}
	long := "get " + strings.Repeat("x ", 20_000) + "a"
	for _, tc := range []struct{ name, in string }{
		{"large value", fmt.Sprintf("get a\r\nset a 0 0 %d\r\n%s\r\nget a\r\n", len(val), val)},
		{"too large", fmt.Sprintf("set b 0 0 1\r\nb\r\nset a 0 0 %d\r\n%s\r\nget a b\r\n", 2<<20, strings.Repeat("z", 2<<20))},
		{"many keys", "set k7 0 0 1\r\n7\r\n" + many + "\r\nget k7\r\n"},
		{"long line", "set a 0 0 1\r\n1\r\n" + long + "\r\n"},
	} {
		want := converse(newMemServer(t, Config{}), tc.in)
		// Whole, and split: the loop sees the command arrive in pieces.
		for _, in := range [][]string{{tc.in}, {tc.in[:len(tc.in)/3], tc.in[len(tc.in)/3:]}} {
			s := newMemServer(t, Config{Loop: LoopEpoll})
			if got := sendAll(t, startTCP(t, s), in...); got != want {
				t.Errorf("%s in %d parts:\n got %q\nwant %q", tc.name, len(in), trunc(got), trunc(want))
			}
		}
	}
}

// TestLoopServerClose: Close ends the loops' connections and returns.
func TestLoopServerClose(t *testing.T) {
	s, err := NewServer(Config{Loop: LoopEpoll})
	if err != nil {
		t.Fatal(err)
	}
	addr := startTCP(t, s)
	var conns []net.Conn
	for range 10 {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		io.WriteString(nc, "version\r\n")
		conns = append(conns, nc)
	}
	for _, nc := range conns {
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if line, err := bufio.NewReader(nc).ReadString('\n'); err != nil || !strings.HasPrefix(line, "VERSION") {
			t.Fatalf("version: %q %v", line, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, nc := range conns {
		if n, err := nc.Read(make([]byte, 1)); err == nil {
			t.Fatalf("read %d bytes from a connection of a closed server", n)
		}
	}
}

// TestLoopFairness: on a single loop, a client that pipelines requests
// as fast as it can (and reads the answers) does not stop another. (On
// loopback the loop mostly drains the flood's socket, so this passes even
// without maxReadsPerTurn; the turn limit covers clients that outpace it.)
func TestLoopFairness(t *testing.T) {
	s := newMemServer(t, Config{Loop: LoopEpoll, Loops: 1})
	addr := startTCP(t, s)
	flood, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer flood.Close()
	stop := make(chan struct{})
	done := make(chan struct{}, 2)
	go func() { // writes until told to stop
		defer func() { done <- struct{}{} }()
		batch := []byte(strings.Repeat("get a\r\n", 1000))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := flood.Write(batch); err != nil {
				return
			}
		}
	}()
	go func() { // drains the answers
		defer func() { done <- struct{}{} }()
		io.Copy(io.Discard, flood)
	}()
	time.Sleep(50 * time.Millisecond) // the flood is on
	err = chatter(addr, 1, 20)
	close(stop)
	flood.Close()
	<-done
	<-done
	if err != nil {
		t.Fatal(err)
	}
}

// TestLoopSendAllocatesNothing: sending a reply from an event loop reuses
// the connection's buffers. (Each reply used to allocate a new iovec array:
// write consumes lc.iov from the front, so lc.iov[:0] had no room left.)
func TestLoopSendAllocatesNothing(t *testing.T) {
	s := newMemServer(t, Config{})
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	l := &eventLoop{srv: s}
	lc := &loopConn{l: l, fd: fds[0], readable: true, writable: true}
	lc.c = s.newConn(nil)
	lc.c.lc = lc
	const reply = "VALUE k 0 1\r\nv\r\nEND\r\n"
	buf := make([]byte, 256)
	allocs := testing.AllocsPerRun(1000, func() {
		lc.c.out = append(lc.c.out, reply...)
		if !l.send(lc) {
			t.Fatal("send did not finish")
		}
		if n, err := unix.Read(fds[1], buf); err != nil || string(buf[:n]) != reply {
			t.Fatalf("peer read %q, %v", buf[:n], err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per reply, want 0", allocs)
	}
}
