package workload

import "github.com/kvbench/kvbench/impls"

// OpType labels an operation in summaries and histograms, with YCSB's names
// where YCSB has one.
type OpType uint8

// The op types. Read..ReadModifyWrite are YCSB's; Delete and SwapOp come from
// MadKV-style streams.
const (
	Read            OpType = iota // a Get
	Update                        // a Put of an existing record
	Insert                        // a Put of a new record
	ScanOp                        // a Scan
	ReadModifyWrite               // a Get then a Put of the same key, timed as one op
	DeleteOp                      // a Delete
	SwapOp                        // a Swap
	NumOpTypes
)

var opTypeNames = [NumOpTypes]string{"READ", "UPDATE", "INSERT", "SCAN", "READ-MODIFY-WRITE", "DELETE", "SWAP"}

// String returns YCSB's name for t, e.g. "READ-MODIFY-WRITE".
func (t OpType) String() string {
	if t < NumOpTypes {
		return opTypeNames[t]
	}
	return "UNKNOWN"
}

// TypeOf returns the default op type of a request kind (Put counts as UPDATE).
func TypeOf(k impls.Kind) OpType {
	switch k {
	case impls.Get:
		return Read
	case impls.Put:
		return Update
	case impls.Delete:
		return DeleteOp
	case impls.Swap:
		return SwapOp
	default:
		return ScanOp
	}
}

// Op is one operation of a stream. For ReadModifyWrite, Req is the Put; the
// driver first issues a Get of Req.Key.
type Op struct {
	Type OpType
	Req  impls.Request
}

// Stream yields the operations of one worker. Next fills *op and reports
// false when the stream is exhausted. A Stream is used by one goroutine.
type Stream interface {
	Next(op *Op) bool
}

// Acker is implemented by streams that must learn which operations completed
// successfully (YCSB's acknowledged insert counter: the key chooser never picks
// a key whose insert has not been acknowledged). The driver calls Ack after
// each successful op, from the stream's goroutine.
type Acker interface {
	Ack(op *Op)
}

// SliceStream replays a fixed list of operations.
type SliceStream struct {
	Ops []Op
	i   int
}

// Next implements Stream.
func (s *SliceStream) Next(op *Op) bool {
	if s.i >= len(s.Ops) {
		return false
	}
	*op = s.Ops[s.i]
	s.i++
	return true
}

// Split divides ops into n contiguous blocks of near-equal size, as the CS537
// client splits its workload file among threads; block i gets the earlier
// remainder ops.
func Split(ops []Op, n int) [][]Op {
	blocks := make([][]Op, n)
	base, extra := len(ops)/n, len(ops)%n
	lo := 0
	for i := range blocks {
		size := base
		if i < extra {
			size++
		}
		blocks[i] = ops[lo : lo+size : lo+size]
		lo += size
	}
	return blocks
}
