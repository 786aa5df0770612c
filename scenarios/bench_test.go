package scenarios

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/kvbench/kvbench/impls/memkv"
	"github.com/kvbench/kvbench/results"
)

// startMemkv serves an in-memory memkv on a loopback port until the test ends.
func startMemkv(t *testing.T) string {
	t.Helper()
	srv, err := memkv.NewServer(memkv.Config{Log: io.Discard, MaxValueSize: 1 << 20, Shards: 16})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	return ln.Addr().String()
}

// TestBenchCheckRecordsTheLoadPhase: run --check on a YCSB workload reads
// records written in the load phase; the history must include those writes,
// or every such read looks like a value from nowhere (a false violation).
func TestBenchCheckRecordsTheLoadPhase(t *testing.T) {
	addr := startMemkv(t)
	_, run, err := Bench(context.Background(), BenchOptions{
		Target: Target{URL: "memcached://" + addr}, Workload: "a", Clients: 3, Window: 2,
		Ops: 3000, Records: 200, Seed: 1, Check: true,
		Output: Output{Dir: t.TempDir(), Stdout: io.Discard, Quiet: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if run.Check == nil || run.Check.Verdict != results.VerdictOK {
		t.Fatalf("check = %+v, want ok", run.Check)
	}
	if run.Check.Ops < 3000+200 {
		t.Errorf("checked %d ops, want the 200 inserts of the load phase and the 3000 of the run", run.Check.Ops)
	}
}
