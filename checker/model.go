package checker

import (
	"context"
	"fmt"
	"strconv"

	"github.com/anishathalye/porcupine"
	"github.com/kvbench/kvbench/impls"
)

// state is the model's state of one key. States are immutable and shared:
// every write op carries the state it produces, so stepping never allocates.
type state struct {
	present bool
	value   string
	hash    uint64
}

// absent is the state of a key that holds nothing.
var absent = &state{hash: 0x9e3779b97f4a7c15}

func newState(value string) *state {
	// FNV-1a over the value; the cache only needs Equal states to hash alike.
	h := uint64(14695981039346656037)
	for i := 0; i < len(value); i++ {
		h ^= uint64(value[i])
		h *= 1099511628211
	}
	return &state{present: true, value: value, hash: h}
}

// op is one Porcupine operation on one key: the input, the observed output
// and, for writes, the state the write produces. A Porcupine Operation holds
// the same *op as Input and Output, so no per-step boxing happens.
type op struct {
	kind    impls.Kind // Get for a projected scan read
	found   impls.Found
	unknown bool // outcome unknown: output not compared
	// carried marks the synthetic op that sets the state a segment starts
	// from (see segment); it is not part of the history.
	carried bool
	client  int
	key     string
	value   string // written value (Put, Swap)
	out     string // observed value (Get: the value; Swap: the previous one)
	after   *state // the state a write produces
	// scan is the originating Scan request of a projected read, nil otherwise.
	scan *impls.Request
	// call and ret are the times Porcupine sees (ret is +inf for unknowns).
	call, ret int64
}

// matches reports whether s agrees with what o observed about the key
// before (Swap, Put, Delete) or at (Get) the op.
func (o *op) matches(s *state) bool {
	if o.unknown {
		return true
	}
	switch o.found {
	case impls.Present:
		if !s.present {
			return false
		}
		// Put and Delete only say the key existed; Get and Swap say its value.
		return o.kind == impls.Put || o.kind == impls.Delete || s.value == o.out
	case impls.Absent:
		return !s.present
	}
	return true // the protocol did not say
}

// step is the sequential specification of one key.
func step(s *state, o *op) (bool, *state) {
	if !o.matches(s) {
		return false, s
	}
	switch o.kind {
	case impls.Put, impls.Swap:
		return true, o.after
	case impls.Delete:
		return true, absent
	}
	return true, s
}

// newModel returns the per-key model, without a partition function (the
// checker hands Porcupine one key at a time). Its steps fail once ctx is done, so
// a cancelled or timed-out check unwinds quickly; the caller must then
// treat a non-Ok answer as unknown.
func newModel(ctx context.Context) porcupine.Model {
	return porcupine.Model{
		Init: func() interface{} { return absent },
		Step: func(st, in, _ interface{}) (bool, interface{}) {
			if ctx.Err() != nil {
				return false, st
			}
			return step(st.(*state), in.(*op))
		},
		Equal: func(a, b interface{}) bool {
			x, y := a.(*state), b.(*state)
			return x == y || x.present == y.present && x.value == y.value
		},
		Hash: func(s interface{}) uint64 { return s.(*state).hash },
		DescribeOperation: func(in, _ interface{}) string {
			return in.(*op).String()
		},
		DescribeState: func(s interface{}) string { return s.(*state).String() },
	}
}

// partitionByKey groups operations by key, in order of first appearance.
func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	index := map[string]int{}
	var parts [][]porcupine.Operation
	for _, o := range history {
		k := o.Input.(*op).key
		i, ok := index[k]
		if !ok {
			i = len(parts)
			index[k] = i
			parts = append(parts, nil)
		}
		parts[i] = append(parts[i], o)
	}
	return parts
}

// String describes a state for the visualization and witnesses.
func (s *state) String() string {
	if !s.present {
		return "absent"
	}
	return strconv.Quote(s.value)
}

// String describes an op the way MadKV's protocol would print it, with the
// answer after the arrow.
func (o *op) String() string {
	if o.carried {
		return fmt.Sprintf("%s is %v (carried over from earlier ops)", o.key, o.after)
	}
	var in string
	switch o.kind {
	case impls.Put, impls.Swap:
		in = fmt.Sprintf("%v %s %q", o.kind, o.key, o.value)
	default:
		in = fmt.Sprintf("%v %s", o.kind, o.key)
	}
	if o.scan != nil {
		in = fmt.Sprintf("SCAN %s..%s [%s]", o.scan.Key, o.scan.End, o.key)
	}
	if o.unknown {
		return in + " → ? (outcome unknown)"
	}
	var out string
	switch {
	case o.found == impls.Unknown && o.kind == impls.Get:
		out = "?"
	case o.found == impls.Unknown:
		out = "ok"
	case o.kind == impls.Put || o.kind == impls.Delete:
		out = "not_found"
		if o.found == impls.Present {
			out = "found"
		}
	case o.found == impls.Present:
		out = strconv.Quote(o.out)
	default:
		out = "null"
	}
	return in + " → " + out
}
