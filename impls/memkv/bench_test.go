package memkv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// Adapter + server over loopback TCP, in one process. "seq" is one caller
// (one request in flight); "par8" is 8 callers pipelining on one
// connection (window 8); "conns8" is 8 callers with a connection each.
func BenchmarkAdapter(b *testing.B) {
	value := strings.Repeat("v", 100)
	for _, store := range []struct {
		name string
		cfg  func(b *testing.B) Config
	}{
		{"mem", func(*testing.B) Config { return Config{} }},
		{"fsync-always", func(b *testing.B) Config { return Config{DataDir: b.TempDir(), Fsync: FsyncAlways} }},
		{"fsync-never", func(b *testing.B) Config { return Config{DataDir: b.TempDir(), Fsync: FsyncNever} }},
	} {
		for _, op := range []impls.Kind{impls.Get, impls.Put} {
			for _, mode := range []string{"seq", "par8", "conns8"} {
				if store.name != "mem" && op == impls.Get && mode != "par8" {
					continue // reads do not touch the log
				}
				b.Run(fmt.Sprintf("%s/%v/%s", store.name, op, mode), func(b *testing.B) {
					s, err := NewServer(store.cfg(b))
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					addr := startTCP(b, s)
					seed := dial(b, addr, 1)
					for i := 0; i < 1000; i++ {
						seed.Do(context.Background(), impls.Request{Kind: impls.Put, Key: fmt.Sprint("key", i), Value: value})
					}
					keys := make([]string, 1000)
					for i := range keys {
						keys[i] = fmt.Sprint("key", i)
					}
					b.ReportAllocs()
					b.SetBytes(int64(len(value)))
					if w := s.wal; w != nil && w.mode == FsyncAlways {
						r0, f0 := w.records.Load(), w.fsyncs.Load()
						defer func() { // group commit: how many writes one fsync carried
							b.ReportMetric(float64(w.records.Load()-r0)/float64(max(1, w.fsyncs.Load()-f0)), "records/fsync")
						}()
					}
					if mode == "seq" {
						for i := 0; b.Loop(); i++ {
							if _, err := seed.Do(context.Background(), impls.Request{Kind: op, Key: keys[i%1000], Value: value}); err != nil {
								b.Fatal(err)
							}
						}
						return
					}
					shared := dial(b, addr, 8)
					var next atomic.Int64
					b.SetParallelism(8 / max(1, runtimeProcs()))
					b.RunParallel(func(pb *testing.PB) {
						c := shared
						if mode == "conns8" {
							c = dial(b, addr, 1)
						}
						for i := next.Add(1) * 7919; pb.Next(); i++ {
							if _, err := c.Do(context.Background(), impls.Request{Kind: op, Key: keys[i%1000], Value: value}); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		}
	}
}

// BenchmarkServerPipeline measures the command interpreter alone: a
// pre-built pipeline of commands replayed through one connection, no network.
func BenchmarkServerPipeline(b *testing.B) {
	var in bytes.Buffer
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&in, "set key%d 0 0 10\r\n0123456789\r\nget key%d\r\n", i%100, i%100)
	}
	s, err := NewServer(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	b.SetBytes(int64(in.Len()))
	for b.Loop() {
		s.serveConn(struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(in.Bytes()), io.Discard})
	}
	b.ReportMetric(float64(b.N*2000)/b.Elapsed().Seconds(), "cmds/s")
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// BenchmarkClientMemcached drives a real memcached (skipped when it is not
// installed) as kvbench run does: 90% get, 10% set of 100-byte values over
// 1000 keys, "32x1" being 32 window-1 connections with one request each,
// "2x16" two connections pipelining 16 (a goroutine per request in flight
// calling Do), "2x16-send" the same through Send and Recv (a goroutine per
// connection, as the driver runs impls.Pipeliner clients). cpu-ns/op is this process's CPU
// (user+system, getrusage) per request: the load generator's cost, which
// holds still on a busy machine where ns/op does not.
func BenchmarkClientMemcached(b *testing.B) {
	addr := startMemcached(b, "-t", "2")
	value := strings.Repeat("v", 100)
	keys := make([]string, 1000)
	seed := dial(b, addr, 1)
	for i := range keys {
		keys[i] = fmt.Sprint("user", i)
		if _, err := seed.Do(context.Background(), impls.Request{Kind: impls.Put, Key: keys[i], Value: value}); err != nil {
			b.Fatal(err)
		}
	}
	request := func(i int64) impls.Request {
		if i%10 == 0 {
			return impls.Request{Kind: impls.Put, Key: keys[i%1000], Value: value}
		}
		return impls.Request{Kind: impls.Get, Key: keys[i%1000]}
	}
	for _, shape := range []struct {
		name          string
		conns, window int
		send          bool
	}{{"32x1", 32, 1, false}, {"2x16", 2, 16, false}, {"2x16-send", 2, 16, true}} {
		b.Run(shape.name, func(b *testing.B) {
			clients := make([]*Client, shape.conns)
			for i := range clients {
				clients[i] = dial(b, addr, shape.window)
			}
			var next atomic.Int64
			cpu0 := cpuTime()
			callers := shape.conns * shape.window
			if shape.send {
				callers = shape.conns
			}
			b.SetParallelism((callers + runtimeProcs() - 1) / runtimeProcs())
			b.RunParallel(func(pb *testing.PB) {
				g := next.Add(1) - 1
				c := clients[int(g)%len(clients)]
				if shape.send {
					pipeline(b, pb, c, shape.window, g*7919, request)
					return
				}
				for i := g * 7919; pb.Next(); i++ {
					if _, err := c.Do(context.Background(), request(i)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// pipeline keeps window requests in flight on c through Send and Recv
// until pb is done, then collects the last answers.
func pipeline(b *testing.B, pb *testing.PB, c *Client, window int, i int64, request func(int64) impls.Request) {
	ctx := context.Background()
	inFlight := 0
	for ; pb.Next(); i++ {
		if inFlight == window {
			if _, err := c.Recv(ctx); err != nil {
				b.Error(err)
				return
			}
			inFlight--
		}
		if err := c.Send(ctx, request(i)); err != nil {
			b.Error(err)
			return
		}
		inFlight++
	}
	for ; inFlight > 0; inFlight-- {
		if _, err := c.Recv(ctx); err != nil {
			b.Error(err)
			return
		}
	}
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
