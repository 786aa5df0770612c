package results

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/kvbench/kvbench/impls"
)

// want is the event the driver built before recorders existed: the
// response dropped and the error's text kept when err is set.
func want(client int, req impls.Request, resp impls.Response, call, ret int64, err error) Event {
	e := Event{Client: client, Req: req, Resp: resp, Call: call, Return: ret, Outcome: OK}
	if err != nil {
		e.Resp, e.Err, e.Outcome = impls.Response{}, err.Error(), Fail
		if impls.IsUnknown(err) {
			e.Outcome = Unknown
		}
	}
	return e
}

func randString(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(rng.IntN(26))
	}
	return string(b)
}

// TestHistoryRoundTrip: what recorders hold comes back as the events the
// driver used to build, sorted by call time with ties in part order, across
// chunk boundaries, past the intern tables' bounds, with big values, scans
// bigger than a pair chunk, failures and unknown outcomes.
func TestHistoryRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fail := errors.New("connection refused")
	unknown := fmt.Errorf("%w: timed out", impls.ErrUnknownOutcome)
	const parts = 3
	recs := make([]*Recorder, parts)
	var all []Event
	for p := range recs {
		recs[p] = NewRecorder(p)
		call := int64(0)
		for i := range 3000 {
			// Keys: a few hot ones, then distinct ones past maxInterned.
			key := fmt.Sprintf("k%d", rng.IntN(5))
			if i%2 == 0 {
				key = fmt.Sprintf("cold%d-%d", p, i)
			}
			req := impls.Request{Kind: impls.Kind(rng.IntN(int(impls.NumKinds))), Key: key}
			var resp impls.Response
			switch req.Kind {
			case impls.Put, impls.Swap:
				req.Value = randString(rng, 1+rng.IntN(20))
				if i%500 == 0 {
					req.Value = randString(rng, maxArenaChunk) // own allocation
				}
				resp.Found, resp.Value = impls.Present, fmt.Sprintf("v%d", rng.IntN(3))
			case impls.Get:
				resp.Found, resp.Value = impls.Present, fmt.Sprintf("v%d", rng.IntN(3))
			case impls.Delete:
				resp.Found = impls.Absent
			case impls.Scan:
				req.End = key + "~"
				n := rng.IntN(4)
				if i%700 == 0 {
					n = pairChunk + 10
				}
				for j := range n {
					resp.Pairs = append(resp.Pairs, impls.Pair{Key: fmt.Sprintf("k%d", j%7), Value: fmt.Sprintf("v%d", rng.IntN(3))})
				}
			}
			var err error
			switch rng.IntN(10) {
			case 0:
				err = fail
			case 1:
				err = unknown
			}
			call += rng.Int64N(3) // ties between and within parts
			ret := call + rng.Int64N(100)
			recs[p].Add(req, resp, call, ret, err)
			all = append(all, want(p, req, resp, call, ret, err))
		}
	}
	h := NewHistory(recs[0], nil, recs[1], recs[2])
	slices.SortStableFunc(all, func(a, b Event) int { return int(a.Call - b.Call) })
	if h.Len() != len(all) {
		t.Fatalf("Len = %d, want %d", h.Len(), len(all))
	}
	got := h.Events()
	for i := range all {
		if !reflect.DeepEqual(got[i], all[i]) {
			t.Fatalf("event %d:\n got %+v\nwant %+v", i, got[i], all[i])
		}
	}
	// Shifted after other events, which stay.
	first := Event{Client: 9, Call: -5, Outcome: OK}
	shifted := h.AppendEvents([]Event{first}, 1000)
	if !reflect.DeepEqual(shifted[0], first) || len(shifted) != len(all)+1 {
		t.Fatalf("AppendEvents changed dst or lost events")
	}
	for i, e := range shifted[1:] {
		if e.Call != all[i].Call+1000 || e.Return != all[i].Return+1000 {
			t.Fatalf("event %d shifted to %d, want %d", i, e.Call, all[i].Call+1000)
		}
	}
	// A scan's pairs cannot be extended over its neighbour's.
	for _, e := range got {
		if len(e.Resp.Pairs) > 0 && cap(e.Resp.Pairs) != len(e.Resp.Pairs) {
			t.Fatalf("pairs slice has spare capacity %d > %d", cap(e.Resp.Pairs), len(e.Resp.Pairs))
		}
	}
	var none *History
	if none.Len() != 0 || none.Events() != nil || NewHistory().Events() != nil {
		t.Error("an empty history has events")
	}
}

// fuzzOps makes n operations of the fuzz mix (PUT 2, SWAP 2, GET 3, SCAN 2,
// DELETE 1 of 10) on 5 shared keys and hands each to add, answered from a
// map the way a client decodes answers: every returned string is a fresh
// copy.
func fuzzOps(n int, add func(i int, req impls.Request, resp impls.Response)) {
	rng := rand.New(rand.NewPCG(3, 4))
	keys := []string{"D6pENkey00000", "D6pENkey00001", "D6pENkey00002", "D6pENkey00003", "D6pENkey00004"}
	store := map[string]string{}
	for i := range n {
		key := keys[rng.IntN(len(keys))]
		req := impls.Request{Key: key}
		var resp impls.Response
		old, ok := store[key]
		found := impls.Absent
		if ok {
			found = impls.Present
		}
		switch r := rng.IntN(10); {
		case r < 2:
			req.Kind, req.Value = impls.Put, randString(rng, 16)
			store[key], resp.Found = req.Value, found
		case r < 4:
			req.Kind, req.Value = impls.Swap, randString(rng, 16)
			store[key], resp.Found, resp.Value = req.Value, found, strings.Clone(old)
		case r < 7:
			req.Kind, resp.Found, resp.Value = impls.Get, found, strings.Clone(old)
		case r < 9:
			req.Kind, req.Key, req.End = impls.Scan, keys[0], keys[len(keys)-1]
			for _, k := range keys {
				if v, ok := store[k]; ok {
					resp.Pairs = append(resp.Pairs, impls.Pair{Key: strings.Clone(k), Value: strings.Clone(v)})
				}
			}
		default:
			req.Kind, resp.Found = impls.Delete, found
			delete(store, key)
		}
		add(i, req, resp)
	}
}

// recordBudget is goal 2 of issue 14: a recorded history costs at most
// about 200 bytes per operation.
const recordBudget = 200

// TestRecordSize: the record stays the 96 bytes the budget counts on.
func TestRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(record{}); unsafe.Sizeof(0) == 8 && n != 96 {
		t.Errorf("a record is %d bytes, want 96", n)
	}
}

// TestRecordBytesPerOp: 100 000 fuzz-mix operations by 5 clients on 5 keys
// keep at most recordBudget bytes per operation live in the recorders.
func TestRecordBytesPerOp(t *testing.T) {
	const n = 100_000
	recs := make([]*Recorder, 5)
	for i := range recs {
		recs[i] = NewRecorder(i)
	}
	before := heapInUse()
	fuzzOps(n, func(i int, req impls.Request, resp impls.Response) {
		call := int64(i) * 1000
		recs[i%len(recs)].Add(req, resp, call, call+900, nil)
	})
	after := heapInUse()
	runtime.KeepAlive(recs)
	perOp := float64(after-before) / n
	t.Logf("%.1f bytes per recorded op", perOp)
	if perOp > recordBudget {
		t.Errorf("recording keeps %.1f bytes per op, budget %d", perOp, recordBudget)
	}
	if got := NewHistory(recs...).Len(); got != n {
		t.Errorf("recorded %d ops, want %d", got, n)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkRecord measures the time and allocation of recording one
// fuzz-mix operation (the operations are made beforehand).
func BenchmarkRecord(b *testing.B) {
	type op struct {
		req  impls.Request
		resp impls.Response
	}
	ops := make([]op, 4096)
	fuzzOps(len(ops), func(i int, req impls.Request, resp impls.Response) { ops[i] = op{req, resp} })
	r := NewRecorder(0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		o := &ops[i%len(ops)]
		r.Add(o.req, o.resp, int64(i), int64(i)+900, nil)
		i++
	}
}
