package workload

import (
	"sync"
	"sync/atomic"
)

// ackCounter is YCSB's AcknowledgedCounterGenerator, shared by every run
// stream of one YCSB: next hands out insert key numbers (recordcount,
// recordcount+1, ...), and limit is the highest number below which every
// number has been acknowledged. Key choosers never return a number above
// limit, so no stream reads a key whose insert has not completed.
//
// limit is read with one atomic load on every operation; acknowledge takes a
// mutex, but only inserts acknowledge. YCSB keeps a fixed window of 2^20
// slots and throws when it overflows; a map has no such limit.
type ackCounter struct {
	nextNum atomic.Int64
	limit   atomic.Int64

	mu      sync.Mutex
	pending map[int64]struct{} // acknowledged numbers above limit+1
}

func newAckCounter(start int64) *ackCounter {
	c := &ackCounter{pending: make(map[int64]struct{})}
	c.nextNum.Store(start)
	c.limit.Store(start - 1)
	return c
}

// next returns a fresh insert key number.
func (c *ackCounter) next() int64 { return c.nextNum.Add(1) - 1 }

// last returns the highest acknowledged contiguous key number.
func (c *ackCounter) last() int64 { return c.limit.Load() }

// acknowledge marks v done and advances limit over every contiguous
// acknowledged number. Acknowledging a number twice, or one at or below
// limit, has no effect.
func (c *ackCounter) acknowledge(v int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	lim := c.limit.Load()
	if v <= lim {
		return
	}
	if v != lim+1 {
		c.pending[v] = struct{}{}
		return
	}
	lim = v
	for {
		if _, ok := c.pending[lim+1]; !ok {
			break
		}
		delete(c.pending, lim+1)
		lim++
	}
	c.limit.Store(lim)
}
