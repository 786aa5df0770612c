package driver

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/memkv"
	"github.com/kvbench/kvbench/workload"
)

// BenchmarkMuxYCSB measures the -w 1 event-loop path per operation, as
// `kvbench run -n 32 --workload a -p readproportion=0.9 -p
// updateproportion=0.1 -p fieldcount=1 -p fieldlength=100 --records 10000`
// runs it (scripts/bench.sh section 1): the YCSB stream, Begin/Finish on the
// memcached client, the event loops, clock reads and histograms. Against an
// in-process memkv (allocs/op include the server's) and, when installed, a
// memcached -t 2 child (allocs/op are kvbench's alone). The records are
// loaded first. ns/op is wall time per op with the server on the same box.
func BenchmarkMuxYCSB(b *testing.B) {
	targets := []struct {
		name  string
		start func(b *testing.B) string
	}{{"memkv", benchMemkv}, {"memcached", benchMemcached}}
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			addr := tg.start(b)
			p, err := workload.Core("a")
			if err != nil {
				b.Fatal(err)
			}
			for k, v := range map[string]string{"recordcount": "10000", "readproportion": "0.9", "updateproportion": "0.1", "fieldcount": "1", "fieldlength": "100"} {
				p[k] = v
			}
			y, err := workload.NewYCSB(p)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			const clients = 32
			load, err := Run(ctx, Config{Clients: clients, Window: 1}, dialerB(addr), func(w int) workload.Stream { return y.LoadStream(w, clients, 1) })
			if err != nil || load.Ops() != y.RecordCount() {
				b.Fatalf("load: %v (%d ops)", err, load.Ops())
			}
			b.ReportAllocs()
			cpu0, user0 := cpuTime()
			b.ResetTimer()
			res, err := Run(ctx, Config{Clients: clients, Window: 1, Ops: int64(b.N)}, dialerB(addr), func(w int) workload.Stream { return y.RunStream(w, 1) })
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			// CPU of this process (with memcached: kvbench's alone).
			cpu1, user1 := cpuTime()
			b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(user1-user0)/float64(b.N), "user-ns/op")
			if res.Ops() != int64(b.N) {
				b.Fatalf("ops %d, want %d (first error %v)", res.Ops(), b.N, res.FirstErr)
			}
		})
	}
}

// cpuTime is the process's user+system CPU time, and its user time.
func cpuTime() (total, user time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Utime.Nano())
}

func dialerB(addr string) OpenClient {
	return func(ctx context.Context, id int) (impls.Client, error) { return memkv.Dial(ctx, addr, 1) }
}

func benchMemkv(b *testing.B) string { return startMemkv(b) }

// startMemkv serves an in-process memkv on a loopback port.
func startMemkv(tb testing.TB) string {
	tb.Helper()
	s, err := memkv.NewServer(memkv.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go s.Serve(context.Background(), ln)
	return ln.Addr().String()
}

func benchMemcached(b *testing.B) string {
	bin, err := exec.LookPath("memcached")
	if err != nil {
		b.Skip("memcached not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-t", "2", "-m", "64"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root")
	}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if i == 100 {
			b.Fatalf("memcached did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
