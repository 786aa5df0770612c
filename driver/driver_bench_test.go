package driver

import (
	"context"
	"testing"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/workload"
)

type nopClient struct{}

func (nopClient) Do(context.Context, impls.Request) (impls.Response, error) {
	return impls.Response{}, nil
}
func (nopClient) Close() error { return nil }

// BenchmarkDriverPerOp measures the driver's own cost per operation: two
// clock reads, stream Next, histogram recording, against a client that does
// nothing. Goal: under 1 µs and zero allocations per op.
func BenchmarkDriverPerOp(b *testing.B) {
	for _, bc := range []struct {
		name    string
		clients int
		record  bool
	}{{"closed-1", 1, false}, {"closed-2", 2, false}, {"closed-16", 16, false}, {"closed-256", 256, false}, {"record-1", 1, true}} {
		b.Run(bc.name, func(b *testing.B) {
			open := func(context.Context, int) (impls.Client, error) { return nopClient{}, nil }
			streams := func(int) workload.Stream {
				return &cycleStream{ops: []workload.Op{{Type: workload.Read, Req: impls.Request{Kind: impls.Get, Key: "user1"}}}}
			}
			b.ReportAllocs()
			b.ResetTimer()
			res, err := Run(context.Background(), Config{Clients: bc.clients, Window: 1, Ops: int64(b.N), Record: bc.record}, open, streams)
			if err != nil {
				b.Fatal(err)
			}
			if res.Ops() != int64(b.N) {
				b.Fatalf("ops %d, want %d", res.Ops(), b.N)
			}
		})
	}
}
