package checker

import (
	"fmt"
	"math"
	"sort"

	"github.com/anishathalye/porcupine"
	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

// history is a recorded history encoded for Porcupine: one partition per
// key, in key order.
type history struct {
	parts []partition
	// ops counts the events that are checked (not dropped).
	ops int
	// end stands in for +infinity: later than every time in the history.
	end int64
}

// partition is the operations on one key.
type partition struct {
	key string
	ops []porcupine.Operation
}

// build encodes events (see the package comment for the rules). It rejects
// events a recorder cannot produce: an unknown kind or outcome, or a
// completed op that returns before its call.
func build(events []results.Event) (*history, error) {
	h := &history{}
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
	keys := make([]string, 0, len(universe))
	for k := range universe {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	index := make(map[string]int, len(keys))
	h.parts = make([]partition, len(keys))
	for i, k := range keys {
		index[k] = i
		h.parts[i].key = k
	}
	add := func(o *op) {
		p := &h.parts[index[o.key]]
		p.ops = append(p.ops, porcupine.Operation{
			ClientId: o.client, Input: o, Call: o.call, Output: o, Return: o.ret,
		})
	}
	for i := range events {
		e := &events[i]
		if e.Outcome == results.Fail {
			continue // a definite failure left the store unchanged
		}
		unknown := e.Outcome == results.Unknown
		if unknown && (e.Req.Kind == impls.Get || e.Req.Kind == impls.Scan) {
			continue // an unanswered read constrains nothing
		}
		h.ops++
		ret := e.Return
		if unknown {
			ret = h.end
		}
		if e.Req.Kind == impls.Scan {
			projectScan(e, keys, func(key string, found impls.Found, value string) {
				add(&op{kind: impls.Get, found: found, client: e.Client, key: key,
					out: value, scan: &e.Req, call: e.Call, ret: ret})
			})
			continue
		}
		o := &op{kind: e.Req.Kind, found: e.Resp.Found, unknown: unknown, client: e.Client,
			key: e.Req.Key, value: e.Req.Value, out: e.Resp.Value, call: e.Call, ret: ret}
		if o.kind == impls.Put || o.kind == impls.Swap {
			o.after = newState(o.value)
		}
		add(o)
	}
	// Drop keys whose every op was dropped: nothing to check there.
	parts := h.parts[:0]
	for _, p := range h.parts {
		if len(p.ops) > 0 {
			parts = append(parts, p)
		}
	}
	h.parts = parts
	return h, nil
}

// projectScan calls read once per key of the sorted universe inside
// [e.Req.Key, e.Req.End] with what the scan saw of that key. Pairs are
// expected sorted; unsorted ones (a buggy store) are looked up by map, the
// first entry of a duplicated key winning.
func projectScan(e *results.Event, universe []string, read func(key string, found impls.Found, value string)) {
	lo, hi := e.Req.Key, e.Req.End
	pairs := e.Resp.Pairs
	sorted := sort.SliceIsSorted(pairs, func(i, j int) bool { return pairs[i].Key < pairs[j].Key })
	var byKey map[string]string
	if !sorted {
		byKey = make(map[string]string, len(pairs))
		for _, p := range pairs {
			if _, dup := byKey[p.Key]; !dup {
				byKey[p.Key] = p.Value
			}
		}
	}
	j := 0
	for i := sort.SearchStrings(universe, lo); i < len(universe) && universe[i] <= hi; i++ {
		k := universe[i]
		var v string
		var ok bool
		if sorted {
			for j < len(pairs) && pairs[j].Key < k {
				j++
			}
			if j < len(pairs) && pairs[j].Key == k {
				v, ok = pairs[j].Value, true
			}
		} else {
			v, ok = byKey[k]
		}
		if ok {
			read(k, impls.Present, v)
		} else {
			read(k, impls.Absent, "")
		}
	}
}
