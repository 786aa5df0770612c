package execclient

import (
	"context"
	"testing"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/memkv"
)

// BenchmarkRoundTrip measures what one request costs through exec: against
// the same in-memory `kvbench serve memkv`:
//
//   - native: memkv's own adapter (one TCP round trip);
//   - exec: through `kvbench client memkv` (pipe to the client process,
//     its TCP round trip, pipe back);
//   - pipe-only: a fake client that answers from its own memory (the pipe
//     round trip and line handling alone, no server).
//
// exec minus native is the added per-op cost of the pipe round trip.
// GET and PUT (which `kvbench client memkv` runs as a swap: two memcached
// round trips; --put set makes it one) are measured separately.
func BenchmarkRoundTrip(b *testing.B) {
	addr := startMemkv(b)
	ctx := context.Background()
	native, err := memkv.Dial(ctx, addr, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer native.Close()
	clients := map[string]impls.Client{"native": native}
	for name, command := range map[string]string{
		"exec":         "kvbench client memkv " + addr,
		"exec-put-set": "kvbench client memkv --put set " + addr,
		"pipe-only":    fakeCommand("store"),
	} {
		_, c := openExec(b, command, 1, 0)
		cl, err := c.NewClient(ctx, 0)
		if err != nil {
			b.Fatal(err)
		}
		clients[name] = cl
	}
	value := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, name := range []string{"native", "exec", "exec-put-set", "pipe-only"} {
		cl := clients[name]
		if _, err := cl.Do(ctx, impls.Request{Kind: impls.Put, Key: "bench", Value: value}); err != nil {
			b.Fatal(err)
		}
		for _, kind := range []impls.Kind{impls.Get, impls.Put} {
			req := impls.Request{Kind: kind, Key: "bench"}
			if kind == impls.Put {
				req.Value = value
			}
			b.Run(name+"/"+kind.String(), func(b *testing.B) {
				for b.Loop() {
					if _, err := cl.Do(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
