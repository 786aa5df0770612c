package fifo

import "testing"

func TestOrderAcrossGrowthAndWrap(t *testing.T) {
	var q Queue[int]
	next, want := 0, 0
	// Interleave pushes and pops so the ring wraps before and after it grows.
	for round := 1; round <= 6; round++ {
		for range round * 3 {
			q.Push(next)
			next++
		}
		for range round * 2 {
			if got := q.Pop(); got != want {
				t.Fatalf("round %d: Pop = %d, want %d", round, got, want)
			}
			want++
		}
	}
	if q.Len() != next-want {
		t.Fatalf("Len = %d, want %d", q.Len(), next-want)
	}
	for i := range q.Len() {
		if got := *q.At(i); got != want+i {
			t.Fatalf("At(%d) = %d, want %d", i, got, want+i)
		}
	}
	*q.At(0) = -1
	if got := q.Pop(); got != -1 {
		t.Fatalf("Pop after At(0) update = %d, want -1", got)
	}
}

func TestPopZeroesCell(t *testing.T) {
	var q Queue[*int]
	v := 7
	q.Push(&v)
	q.Pop()
	for _, p := range q.buf {
		if p != nil {
			t.Fatal("a popped cell still holds its pointer")
		}
	}
}

func TestReserveAvoidsAllocation(t *testing.T) {
	var q Queue[int]
	q.Reserve(16)
	allocs := testing.AllocsPerRun(100, func() {
		for i := range 16 {
			q.Push(i)
		}
		for range 16 {
			q.Pop()
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per 16 pushes and pops after Reserve(16), want 0", allocs)
	}
}

func TestMisuse(t *testing.T) {
	for name, f := range map[string]func(){
		"Pop empty":   func() { var q Queue[int]; q.Pop() },
		"At past end": func() { var q Queue[int]; q.Push(1); q.At(1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}
