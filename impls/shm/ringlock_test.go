package shm

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// The producer lock: mutual exclusion among many producers, and a producer
// waiting for it gives up when its ctx ends or the cluster closes, without
// taking the lock.
func TestRingLock(t *testing.T) {
	if newRingLock(1) != nil {
		t.Fatal("a one-thread cluster has a producer lock")
	}
	l := newRingLock(4)
	never := stopper{ctx: context.Background(), closing: make(chan struct{})}

	// Mutual exclusion: a plain counter incremented under the lock by 8
	// goroutines (the race detector also watches it).
	var wg sync.WaitGroup
	n := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5000 {
				if err := l.lock(never); err != nil {
					t.Error(err)
					return
				}
				n++
				l.unlock()
			}
		}()
	}
	wg.Wait()
	if n != 8*5000 {
		t.Fatalf("counter %d under the lock, want %d", n, 8*5000)
	}

	// A waiter whose ctx ends, and one whose cluster closes, give up.
	if err := l.lock(never); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.lock(stopper{ctx: ctx, closing: make(chan struct{})}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter with an ended ctx: %v, want the deadline", err)
	}
	closing := make(chan struct{})
	close(closing)
	if err := l.lock(stopper{ctx: context.Background(), closing: closing}); !errors.Is(err, errClosed) {
		t.Fatalf("waiter on a closing cluster: %v, want errClosed", err)
	}

	// A sleeping waiter gets the lock once it is released.
	got := make(chan error)
	go func() { got <- l.lock(never) }()
	select {
	case err := <-got:
		t.Fatalf("second holder while the lock is held (%v)", err)
	case <-time.After(20 * time.Millisecond):
	}
	l.unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter never got the released lock")
	}
	l.unlock()
	if err := l.lock(never); err != nil {
		t.Fatal(err)
	}
	l.unlock()
}
