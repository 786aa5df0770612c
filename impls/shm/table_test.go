package shm

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestTableBasic(t *testing.T) {
	tb := NewTable(1)
	if tb.Get(7) != 0 {
		t.Fatal("empty table has key 7")
	}
	tb.Put(7, 70)
	tb.Put(0, 5) // key 0 is a key like any other
	tb.Put(7, 71)
	if tb.Get(7) != 71 || tb.Get(0) != 5 || tb.Get(8) != 0 || tb.Len() != 2 {
		t.Errorf("get 7 = %d, 0 = %d, 8 = %d, len %d", tb.Get(7), tb.Get(0), tb.Get(8), tb.Len())
	}
}

// TestTableConcurrent: goroutines PUT and GET random keys (each owning a
// stripe of the key space, so each can check exactly) while the table grows.
func TestTableConcurrent(t *testing.T) {
	tb := NewTable(1)
	const g, ops = 8, 20000
	var wg sync.WaitGroup
	for i := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 3))
			ref := map[uint32]uint32{}
			for range ops {
				k := uint32(rng.IntN(5000))*g + uint32(i)
				if rng.IntN(2) == 0 {
					v := rng.Uint32()
					tb.Put(k, v)
					ref[k] = v
				} else if got := tb.Get(k); got != ref[k] {
					t.Errorf("get %d = %d, want %d", k, got, ref[k])
					return
				}
			}
			for k, v := range ref {
				if got := tb.Get(k); got != v {
					t.Errorf("final get %d = %d, want %d", k, got, v)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestTableGrowth grows a table from -s 1 to a million keys and checks that
// every operation did a bounded amount of migration work (the reason pauses
// stay short); it logs the slowest operation for information only.
func TestTableGrowth(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	tb := NewTable(1)
	var slowest time.Duration
	for i := range n {
		k := uint32(i) * 2654435761
		t0 := time.Now()
		tb.Put(k, uint32(i)+1)
		if d := time.Since(t0); d > slowest {
			slowest = d
		}
	}
	if tb.Len() != n {
		t.Fatalf("len = %d, want %d", tb.Len(), n)
	}
	for i := range n {
		if got := tb.Get(uint32(i) * 2654435761); got != uint32(i)+1 {
			t.Fatalf("get key #%d = %d", i, got)
		}
	}
	maxStep, buckets := 0, 0
	for i := range tb.shards {
		s := &tb.shards[i]
		maxStep = max(maxStep, s.maxStep)
		buckets += len(s.cur)
	}
	// migrateStep buckets at load factor <= 1 hold a few entries; 64 would
	// mean a pathological chain.
	if maxStep > 64 {
		t.Errorf("one operation migrated %d entries", maxStep)
	}
	t.Logf("%d keys, %d buckets, largest migration step %d entries, slowest put %v", n, buckets, maxStep, slowest)
}

func BenchmarkTable(b *testing.B) {
	for _, g := range []int{1, 2} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			tb := NewTable(1000)
			b.SetParallelism(g)
			b.RunParallel(func(pb *testing.PB) {
				rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
				for pb.Next() {
					k := uint32(rng.IntN(100000))
					if rng.IntN(2) == 0 {
						tb.Put(k, k+1)
					} else {
						tb.Get(k)
					}
				}
			})
		})
	}
}
