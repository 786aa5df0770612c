package memkv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
)

type target struct {
	name string
	addr func(t *testing.T) string
}

// targets are the servers the adapter must drive identically: memkv (in
// process) and, when installed, a real memcached.
var targets = []target{
	{"memkv", func(t *testing.T) string { return startTCP(t, newMemServer(t, Config{})) }},
	{"memcached", func(t *testing.T) string { return startMemcached(t) }},
}

func dial(t testing.TB, addr string, window int) *Client {
	t.Helper()
	ic, err := Dial(context.Background(), addr, window)
	if err != nil {
		t.Fatal(err)
	}
	c := ic.(*Client)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestClientOperations(t *testing.T) {
	type step struct {
		req     impls.Request
		want    impls.Response
		wantErr error
	}
	get := func(k string) impls.Request { return impls.Request{Kind: impls.Get, Key: k} }
	put := func(k, v string) impls.Request { return impls.Request{Kind: impls.Put, Key: k, Value: v} }
	del := func(k string) impls.Request { return impls.Request{Kind: impls.Delete, Key: k} }
	swap := func(k, v string) impls.Request { return impls.Request{Kind: impls.Swap, Key: k, Value: v} }
	present := func(v string) impls.Response { return impls.Response{Found: impls.Present, Value: v} }
	absent := impls.Response{Found: impls.Absent}
	steps := []step{
		{get("a"), absent, nil},
		{put("a", "1"), impls.Response{}, nil},
		{get("a"), present("1"), nil},
		{put("a", ""), impls.Response{}, nil},
		{get("a"), present(""), nil},
		{put("b", "bin\x00\r\n\xff"), impls.Response{}, nil},
		{get("b"), present("bin\x00\r\n\xff"), nil},
		{swap("a", "2"), present(""), nil},
		{swap("a", "3"), present("2"), nil},
		{swap("new", "x"), absent, nil},
		{get("new"), present("x"), nil},
		{del("a"), impls.Response{Found: impls.Present}, nil},
		{del("a"), absent, nil},
		{get("a"), absent, nil},
		{put("big", strings.Repeat("v", 200<<10)), impls.Response{}, nil},
		{get("big"), present(strings.Repeat("v", 200<<10)), nil},
		{impls.Request{Kind: impls.Scan, Key: "a", End: "z"}, impls.Response{}, impls.ErrUnsupported},
		{get("has space"), impls.Response{}, ErrBadKey},
		{put(strings.Repeat("k", 251), "v"), impls.Response{}, ErrBadKey},
		{get(""), impls.Response{}, ErrBadKey},
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			c := dial(t, tg.addr(t), 1)
			for i, s := range steps {
				got, err := c.Do(context.Background(), s.req)
				if s.wantErr != nil {
					if !errors.Is(err, s.wantErr) || impls.IsUnknown(err) {
						t.Errorf("step %d %v %q: err %v, want %v (definite)", i, s.req.Kind, trunc(s.req.Key), err, s.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d %v %q: %v", i, s.req.Kind, s.req.Key, err)
				}
				if got.Found != s.want.Found || got.Value != s.want.Value {
					t.Errorf("step %d %v %q: got %+v, want %+v", i, s.req.Kind, s.req.Key, trunc(fmt.Sprint(got)), s.want)
				}
			}
		})
	}
}

// TestClientPipelining has 8 goroutines share one window-8 connection;
// every answer must be the one for its own request.
func TestClientPipelining(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			c := dial(t, tg.addr(t), 8)
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					ctx := context.Background()
					prev := ""
					for i := 0; i < 300; i++ {
						key := fmt.Sprintf("g%d-%d", g, i%7)
						val := fmt.Sprintf("g%d-v%d", g, i)
						if _, err := c.Do(ctx, impls.Request{Kind: impls.Put, Key: key, Value: val}); err != nil {
							errs <- err
							return
						}
						r, err := c.Do(ctx, impls.Request{Kind: impls.Get, Key: key})
						if err != nil || r.Found != impls.Present || r.Value != val {
							errs <- fmt.Errorf("get %s = %+v, %v; want %s", key, r, err, val)
							return
						}
						r, err = c.Do(ctx, impls.Request{Kind: impls.Swap, Key: fmt.Sprintf("g%d-swap", g), Value: val})
						if err != nil || (i > 0 && (r.Found != impls.Present || r.Value != prev)) || (i == 0 && r.Found != impls.Absent) {
							errs <- fmt.Errorf("swap %d = %+v, %v; want previous %q", i, r, err, prev)
							return
						}
						prev = val
					}
				}(g)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestClientSwapIsAtomic races swaps on one key from many clients: every
// value must be returned as "previous" exactly once (by the swap that
// replaced it), except the final one, as a linearizable swap guarantees.
func TestClientSwapIsAtomic(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			addr := tg.addr(t)
			const clients, each = 6, 100
			var mu sync.Mutex
			seen := map[string]int{}
			absent := 0
			var wg sync.WaitGroup
			for g := 0; g < clients; g++ {
				c := dial(t, addr, 2)
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					for i := 0; i < each; i++ {
						r, err := c.Do(context.Background(), impls.Request{Kind: impls.Swap, Key: "hot", Value: fmt.Sprintf("%d-%d", g, i)})
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						if r.Found == impls.Absent {
							absent++
						} else {
							seen[r.Value]++
						}
						mu.Unlock()
					}
				}(g)
			}
			wg.Wait()
			if absent != 1 || len(seen) != clients*each-1 {
				t.Errorf("absent %d times (want 1), %d distinct previous values (want %d)", absent, len(seen), clients*each-1)
			}
			for v, n := range seen {
				if n != 1 {
					t.Errorf("value %s returned as previous %d times", v, n)
				}
			}
		})
	}
}

// silentServer accepts connections and reads without ever answering.
func silentServer(t *testing.T) (addr string) {
	addr, _ = scriptServer(t, func(_ int32, nc net.Conn) { io.Copy(io.Discard, nc) })
	return addr
}

func TestClientUnknownOutcomes(t *testing.T) {
	// Never answers; hangs up once a connection has brought 3 deletes, so
	// all three are in flight when it does.
	hungUp := make(chan struct{})
	addr, _ := scriptServer(t, func(_ int32, nc net.Conn) {
		deletes := 0
		for sc := bufio.NewScanner(nc); sc.Scan(); {
			if strings.HasPrefix(sc.Text(), "delete ") {
				if deletes++; deletes == 3 {
					close(hungUp)
					return
				}
			}
		}
	})
	c := dial(t, addr, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := c.Do(ctx, impls.Request{Kind: impls.Put, Key: "k", Value: "v"})
	cancel()
	if !errors.Is(err, impls.ErrUnknownOutcome) {
		t.Fatalf("timed-out put: %v, want ErrUnknownOutcome", err)
	}

	// The next call reconnects; when the server hangs up mid-request, every
	// request in flight has an unknown outcome.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = c.Do(context.Background(), impls.Request{Kind: impls.Delete, Key: fmt.Sprint("k", i)})
		}(i)
	}
	<-hungUp
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, impls.ErrUnknownOutcome) {
			t.Errorf("request %d after hang-up: %v, want ErrUnknownOutcome", i, err)
		}
	}

	// A cancelled context before sending is a definite failure.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := c.Do(ctx, impls.Request{Kind: impls.Put, Key: "k", Value: "v"}); err == nil || impls.IsUnknown(err) {
		t.Errorf("unsent request: %v, want a definite error", err)
	}
	// A swap whose read step fails wrote nothing: definite.
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = c.Do(ctx, impls.Request{Kind: impls.Swap, Key: "k", Value: "v"})
	cancel()
	if err == nil || impls.IsUnknown(err) {
		t.Errorf("swap failing in its gets: %v, want a definite error", err)
	}
}

func TestClientReconnectsOrFailsDefinitely(t *testing.T) {
	s := newMemServer(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, ln); close(done) }()
	c := dial(t, addr, 1)
	if _, err := c.Do(context.Background(), impls.Request{Kind: impls.Put, Key: "k", Value: "v"}); err != nil {
		t.Fatal(err)
	}
	stop()
	<-done
	s.mu.Lock()
	for nc := range s.conns {
		nc.Close()
	}
	s.mu.Unlock()
	waitClosed(t, c) // the hang-up has reached the client's socket
	// The old connection is gone and nothing listens: the client sees the
	// hang-up before sending, so every call fails definitely.
	for i := 0; i < 3; i++ {
		if _, err := c.Do(context.Background(), impls.Request{Kind: impls.Get, Key: "k"}); err == nil || impls.IsUnknown(err) {
			t.Fatalf("call %d with the server down: %v, want a definite error", i, err)
		}
	}
	// Serve again on the same address: the client reconnects.
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot rebind %s: %v", addr, err)
	}
	go s.Serve(context.Background(), ln2)
	r, err := c.Do(context.Background(), impls.Request{Kind: impls.Get, Key: "k"})
	if err != nil || r.Value != "v" {
		t.Fatalf("after restart: %+v, %v", r, err)
	}
}

func TestClientClose(t *testing.T) {
	for _, window := range []int{1, 2} {
		t.Run(fmt.Sprint("window ", window), func(t *testing.T) {
			// Never answers; tells when the request has arrived.
			arrived := make(chan struct{}, 1)
			addr, _ := scriptServer(t, func(_ int32, nc net.Conn) {
				for sc := bufio.NewScanner(nc); sc.Scan(); {
					select {
					case arrived <- struct{}{}:
					default:
					}
				}
			})
			c := dial(t, addr, window)
			errc := make(chan error)
			go func() {
				_, err := c.Do(context.Background(), impls.Request{Kind: impls.Get, Key: "k"})
				errc <- err
			}()
			<-arrived
			c.Close()
			if err := <-errc; !errors.Is(err, impls.ErrUnknownOutcome) {
				t.Errorf("in flight at Close: %v", err)
			}
			if _, err := c.Do(context.Background(), impls.Request{Kind: impls.Get, Key: "k"}); !errors.Is(err, ErrClosed) {
				t.Errorf("after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestClientMoreCallersThanWindow overfills the response FIFO: callers
// beyond the window wait for answers to drain instead of deadlocking.
func TestClientMoreCallersThanWindow(t *testing.T) {
	c := dial(t, startTCP(t, newMemServer(t, Config{})), 1)
	var wg sync.WaitGroup
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				key := fmt.Sprint("k", g)
				if _, err := c.Do(context.Background(), impls.Request{Kind: impls.Put, Key: key, Value: fmt.Sprint(i)}); err != nil {
					t.Error(err)
					return
				}
				if r, err := c.Do(context.Background(), impls.Request{Kind: impls.Get, Key: key}); err != nil || r.Value != fmt.Sprint(i) {
					t.Errorf("get %s = %+v, %v", key, r, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

// TestClientIdleConnClosedByCrash: a request on a connection the server
// closed between requests (a crash) is never written into it: the client
// reconnects and the request succeeds, or it fails definitely when no
// server listens. Neither is an unknown outcome (issue 15, part 6).
func TestClientIdleConnClosedByCrash(t *testing.T) {
	for _, window := range []int{1, 4} {
		t.Run(fmt.Sprint("window ", window), func(t *testing.T) {
			var addr string
			serve := func(at string) *Server {
				s := newMemServer(t, Config{})
				ln, err := net.Listen("tcp", at)
				if err != nil {
					t.Skipf("cannot listen on %s again: %v", at, err)
				}
				addr = ln.Addr().String()
				go s.Serve(context.Background(), ln)
				return s
			}
			s := serve("127.0.0.1:0")
			c := dial(t, addr, window)
			put := func(v string) error {
				_, err := c.Do(context.Background(), impls.Request{Kind: impls.Put, Key: "k", Value: v})
				return err
			}
			if err := put("1"); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				s.Close() // like a crash: every connection closed
				s = serve(addr)
				waitClosed(t, c) // the hang-up has reached the client's socket
				if err := put(fmt.Sprint("after restart ", i)); err != nil {
					t.Fatalf("put after restart %d: %v, want success on a new connection", i, err)
				}
			}
			s.Close()
			waitClosed(t, c)
			if err := put("nobody listens"); err == nil || impls.IsUnknown(err) {
				t.Fatalf("put with no server: %v, want a definite error", err)
			}
		})
	}
}

// scriptServer serves every connection with handle (given the
// connection's number, from 1) and counts the connections accepted.
func scriptServer(t *testing.T, handle func(n int32, nc net.Conn)) (addr string, accepted *atomic.Int32) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = new(atomic.Int32)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				handle(accepted.Add(1), nc)
			}()
		}
	}()
	return ln.Addr().String(), accepted
}

// TestClientSoloFailures covers the window-1 path's outcomes: a request
// that may have reached the server and got no answer is unknown, one that
// was never sent fails definitely.
func TestClientSoloFailures(t *testing.T) {
	get := impls.Request{Kind: impls.Get, Key: "k"}
	t.Run("ctx timeout", func(t *testing.T) {
		addr := silentServer(t)
		c := dial(t, addr, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := c.Do(ctx, get); !errors.Is(err, impls.ErrUnknownOutcome) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("timed-out get: %v, want an unknown outcome from the deadline", err)
		}
		if _, err := c.Do(ctx, get); err == nil || impls.IsUnknown(err) {
			t.Errorf("get under an expired ctx: %v, want a definite error", err)
		}
	})
	t.Run("hang-up mid-request", func(t *testing.T) {
		addr, _ := scriptServer(t, func(_ int32, nc net.Conn) {
			bufio.NewReader(nc).ReadString('\n') // the request arrived; crash before answering
		})
		c := dial(t, addr, 1)
		if _, err := c.Do(context.Background(), impls.Request{Kind: impls.Put, Key: "k", Value: "v"}); !errors.Is(err, impls.ErrUnknownOutcome) {
			t.Errorf("put the server hung up on: %v, want ErrUnknownOutcome", err)
		}
	})
	t.Run("partial write then timeout", func(t *testing.T) {
		// The server reads the first KiB, then no more: a value larger
		// than the socket buffers is written in part, and the rest waits
		// until ctx ends, which the test brings about once the server has
		// the first bytes (not on a timer: building and starting to write
		// 64 MiB can take a second under the race detector).
		arrived, hold := make(chan struct{}), make(chan struct{})
		t.Cleanup(func() { close(hold) })
		addr, _ := scriptServer(t, func(_ int32, nc net.Conn) {
			if _, err := io.ReadFull(nc, make([]byte, 1024)); err == nil {
				close(arrived)
			}
			<-hold
		})
		c := dial(t, addr, 1)
		big := strings.Repeat("v", 64<<20)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-arrived:
				cancel()
			case <-ctx.Done():
			}
		}()
		if _, err := c.Do(ctx, impls.Request{Kind: impls.Put, Key: "k", Value: big}); !errors.Is(err, impls.ErrUnknownOutcome) {
			t.Errorf("half-written put: %v, want ErrUnknownOutcome", err)
		}
	})
	t.Run("unsolicited bytes", func(t *testing.T) {
		// The first connection sends a line nobody asked for after its
		// first answer: the next request goes on a fresh connection.
		addr, accepted := scriptServer(t, func(n int32, nc net.Conn) {
			br := bufio.NewReader(nc)
			for {
				if _, err := br.ReadString('\n'); err != nil {
					return
				}
				answer := "END\r\n"
				if n == 1 {
					answer += "JUNK\r\n"
				}
				nc.Write([]byte(answer))
			}
		})
		c := dial(t, addr, 1)
		for i := 0; i < 3; i++ {
			if r, err := c.Do(context.Background(), get); err != nil || r.Found != impls.Absent {
				t.Fatalf("get %d: %+v, %v", i, r, err)
			}
		}
		if n := accepted.Load(); n != 2 {
			t.Errorf("%d connections, want 2", n)
		}
	})
}

// TestClientSoloContexts: a context that ends while no request of it is in
// flight leaves the connection alone, whether it is the long-lived context
// of a run or one per request (--op-timeout).
func TestClientSoloContexts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	go newMemServer(t, Config{}).Serve(context.Background(), cl)
	c := dial(t, ln.Addr().String(), 1)
	put := impls.Request{Kind: impls.Put, Key: "k", Value: "v"}
	run, stop := context.WithCancel(context.Background())
	for i := 0; i < 3; i++ {
		if _, err := c.Do(run, put); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := c.Do(ctx, put)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if r, err := c.Do(context.Background(), impls.Request{Kind: impls.Get, Key: "k"}); err != nil || r.Value != "v" {
		t.Fatalf("get: %+v, %v", r, err)
	}
	if n := cl.accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

type countingListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return nc, err
}

// TestClientPipeliner drives the adapter through Send and Recv as the
// driver does with -w > 1: answers come back in the order sent, before and
// after a Swap in the middle (Send carries it out through Do, which starts
// the connection's reader), and a window-1 client answers the same way.
func TestClientPipeliner(t *testing.T) {
	for _, tg := range targets {
		for _, window := range []int{1, 8} {
			t.Run(fmt.Sprintf("%s/window %d", tg.name, window), func(t *testing.T) {
				c := dial(t, tg.addr(t), window)
				ctx := context.Background()
				send := func(req impls.Request) {
					t.Helper()
					if err := c.Send(ctx, req); err != nil {
						t.Fatalf("send %v %q: %v", req.Kind, req.Key, err)
					}
				}
				recv := func(want impls.Response) {
					t.Helper()
					got, err := c.Recv(ctx)
					if err != nil || got.Found != want.Found || got.Value != want.Value {
						t.Fatalf("recv: %+v, %v; want %+v", got, err, want)
					}
				}
				for i := 0; i < 8; i++ {
					send(impls.Request{Kind: impls.Put, Key: fmt.Sprint("p", i), Value: fmt.Sprint("v", i)})
				}
				for i := 0; i < 8; i++ {
					recv(impls.Response{Found: impls.Unknown})
				}
				// Keep 8 in flight: slot i puts k to r<i> at its even steps k
				// and reads it back at the odd ones.
				step := func(slot, k int) (impls.Request, impls.Response) {
					key := fmt.Sprint("r", slot)
					if k%2 == 0 {
						return impls.Request{Kind: impls.Put, Key: key, Value: fmt.Sprint(k)}, impls.Response{Found: impls.Unknown}
					}
					return impls.Request{Kind: impls.Get, Key: key}, impls.Response{Found: impls.Present, Value: fmt.Sprint(k - 1)}
				}
				rolling := func() {
					steps := make([]int, 8)
					for slot := range steps {
						req, _ := step(slot, 0)
						send(req)
					}
					for n := 0; n < 200+len(steps); n++ {
						slot := n % len(steps)
						_, want := step(slot, steps[slot])
						recv(want)
						if n < 200 {
							steps[slot]++
							req, _ := step(slot, steps[slot])
							send(req)
						}
					}
				}
				// Before any Do (Send and Recv drive the socket), then after
				// the Swap (Do's reader and flusher do).
				rolling()
				send(impls.Request{Kind: impls.Get, Key: "p0"})
				send(impls.Request{Kind: impls.Swap, Key: "p0", Value: "s0"})
				send(impls.Request{Kind: impls.Get, Key: "p0"})
				send(impls.Request{Kind: impls.Delete, Key: "p1"})
				send(impls.Request{Kind: impls.Get, Key: "p1"})
				recv(impls.Response{Found: impls.Present, Value: "v0"})
				recv(impls.Response{Found: impls.Present, Value: "v0"})
				recv(impls.Response{Found: impls.Present, Value: "s0"})
				recv(impls.Response{Found: impls.Present})
				recv(impls.Response{Found: impls.Absent})
				rolling()
				if _, err := c.Recv(ctx); !errors.Is(err, errNothingSent) || impls.IsUnknown(err) {
					t.Errorf("recv with nothing sent: %v", err)
				}
				if err := c.Send(ctx, impls.Request{Kind: impls.Get, Key: "bad key"}); !errors.Is(err, ErrBadKey) {
					t.Errorf("send with a bad key: %v, want ErrBadKey", err)
				}
			})
		}
	}
}

// TestClientPipelinerFailures: requests in flight when ctx ends or the
// connection drops have unknown outcomes; one that could not be queued
// fails in Send, definitely, and leaves nothing to receive.
func TestClientPipelinerFailures(t *testing.T) {
	addr := silentServer(t)
	c := dial(t, addr, 4)
	for i := 0; i < 3; i++ {
		if err := c.Send(context.Background(), impls.Request{Kind: impls.Get, Key: fmt.Sprint("k", i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Recv(ctx); !errors.Is(err, impls.ErrUnknownOutcome) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("recv past its deadline: %v, want an unknown outcome", err)
	}
	for i := 1; i < 3; i++ {
		if _, err := c.Recv(context.Background()); !errors.Is(err, impls.ErrUnknownOutcome) {
			t.Errorf("recv %d on the dropped connection: %v, want ErrUnknownOutcome", i, err)
		}
	}
	if err := c.Send(context.Background(), impls.Request{Kind: impls.Scan, Key: "a", End: "z"}); !errors.Is(err, impls.ErrUnsupported) {
		t.Errorf("send of a scan: %v, want ErrUnsupported", err)
	}
	c.Close()
	if err := c.Send(context.Background(), impls.Request{Kind: impls.Get, Key: "k"}); !errors.Is(err, ErrClosed) || impls.IsUnknown(err) {
		t.Errorf("send after Close: %v, want ErrClosed", err)
	}
	if _, err := c.Recv(context.Background()); !errors.Is(err, errNothingSent) {
		t.Errorf("recv with nothing sent: %v", err)
	}
}

// TestClientPipelinerInline: on a connection no Do has used, Recv writes
// and reads itself; Close ends a Recv waiting there with an unknown
// outcome, and Do waits its turn behind requests not yet received.
func TestClientPipelinerInline(t *testing.T) {
	addr := silentServer(t)
	c := dial(t, addr, 4)
	get := impls.Request{Kind: impls.Get, Key: "k"}
	if err := c.Send(context.Background(), get); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), get); !errors.Is(err, errInlinePending) || impls.IsUnknown(err) {
		t.Errorf("Do with a request sent and not received: %v, want a definite errInlinePending", err)
	}
	errc := make(chan error)
	go func() {
		_, err := c.Recv(context.Background())
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.Close()
	if err := <-errc; !errors.Is(err, impls.ErrUnknownOutcome) {
		t.Errorf("recv at Close: %v, want ErrUnknownOutcome", err)
	}

	// Against a server: Send and Recv, then Do (which starts the reader),
	// then Send and Recv again through it.
	c = dial(t, startTCP(t, newMemServer(t, Config{})), 4)
	ctx := context.Background()
	for i := 0; i < 4; i++ {
		if err := c.Send(ctx, impls.Request{Kind: impls.Put, Key: fmt.Sprint("k", i), Value: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 4; i++ {
		if _, err := c.Recv(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := c.Do(ctx, impls.Request{Kind: impls.Get, Key: "k3"}); err != nil || r.Value != "3" {
		t.Fatalf("Do after Recv: %+v, %v", r, err)
	}
	for i := 0; i < 4; i++ {
		if err := c.Send(ctx, impls.Request{Kind: impls.Get, Key: fmt.Sprint("k", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 4; i++ {
		if r, err := c.Recv(ctx); err != nil || r.Value != fmt.Sprint(i) {
			t.Fatalf("recv %d after Do: %+v, %v", i, r, err)
		}
	}
}
