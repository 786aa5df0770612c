package scenarios

import (
	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/workload"
)

// storeStream adapts a stream to what a store can do: it skips operations of
// kinds the store's protocol lacks (so the remaining kinds keep their
// relative proportions) and rewrites written values into the store's
// canonical form (see impls.Impl.Canonical).
type storeStream struct {
	s         workload.Stream
	supported [impls.NumKinds]bool
	canonical func(string) string
}

// adaptStream wraps s for im; it returns s itself when nothing needs
// adapting (an external target, or a store that supports every kind).
func adaptStream(s workload.Stream, im *impls.Impl) workload.Stream {
	if im == nil {
		return s
	}
	a := &storeStream{s: s, canonical: im.Canonical}
	all := true
	for k := impls.Kind(0); k < impls.NumKinds; k++ {
		a.supported[k] = im.Supports(k)
		all = all && a.supported[k]
	}
	if all && im.Canonical == nil {
		return s
	}
	return a
}

// Next implements workload.Stream.
func (a *storeStream) Next(op *workload.Op) bool {
	for a.s.Next(op) {
		if !a.supported[op.Req.Kind] {
			continue
		}
		if a.canonical != nil && (op.Req.Kind == impls.Put || op.Req.Kind == impls.Swap) {
			op.Req.Value = a.canonical(op.Req.Value)
		}
		return true
	}
	return false
}

// Ack forwards acknowledgements to the wrapped stream.
func (a *storeStream) Ack(op *workload.Op) {
	if ack, ok := a.s.(workload.Acker); ok {
		ack.Ack(op)
	}
}
