package madkv

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kvbench/kvbench/impls/proc"
)

// BenchmarkGroupCommit measures durable PUTs on one stage 2 server (in this
// process) from 1 and 10 concurrent clients, and reports how many writes
// each commit (one WAL fsync) carried:
//
//	go test -run XXX -bench GroupCommit ./impls/madkv/
func BenchmarkGroupCommit(b *testing.B) {
	for _, clients := range []int{1, 10} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			c := startStage2Bench(b)
			cls := make([]*Client, clients)
			for i := range cls {
				cl, err := Dial(context.Background(), c.mgr)
				if err != nil {
					b.Fatal(err)
				}
				defer cl.Close()
				cls[i] = cl
			}
			before := serverStats(b, c.servers[0])
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for _, cl := range cls { // each client writes until b.N writes are done
				wg.Go(func() {
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						if _, err := cl.Do(context.Background(), put("k"+strconv.FormatInt(i%1000, 10), "value")); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			after := serverStats(b, c.servers[0])
			commits, writes := after[0]-before[0], after[1]-before[1]
			if commits > 0 {
				b.ReportMetric(float64(writes)/float64(commits), "writes/sync")
			}
		})
	}
}

// serverStats returns a server's (commits, writes) from HELLO.
func serverStats(b *testing.B, addr string) [2]uint64 {
	cn, err := dialConn(context.Background(), addr)
	if err != nil {
		b.Fatal(err)
	}
	defer cn.close()
	resp, _, err := cn.call(context.Background(), &request{op: opHello})
	if err != nil {
		b.Fatal(err)
	}
	info := pairMap(resp.pairs)
	c, _ := strconv.ParseUint(info["commits"], 10, 64)
	w, _ := strconv.ParseUint(info["writes"], 10, 64)
	return [2]uint64{c, w}
}

// startStage2Bench runs a manager and one stage 2 server in this process.
func startStage2Bench(b *testing.B) *stage2Cluster {
	var err error
	c := &stage2Cluster{}
	addrs := make([]string, 2)
	for i := range addrs {
		if addrs[i], err = proc.FreeTCPAddr(); err != nil {
			b.Fatal(err)
		}
	}
	c.mgr, c.servers = addrs[0], addrs[1:]
	for _, args := range [][]string{
		{"manager", portOf(c.mgr), c.servers[0]},
		{"server", "0", c.mgr, portOf(c.servers[0]), filepath.Join(b.TempDir(), "backer.s0")},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { serve(ctx, args, io.Discard, io.Discard); close(done) }()
		b.Cleanup(func() { cancel(); <-done })
	}
	return c
}
