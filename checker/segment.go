package checker

import (
	"github.com/anishathalye/porcupine"
	"github.com/kvbench/kvbench/impls"
)

// segment is a stretch of one key's history that Porcupine checks on its
// own. Splitting is sound and complete because of two conditions at each
// cut:
//
//  1. Quiescence: every op before the cut returned strictly before any op
//     after it was called, so every linearization of the key orders all
//     earlier ops before all later ones.
//  2. A determined state: among the writes before the cut (since the
//     previous cut), one was called after every other one returned, so it
//     is the last write in every linearization and the key's state at the
//     cut is its effect (or the previous cut's state if there was no write).
//
// The key's history is then linearizable iff each segment is, starting from
// the state determined at its cut. Porcupine's memory per step is linear in
// the length of what it checks, so a long history on few keys costs
// quadratic memory unsplit; split, it is roughly linear. An op whose
// outcome is unknown returns at +infinity, so no cut follows its call.
type segment struct {
	key string
	// ops starts with a carried op setting the state determined at the cut
	// when that state is not absent.
	ops []porcupine.Operation
	// offset counts the key's ops before this segment; total all of them.
	offset, total int
}

// carried reports whether the segment starts with a carried op.
func (s *segment) carried() int {
	if len(s.ops) > 0 && s.ops[0].Input.(*op).carried {
		return 1
	}
	return 0
}

// defaultMinSegment is the fewest ops check puts in a segment before it
// cuts: every Porcupine call has a fixed cost, so cutting after every
// quiescent op would make a sparse history slower, not faster. Tests lower
// it through Options.minSegment.
const defaultMinSegment = 256

// split cuts one key's ops into segments (see segment) of at least minOps
// ops (the last one may be shorter). p.ops must be sorted by call time.
func split(p partition, minOps int) []segment {
	ops := p.ops
	var segs []segment
	start := 0
	init := absent
	var maxRet int64
	var last *op         // the write called last in the current segment
	var beforeLast int64 // the latest return of the segment's other writes
	determined := true   // the segment's end state is known
	for i := 0; i <= len(ops); i++ {
		if i == len(ops) || i-start >= max(minOps, 1) && maxRet < ops[i].Call && determined {
			seg := segment{key: p.key, offset: start, total: len(ops)}
			if init.present {
				first := ops[start].Call
				seg.ops = append(seg.ops, porcupine.Operation{
					ClientId: ops[start].ClientId,
					Input:    &op{kind: impls.Put, carried: true, key: p.key, value: init.value, after: init, call: first - 1, ret: first - 1},
					Call:     first - 1, Return: first - 1,
				})
				seg.ops[0].Output = seg.ops[0].Input
			}
			if seg.ops == nil {
				seg.ops = ops[start:i:i]
			} else {
				seg.ops = append(seg.ops, ops[start:i]...)
			}
			segs = append(segs, seg)
			switch {
			case last == nil:
			case last.kind == impls.Delete:
				init = absent
			default:
				init = last.after
			}
			start, last, determined = i, nil, true
		}
		if i == len(ops) {
			break
		}
		o := ops[i].Input.(*op)
		if i == start || ops[i].Return > maxRet {
			maxRet = ops[i].Return
		}
		if o.kind == impls.Put || o.kind == impls.Swap || o.kind == impls.Delete {
			if last != nil {
				beforeLast = max(beforeLast, last.ret)
			} else {
				beforeLast = o.call - 1 // no other write yet
			}
			last = o
			determined = beforeLast < o.call
		}
	}
	return segs
}
