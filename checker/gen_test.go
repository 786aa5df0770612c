package checker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

// genOpts describes a generated history. Histories come from a real store:
// a map behind a mutex, so every recorded history is linearizable (each op
// takes effect inside its [call, return] window, under the lock).
type genOpts struct {
	clients, ops, keys int // ops per client
	// scanWidth 0 scans between two random keys, ordered (MadKV's fuzzer);
	// n > 0 scans from a random key over at most n keys.
	scanWidth int
	// unknown and fail are the fractions of ops recorded with those
	// outcomes; an unknown op takes effect or not at random, a failed one
	// never; both record a garbage response.
	unknown, fail float64
	// memcached hides whether a Put overwrote a key (Found Unknown).
	memcached bool
	// jitter yields inside each op's window, so windows overlap more.
	jitter bool
	// sequential runs the clients' ops one at a time on one goroutine with
	// disjoint windows instead of concurrently.
	sequential bool
	seed       uint64
}

func (o genOpts) String() string {
	s := fmt.Sprintf("%dx%d/%dkeys", o.clients, o.ops, o.keys)
	if o.sequential {
		s += "/seq"
	}
	if o.unknown > 0 || o.fail > 0 {
		s += "/faulty"
	}
	if o.memcached {
		s += "/memcached"
	}
	return s
}

// madkvMix is MadKV's fuzz mix out of 10: PUT 2, SWAP 2, GET 3, SCAN 2, DELETE 1.
var madkvMix = []impls.Kind{impls.Put, impls.Put, impls.Swap, impls.Swap, impls.Get, impls.Get, impls.Get,
	impls.Scan, impls.Scan, impls.Delete}

func keyName(i int) string { return fmt.Sprintf("key%05d", i) }

type memStore struct {
	mu   sync.Mutex
	m    map[string]string
	keys []string // sorted
}

// apply executes req on the store; the caller holds mu.
func (s *memStore) apply(req impls.Request, memcached bool) impls.Response {
	old, had := s.m[req.Key]
	switch req.Kind {
	case impls.Get:
		return impls.Response{Found: impls.FoundOf(had), Value: old}
	case impls.Put:
		s.m[req.Key] = req.Value
		if memcached {
			return impls.Response{}
		}
		return impls.Response{Found: impls.FoundOf(had)}
	case impls.Swap:
		s.m[req.Key] = req.Value
		return impls.Response{Found: impls.FoundOf(had), Value: old}
	case impls.Delete:
		delete(s.m, req.Key)
		return impls.Response{Found: impls.FoundOf(had)}
	}
	var resp impls.Response
	for i := sort.SearchStrings(s.keys, req.Key); i < len(s.keys) && s.keys[i] <= req.End; i++ {
		if v, ok := s.m[s.keys[i]]; ok {
			resp.Pairs = append(resp.Pairs, impls.Pair{Key: s.keys[i], Value: v})
		}
	}
	return resp
}

func randomReq(rng *rand.Rand, o genOpts, keys []string, client, i int) impls.Request {
	req := impls.Request{Kind: madkvMix[rng.IntN(len(madkvMix))], Key: keys[rng.IntN(len(keys))]}
	switch req.Kind {
	case impls.Put, impls.Swap:
		req.Value = fmt.Sprintf("v%d.%d", client, i)
	case impls.Scan:
		a, b := rng.IntN(len(keys)), rng.IntN(len(keys))
		if o.scanWidth > 0 {
			b = min(len(keys)-1, a+rng.IntN(o.scanWidth))
		}
		if a > b {
			a, b = b, a
		}
		req.Key, req.End = keys[a], keys[b]
	}
	return req
}

var garbage = impls.Response{Found: impls.Present, Value: "garbage", Pairs: []impls.Pair{{Key: keyName(0), Value: "garbage"}}}

// genHistory records a history of o.clients clients running the MadKV mix
// against a memStore.
func genHistory(o genOpts) []results.Event {
	s := &memStore{m: map[string]string{}}
	for i := 0; i < o.keys; i++ {
		s.keys = append(s.keys, keyName(i))
	}
	start := time.Now()
	clock := func() int64 { return int64(time.Since(start)) }
	var seqClock int64
	if o.sequential {
		clock = func() int64 { seqClock += 10; return seqClock }
	}
	// do runs op i of client c and returns its event.
	do := func(rng *rand.Rand, c, i int) results.Event {
		req := randomReq(rng, o, s.keys, c, i)
		outcome, apply := results.OK, true
		switch roll := rng.Float64(); {
		case roll < o.fail:
			outcome, apply = results.Fail, false
		case roll < o.fail+o.unknown:
			outcome, apply = results.Unknown, rng.IntN(2) == 0
		}
		call := clock()
		if o.jitter && rng.IntN(2) == 0 {
			runtime.Gosched()
		}
		var resp impls.Response
		s.mu.Lock()
		if apply {
			resp = s.apply(req, o.memcached)
		}
		s.mu.Unlock()
		if o.jitter && rng.IntN(2) == 0 {
			runtime.Gosched()
		}
		ret := clock()
		if outcome != results.OK {
			resp = garbage
		}
		return results.Event{Client: c, Req: req, Resp: resp, Call: call, Return: ret, Outcome: outcome}
	}
	var events []results.Event
	if o.sequential {
		rng := rand.New(rand.NewPCG(o.seed, 0))
		for i := 0; i < o.clients*o.ops; i++ {
			events = append(events, do(rng, rng.IntN(o.clients), i))
		}
		return events
	}
	per := make([][]results.Event, o.clients)
	var wg sync.WaitGroup
	for c := 0; c < o.clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(o.seed, uint64(c)+1))
			for i := 0; i < o.ops; i++ {
				per[c] = append(per[c], do(rng, c, i))
			}
		}()
	}
	wg.Wait()
	for _, es := range per {
		events = append(events, es...)
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].Call < events[j].Call })
	return events
}

func propertyConfigs() []genOpts {
	cs := []genOpts{
		{clients: 1, ops: 400, keys: 5},
		{clients: 3, ops: 300, keys: 5, sequential: true},
		{clients: 3, ops: 300, keys: 50, jitter: true},
		{clients: 5, ops: 300, keys: 5, jitter: true},
		{clients: 5, ops: 300, keys: 1, jitter: true},
		{clients: 5, ops: 300, keys: 5, jitter: true, memcached: true},
		{clients: 5, ops: 200, keys: 5, jitter: true, unknown: 0.03, fail: 0.05},
		{clients: 8, ops: 200, keys: 3, jitter: true, unknown: 0.02, fail: 0.05, memcached: true},
		{clients: 4, ops: 300, keys: 20, sequential: true, unknown: 0.05, fail: 0.05},
	}
	if testing.Short() {
		cs = cs[:4]
	}
	return cs
}

func TestPropertyRecordedHistoriesPass(t *testing.T) {
	for _, base := range propertyConfigs() {
		t.Run(base.String(), func(t *testing.T) {
			for seed := uint64(1); seed <= 5; seed++ {
				o := base
				o.seed = seed
				events := genHistory(o)
				r := Check(context.Background(), events, Options{Timeout: time.Minute})
				if r.Verdict != results.VerdictOK {
					t.Fatalf("seed %d: %s: %s", seed, r.Verdict, r.Detail)
				}
			}
		})
	}
}

// TestPropertyCorruptedReadIsViolation corrupts one read of a recorded
// history with a value nobody wrote; the checker must name its key.
func TestPropertyCorruptedReadIsViolation(t *testing.T) {
	for _, base := range propertyConfigs() {
		t.Run(base.String(), func(t *testing.T) {
			for seed := uint64(1); seed <= 5; seed++ {
				o := base
				o.seed = seed
				events := genHistory(o)
				rng := rand.New(rand.NewPCG(seed, 99))
				var reads []int
				for i, e := range events {
					if e.Outcome == results.OK && (e.Req.Kind == impls.Get || e.Req.Kind == impls.Swap ||
						e.Req.Kind == impls.Scan && len(e.Resp.Pairs) > 0) {
						reads = append(reads, i)
					}
				}
				if len(reads) == 0 {
					t.Fatalf("seed %d: no reads to corrupt", seed)
				}
				e := &events[reads[rng.IntN(len(reads))]]
				key := e.Req.Key
				if e.Req.Kind == impls.Scan {
					p := &e.Resp.Pairs[rng.IntN(len(e.Resp.Pairs))]
					key, p.Value = p.Key, "corrupt"
				} else {
					e.Resp = impls.Response{Found: impls.Present, Value: "corrupt"}
				}
				r := Check(context.Background(), events, Options{Timeout: time.Minute})
				if r.Verdict != results.VerdictViolation || r.Key != key {
					t.Fatalf("seed %d: corrupted %v on %q: got %s key %q: %s", seed, e.Req.Kind, key, r.Verdict, r.Key, r.Detail)
				}
			}
		})
	}
}
