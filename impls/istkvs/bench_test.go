package istkvs_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/istkvs"
	"github.com/kvbench/kvbench/workload"
)

// BenchmarkBatch: commands/s of the in-process server on 200 generated jobs
// x 1000 commands (private keys, so every .out is checked exactly), at 1, 2
// and 4 threads, without backups and with one BACKUP per job (max 2 at
// once). Run with -benchtime 1x; validation is not timed.
func BenchmarkBatch(b *testing.B) {
	for _, backups := range []int{0, 1000} {
		dir := b.TempDir()
		jobs, err := workload.GenIstJobs(workload.IstJobsConfig{Jobs: 200, Commands: 1000, BackupEvery: backups, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		if err := workload.WriteIstJobs(dir, jobs); err != nil {
			b.Fatal(err)
		}
		for _, threads := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("threads=%d/backup-every=%d", threads, backups), func(b *testing.B) {
				var elapsed time.Duration
				var res istkvs.BatchResult
				for range b.N {
					res, err = istkvs.RunBatch(context.Background(), dir, threads, 2)
					if err != nil {
						b.Fatal(err)
					}
					if len(res.Problems) != 0 {
						b.Fatalf("problems: %v", res.Problems[0])
					}
					elapsed += res.Elapsed
				}
				b.ReportMetric(float64(res.Commands)*float64(b.N)/elapsed.Seconds(), "commands/s")
				b.ReportMetric(float64(res.Jobs)*float64(b.N)/elapsed.Seconds(), "jobs/s")
			})
		}
	}
}

// BenchmarkBackupStall: a backup of 100 000 keys while two writers run.
// It reports the snapshot's cost (the only moment writers wait), the whole
// backup's time, and the writers' worst and 99th-percentile WRITE latency
// during the backup beside the same without one.
func BenchmarkBackupStall(b *testing.B) {
	dir := b.TempDir()
	tb := istkvs.NewTable()
	for i := range 100_000 {
		tb.Write([]istkvs.Pair{{Key: fmt.Sprintf("key%06d", i), Value: fmt.Sprintf("value%06d", i)}})
	}
	measure := func(during func()) (p99, worst time.Duration) {
		var stop atomic.Bool
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 3))
				var mine []time.Duration
				for !stop.Load() {
					k := fmt.Sprintf("key%06d", r.IntN(100_000))
					t := time.Now()
					tb.Write([]istkvs.Pair{{Key: k, Value: "w"}})
					mine = append(mine, time.Since(t))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		during()
		stop.Store(true)
		wg.Wait()
		slices.Sort(lat)
		return lat[len(lat)*99/100], lat[len(lat)-1]
	}
	var snap, total time.Duration
	var p99, worst, p99Base, worstBase time.Duration
	for n := range b.N {
		p99Base, worstBase = measure(func() { time.Sleep(200 * time.Millisecond) })
		p99, worst = measure(func() {
			t := time.Now()
			s := tb.Snapshot()
			snap += time.Since(t)
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("b-%d.bck", n)))
			if err != nil {
				b.Fatal(err)
			}
			if err := s.WriteShow(f); err != nil {
				b.Fatal(err)
			}
			f.Close()
			total += time.Since(t)
		})
	}
	b.ReportMetric(float64(snap.Microseconds())/float64(b.N), "snapshot-µs")
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "backup-ms")
	b.ReportMetric(float64(p99.Microseconds()), "write-p99-µs")
	b.ReportMetric(float64(worst.Microseconds()), "write-max-µs")
	b.ReportMetric(float64(p99Base.Microseconds()), "write-p99-nobackup-µs")
	b.ReportMetric(float64(worstBase.Microseconds()), "write-max-nobackup-µs")
}

// BenchmarkAdapter: ops/s and p99 through the job adapter (each op a job
// file and its .out), 4 clients, 50% GET / 50% PUT over 1000 keys, against
// a started server (kvbench serve istkvs, 4 threads).
func BenchmarkAdapter(b *testing.B) {
	c := startCluster(b)
	ctx := context.Background()
	const clients = 4
	lat := make([][]time.Duration, clients)
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, _ := c.NewClient(ctx, w)
			r := rand.New(rand.NewPCG(uint64(w), 4))
			for next.Add(1) <= int64(b.N) {
				req := impls.Request{Kind: impls.Get, Key: fmt.Sprintf("user%d", r.IntN(1000))}
				if r.IntN(2) == 0 {
					req = impls.Request{Kind: impls.Put, Key: req.Key, Value: "v"}
				}
				t := time.Now()
				if _, err := cl.Do(ctx, req); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/el.Seconds(), "ops/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
}
