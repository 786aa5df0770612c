package checker

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/anishathalye/porcupine"
	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

// history is a validated recorded history, indexed so that the Porcupine
// operations of one key can be built when that key is checked: a scan over
// many keys projects one read per key, and materializing every projection
// at once would hold the whole expansion in memory.
type history struct {
	events []results.Event
	keys   []string  // the key universe, sorted
	direct [][]int32 // per key: the kept non-scan events on it
	scans  []scanRange
	cover  []int // per key: how many kept scans cover it
	// ops counts the events that are checked (not dropped); answered
	// those of them that returned an answer (not unknown).
	ops, answered int
	// end stands in for +infinity: later than every time in the history.
	end int64
}

// scanRange is a kept Scan event and the universe indices [lo, hi) it
// covers; at[k-lo] is the index in its Pairs of universe key k, or -1.
type scanRange struct {
	ev     int
	lo, hi int
	at     []int32
}

// partition is the operations on one key, sorted by call time.
type partition struct {
	key string
	ops []porcupine.Operation
}

// build validates and indexes events (see the package comment for the
// encoding). It rejects events a recorder cannot produce: an unknown kind
// or outcome, or a completed op that returns before its call. events must
// not change while h is in use.
func build(events []results.Event) (*history, error) {
	h := &history{events: events}
	universe := map[string]bool{}
	var last int64
	for i := range events {
		e := &events[i]
		if e.Req.Kind >= impls.NumKinds {
			return nil, fmt.Errorf("event %d: bad kind %v", i+1, e.Req.Kind)
		}
		switch e.Outcome {
		case results.OK:
			if e.Return < e.Call {
				return nil, fmt.Errorf("event %d: returns at %d before its call at %d", i+1, e.Return, e.Call)
			}
		case results.Fail, results.Unknown:
		default:
			return nil, fmt.Errorf("event %d: bad outcome %q", i+1, e.Outcome)
		}
		if e.Req.Kind != impls.Scan {
			universe[e.Req.Key] = true
		}
		last = max(last, e.Call, e.Return)
	}
	h.end = last
	if h.end < math.MaxInt64 {
		h.end++
	}
	h.keys = make([]string, 0, len(universe))
	for k := range universe {
		h.keys = append(h.keys, k)
	}
	sort.Strings(h.keys)
	index := make(map[string]int32, len(h.keys))
	for i, k := range h.keys {
		index[k] = int32(i)
	}
	h.direct = make([][]int32, len(h.keys))
	h.cover = make([]int, len(h.keys)+1)
	for i := range events {
		e := &events[i]
		if e.Outcome == results.Fail {
			continue // a definite failure left the store unchanged
		}
		if e.Outcome == results.Unknown && (e.Req.Kind == impls.Get || e.Req.Kind == impls.Scan) {
			continue // an unanswered read constrains nothing
		}
		h.ops++
		if e.Outcome == results.OK {
			h.answered++
		}
		if e.Req.Kind != impls.Scan {
			k := index[e.Req.Key]
			h.direct[k] = append(h.direct[k], int32(i))
			continue
		}
		lo := sort.SearchStrings(h.keys, e.Req.Key)
		hi := max(lo, sort.SearchStrings(h.keys, e.Req.End+"\x00")) // just past End: inclusive
		if lo == hi {
			continue
		}
		h.scans = append(h.scans, scanRange{ev: i, lo: lo, hi: hi, at: locate(e.Resp.Pairs, h.keys[lo:hi])})
		h.cover[lo]++
		h.cover[hi]--
	}
	for k := 1; k < len(h.cover); k++ {
		h.cover[k] += h.cover[k-1]
	}
	h.cover = h.cover[:len(h.keys)]
	sort.SliceStable(h.scans, func(i, j int) bool { return h.scans[i].lo < h.scans[j].lo })
	return h, nil
}

// size is the number of operations of key k.
func (h *history) size(k int) int { return len(h.direct[k]) + h.cover[k] }

// partition builds the Porcupine operations of key k: its own events, and
// one read per scan covering it (present with the scanned value if the key
// is in the scan's Pairs, absent otherwise).
func (h *history) partition(k int) partition {
	key := h.keys[k]
	slab := make([]op, 0, h.size(k))
	for _, i := range h.direct[k] {
		e := &h.events[i]
		o := op{kind: e.Req.Kind, found: e.Resp.Found, unknown: e.Outcome == results.Unknown,
			client: e.Client, key: key, value: e.Req.Value, out: e.Resp.Value, call: e.Call, ret: e.Return}
		if o.unknown {
			o.ret = h.end
		}
		if o.kind == impls.Put || o.kind == impls.Swap {
			o.after = newState(o.value)
		}
		slab = append(slab, o)
	}
	for _, s := range h.scans {
		if s.lo > k {
			break
		}
		if k >= s.hi {
			continue
		}
		e := &h.events[s.ev]
		o := op{kind: impls.Get, found: impls.Absent, client: e.Client, key: key,
			scan: &e.Req, call: e.Call, ret: e.Return}
		if j := s.at[k-s.lo]; j >= 0 {
			o.found, o.out = impls.Present, e.Resp.Pairs[j].Value
		}
		slab = append(slab, o)
	}
	// Sort by call (then return, then position, to be deterministic) by
	// index: cheaper than moving Operations around.
	byCall := make([]int32, len(slab))
	for i := range byCall {
		byCall[i] = int32(i)
	}
	slices.SortFunc(byCall, func(a, b int32) int {
		if c := cmp.Compare(slab[a].call, slab[b].call); c != 0 {
			return c
		}
		if c := cmp.Compare(slab[a].ret, slab[b].ret); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	ops := make([]porcupine.Operation, len(slab))
	for i, j := range byCall {
		o := &slab[j]
		ops[i] = porcupine.Operation{ClientId: o.client, Input: o, Call: o.call, Output: o, Return: o.ret}
	}
	return partition{key: key, ops: ops}
}

// locate returns, for each key of the sorted keys, the index of its entry
// in a scan's pairs, or -1. Of a duplicated key (a buggy store) the first
// entry wins; unsorted pairs (another bug) are still matched.
func locate(pairs []impls.Pair, keys []string) []int32 {
	at := make([]int32, len(keys))
	sorted := sort.SliceIsSorted(pairs, func(i, j int) bool { return pairs[i].Key < pairs[j].Key })
	if !sorted {
		first := make(map[string]int32, len(pairs))
		for j := len(pairs) - 1; j >= 0; j-- {
			first[pairs[j].Key] = int32(j)
		}
		for i, k := range keys {
			if j, ok := first[k]; ok {
				at[i] = j
			} else {
				at[i] = -1
			}
		}
		return at
	}
	j := 0
	for i, k := range keys {
		for j < len(pairs) && pairs[j].Key < k {
			j++
		}
		if j < len(pairs) && pairs[j].Key == k {
			at[i] = int32(j)
		} else {
			at[i] = -1
		}
	}
	return at
}
