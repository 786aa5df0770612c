package checker

import (
	"context"
	"fmt"
	"runtime/metrics"
	"time"
)

// DefaultMaxHeap is how far the Go heap may grow during a check before it
// gives up (verdict unknown) when Options.MaxHeap is 0. Porcupine's search
// memory grows exponentially with the number of concurrent operations on
// one key (tens of clients on a handful of keys), so a limit keeps a hard
// history from exhausting the machine before the time limit ends it.
const DefaultMaxHeap = 4 << 30

// heapLimitError is the cancellation cause when the heap limit is hit.
type heapLimitError struct{ limit int64 }

func (e *heapLimitError) Error() string {
	return fmt.Sprintf("gave up: the search needed more than %d MiB of heap", e.limit>>20)
}

// heapGuard returns a context that is cancelled with a *heapLimitError
// cause once the process's Go heap (live objects and garbage not yet
// collected) has grown by more than limit since the call (0:
// DefaultMaxHeap; negative: no limit), so the history the caller already
// holds does not count. stop releases it.
func heapGuard(ctx context.Context, limit int64) (_ context.Context, stop func()) {
	if limit < 0 {
		return ctx, func() {}
	}
	if limit == 0 {
		limit = DefaultMaxHeap
	}
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	heap := func() uint64 {
		metrics.Read(s)
		if s[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[0].Value.Uint64()
	}
	base := heap()
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if h := heap(); h > base && h-base > uint64(limit) {
				cancel(&heapLimitError{limit})
				return
			}
		}
	}()
	return ctx, func() { close(done); cancel(nil) }
}
