package memkv

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// polledDo runs req as an event loop does: Begin, then Finish (which waits
// for the answer itself), or Do for what Begin does not start. conns
// collects the connection each Begin watched.
func polledDo(c *Client, ctx context.Context, req impls.Request, conns *[]uint64) (impls.Response, error) {
	pending, resp, err := c.Begin(ctx, req, func(fd int, conn uint64) error {
		if fd < 0 {
			return errors.New("no socket")
		}
		*conns = append(*conns, conn)
		return nil
	})
	if pending {
		return c.Finish(ctx)
	}
	if errors.Is(err, impls.ErrNotPolled) {
		return c.Do(ctx, req)
	}
	return resp, err
}

// TestClientPolledOperations: Begin and Finish answer as Do does, on one
// connection.
func TestClientPolledOperations(t *testing.T) {
	get := func(k string) impls.Request { return impls.Request{Kind: impls.Get, Key: k} }
	put := func(k, v string) impls.Request { return impls.Request{Kind: impls.Put, Key: k, Value: v} }
	del := func(k string) impls.Request { return impls.Request{Kind: impls.Delete, Key: k} }
	present := func(v string) impls.Response { return impls.Response{Found: impls.Present, Value: v} }
	absent := impls.Response{Found: impls.Absent}
	big := strings.Repeat("v", 900<<10) // under the 1 MiB item limit
	steps := []struct {
		req     impls.Request
		want    impls.Response
		wantErr error
	}{
		{get("a"), absent, nil},
		{put("a", "1"), impls.Response{}, nil},
		{get("a"), present("1"), nil},
		{impls.Request{Kind: impls.Swap, Key: "a", Value: "2"}, present("1"), nil},
		{get("a"), present("2"), nil},
		{del("a"), impls.Response{Found: impls.Present}, nil},
		{del("a"), absent, nil},
		{put("big", big), impls.Response{}, nil},
		{get("big"), present(big), nil},
		{get("has space"), impls.Response{}, ErrBadKey},
		{impls.Request{Kind: impls.Scan, Key: "a", End: "z"}, impls.Response{}, impls.ErrUnsupported},
	}
	for _, tg := range targets {
		for _, borrow := range []bool{false, true} {
			name := tg.name
			if borrow {
				name += "-borrowed"
			}
			t.Run(name, func(t *testing.T) {
				c := dial(t, tg.addr(t), 1)
				if borrow {
					c.BorrowValues() // a value is checked before the next call
				}
				var conns []uint64
				for i, s := range steps {
					got, err := polledDo(c, context.Background(), s.req, &conns)
					if s.wantErr != nil {
						if !errors.Is(err, s.wantErr) || impls.IsUnknown(err) {
							t.Errorf("step %d: err %v, want %v (definite)", i, err, s.wantErr)
						}
						continue
					}
					if err != nil {
						t.Fatalf("step %d %v: %v", i, s.req.Kind, err)
					}
					if got.Found != s.want.Found || got.Value != s.want.Value {
						t.Errorf("step %d %v %q: got %+v, want %+v", i, s.req.Kind, s.req.Key, trunc(got.Value), s.want.Found)
					}
				}
				for _, cn := range conns {
					if cn != conns[0] {
						t.Fatalf("connections %v, want one throughout", conns)
					}
				}
			})
		}
	}
}

func TestClientPolledMisuse(t *testing.T) {
	addr := startTCP(t, newMemServer(t, Config{}))
	c := dial(t, addr, 1)
	if _, err := c.Finish(context.Background()); err == nil {
		t.Error("Finish with nothing in flight succeeded")
	}
	watch := func(int, uint64) error { return nil }
	if pending, _, err := c.Begin(context.Background(), impls.Request{Kind: impls.Get, Key: "k"}, watch); !pending || err != nil {
		t.Fatalf("Begin: %v %v", pending, err)
	}
	if pending, _, err := c.Begin(context.Background(), impls.Request{Kind: impls.Get, Key: "k"}, watch); pending || err == nil {
		t.Error("a second Begin with a request in flight was accepted")
	}
	if r, err := c.Finish(context.Background()); err != nil || r.Found != impls.Absent {
		t.Errorf("Finish: %+v %v", r, err)
	}
	// A watch that fails (epoll_ctl refused): nothing sent, definitely.
	refuse := func(int, uint64) error { return errors.New("refused") }
	if pending, _, err := c.Begin(context.Background(), impls.Request{Kind: impls.Put, Key: "k", Value: "v"}, refuse); pending || err == nil || impls.IsUnknown(err) {
		t.Errorf("Begin with a failing watch: pending %v, %v; want a definite error", pending, err)
	}
	if r, err := c.Do(context.Background(), impls.Request{Kind: impls.Get, Key: "k"}); err != nil || r.Found != impls.Absent {
		t.Errorf("get after the refused put: %+v %v, want absent", r, err)
	}
	// Above window 1 nothing is polled.
	c4 := dial(t, addr, 4)
	if pending, _, err := c4.Begin(context.Background(), impls.Request{Kind: impls.Get, Key: "k"}, watch); pending || !errors.Is(err, impls.ErrNotPolled) {
		t.Errorf("Begin at window 4: %v %v, want ErrNotPolled", pending, err)
	}
}

// TestClientPolledFailures: a request the server took and never answered
// is unknown (hang-up or ctx ending while in flight); a connection the
// server closed while idle is replaced, under a new connection id.
func TestClientPolledFailures(t *testing.T) {
	get := impls.Request{Kind: impls.Get, Key: "k"}
	var conns []uint64
	t.Run("hang-up mid-request", func(t *testing.T) {
		addr, _ := scriptServer(t, func(_ int32, nc net.Conn) {
			bufio.NewReader(nc).ReadString('\n')
		})
		c := dial(t, addr, 1)
		if _, err := polledDo(c, context.Background(), get, &conns); !errors.Is(err, impls.ErrUnknownOutcome) {
			t.Errorf("get the server hung up on: %v, want ErrUnknownOutcome", err)
		}
	})
	t.Run("ctx ends in flight", func(t *testing.T) {
		addr := silentServer(t)
		c := dial(t, addr, 1)
		ctx, cancel := context.WithCancel(context.Background())
		if pending, _, err := c.Begin(ctx, get, func(int, uint64) error { return nil }); !pending {
			t.Fatalf("Begin: %v", err)
		}
		cancel()
		if _, err := c.Finish(ctx); !errors.Is(err, impls.ErrUnknownOutcome) || !errors.Is(err, context.Canceled) {
			t.Errorf("Finish after cancel: %v, want unknown from the cancel", err)
		}
	})
	t.Run("idle hang-up", func(t *testing.T) {
		// Each connection answers one request, then closes.
		addr, accepted := scriptServer(t, func(_ int32, nc net.Conn) {
			if _, err := bufio.NewReader(nc).ReadString('\n'); err == nil {
				nc.Write([]byte("END\r\n"))
			}
		})
		c := dial(t, addr, 1)
		conns = conns[:0]
		for i := 0; i < 3; i++ {
			if i > 0 {
				waitClosed(t, c)
			}
			if r, err := polledDo(c, context.Background(), get, &conns); err != nil || r.Found != impls.Absent {
				t.Fatalf("get %d: %+v %v", i, r, err)
			}
		}
		if n := accepted.Load(); n != 3 {
			t.Errorf("%d connections, want 3", n)
		}
		if len(conns) != 3 || conns[0] == conns[1] || conns[1] == conns[2] {
			t.Errorf("watched connections %v, want 3 distinct", conns)
		}
	})
}

// waitClosed waits until the server's hang-up has reached c's idle
// connection.
func waitClosed(t *testing.T, c *Client) {
	t.Helper()
	c.mu.Lock()
	cn := c.cn
	c.mu.Unlock()
	for i := 0; cn != nil && !cn.peerClosed(); i++ {
		if i > 1000 {
			t.Fatal("the server's hang-up never arrived")
		}
		sleepBriefly()
	}
	// Begin checks for a hang-up only after soloIdleCheck of idleness.
	time.Sleep(2 * soloIdleCheck)
}

func sleepBriefly() { time.Sleep(time.Millisecond) }
