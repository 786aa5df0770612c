package memkv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

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
