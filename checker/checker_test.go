package checker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

// none is the value argument meaning "the key was absent".
const none = "\x00none"

func found(v string) impls.Response {
	if v == none {
		return impls.Response{Found: impls.Absent}
	}
	return impls.Response{Found: impls.Present, Value: v}
}

func event(c int, req impls.Request, resp impls.Response, call, ret int64) results.Event {
	return results.Event{Client: c, Req: req, Resp: resp, Call: call, Return: ret, Outcome: results.OK}
}

// put is a memcached-style set: the response does not say whether k existed.
func put(c int, k, v string, call, ret int64) results.Event {
	return event(c, impls.Request{Kind: impls.Put, Key: k, Value: v}, impls.Response{}, call, ret)
}

// putF is a MadKV PUT: the response says whether k existed.
func putF(c int, k, v string, existed impls.Found, call, ret int64) results.Event {
	return event(c, impls.Request{Kind: impls.Put, Key: k, Value: v}, impls.Response{Found: existed}, call, ret)
}

func get(c int, k, v string, call, ret int64) results.Event {
	return event(c, impls.Request{Kind: impls.Get, Key: k}, found(v), call, ret)
}

func del(c int, k string, existed impls.Found, call, ret int64) results.Event {
	return event(c, impls.Request{Kind: impls.Delete, Key: k}, impls.Response{Found: existed}, call, ret)
}

func swap(c int, k, v, prev string, call, ret int64) results.Event {
	return event(c, impls.Request{Kind: impls.Swap, Key: k, Value: v}, found(prev), call, ret)
}

// scan takes pairs as "k=v" strings.
func scan(c int, lo, hi string, call, ret int64, pairs ...string) results.Event {
	var ps []impls.Pair
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		ps = append(ps, impls.Pair{Key: k, Value: v})
	}
	return event(c, impls.Request{Kind: impls.Scan, Key: lo, End: hi}, impls.Response{Pairs: ps}, call, ret)
}

func unknown(e results.Event) results.Event {
	e.Outcome, e.Err = results.Unknown, "timeout"
	return e
}

func failed(e results.Event) results.Event {
	e.Outcome, e.Err = results.Fail, "refused"
	return e
}

func h(es ...results.Event) []results.Event { return es }

type checkCase struct {
	name    string
	events  []results.Event
	verdict string
	key     string   // offending key, for violations
	detail  []string // substrings of Detail
}

func runCases(t *testing.T, cases []checkCase, opts Options) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(context.Background(), tc.events, opts)
			if r.Verdict != tc.verdict {
				t.Fatalf("verdict %q, want %q (detail: %s)", r.Verdict, tc.verdict, r.Detail)
			}
			if r.Key != tc.key {
				t.Errorf("key %q, want %q (detail: %s)", r.Key, tc.key, r.Detail)
			}
			for _, s := range tc.detail {
				if !strings.Contains(r.Detail, s) {
					t.Errorf("detail %q lacks %q", r.Detail, s)
				}
			}
		})
	}
}

const (
	ok        = results.VerdictOK
	violation = results.VerdictViolation
)

func TestAnomaliesAreViolations(t *testing.T) {
	runCases(t, []checkCase{
		{name: "stale read", events: h(
			put(0, "k", "a", 0, 10), put(0, "k", "b", 20, 30), get(1, "k", "a", 40, 50)),
			verdict: violation, key: "k",
			detail: []string{`key "k"`, `client 1 GET k → "a"`, `the key is "b"`, "2 of 3 ops"}},
		{name: "lost update (swap skips an acknowledged swap)", events: h(
			put(0, "k", "0", 0, 10), swap(1, "k", "1", "0", 20, 30), swap(2, "k", "2", "0", 40, 50)),
			verdict: violation, key: "k", detail: []string{`SWAP k "2" → "0"`, `the key is "1"`}},
		{name: "non-atomic swap (two concurrent swaps see the same previous value)", events: h(
			put(0, "k", "0", 0, 10), swap(1, "k", "1", "0", 20, 40), swap(2, "k", "2", "0", 25, 45)),
			verdict: violation, key: "k"},
		{name: "read of a deleted value", events: h(
			put(0, "k", "a", 0, 10), del(0, "k", impls.Present, 20, 30), get(1, "k", "a", 40, 50)),
			verdict: violation, key: "k", detail: []string{"the key is absent"}},
		{name: "acknowledged write lost after a crash", events: h(
			put(0, "k", "a", 0, 10), get(1, "k", none, 30, 40)),
			verdict: violation, key: "k", detail: []string{"GET k → null"}},
		{name: "read of a value never written", events: h(
			put(0, "k", "a", 0, 10), get(1, "k", "zz", 5, 15)),
			verdict: violation, key: "k"},
		{name: "read flips back in real time", events: h(
			put(0, "k", "a", 0, 10), put(0, "k", "b", 20, 100),
			get(1, "k", "b", 30, 40), get(2, "k", "a", 50, 60)),
			verdict: violation, key: "k"},
		{name: "delete says not_found for a present key", events: h(
			put(0, "k", "a", 0, 10), del(1, "k", impls.Absent, 20, 30)),
			verdict: violation, key: "k", detail: []string{"DELETE k → not_found"}},
		{name: "put says found on a fresh key", events: h(
			putF(0, "k", "a", impls.Present, 0, 10)),
			verdict: violation, key: "k"},
		{name: "only the bad key is named", events: h(
			put(0, "a", "1", 0, 10), get(1, "a", "1", 20, 30),
			put(0, "b", "1", 0, 10), get(1, "b", none, 20, 30)),
			verdict: violation, key: "b"},
		{name: "several bad keys: first witness in time wins", events: h(
			put(0, "z", "1", 0, 10), get(1, "z", none, 20, 30),
			put(0, "y", "1", 0, 10), get(1, "y", none, 40, 50)),
			verdict: violation, key: "z", detail: []string{`1 more key violates: "y"`}},
	}, Options{})
}

func TestValidHistoriesPass(t *testing.T) {
	runCases(t, []checkCase{
		{name: "empty", verdict: ok, detail: []string{"0 keys"}},
		{name: "overlapping put/get sees the new value", events: h(
			put(0, "k", "a", 0, 10), get(1, "k", "a", 5, 15)), verdict: ok},
		{name: "overlapping put/get sees the old value", events: h(
			put(0, "k", "a", 0, 10), get(1, "k", none, 5, 15)), verdict: ok},
		{name: "concurrent puts, either order", events: h(
			put(0, "k", "a", 0, 10), put(1, "k", "b", 0, 10), get(2, "k", "a", 20, 30), get(2, "k", "a", 40, 50)),
			verdict: ok},
		{name: "swap chain", events: h(
			swap(0, "k", "1", none, 0, 10), swap(1, "k", "2", "1", 20, 30), swap(0, "k", "3", "2", 40, 50),
			del(1, "k", impls.Present, 60, 70), del(1, "k", impls.Absent, 80, 90), get(0, "k", none, 100, 110)),
			verdict: ok},
		{name: "concurrent swaps see each other", events: h(
			put(0, "k", "0", 0, 10), swap(1, "k", "1", "2", 20, 40), swap(2, "k", "2", "0", 25, 45)),
			verdict: ok},
		{name: "put found flags", events: h(
			putF(0, "k", "a", impls.Absent, 0, 10), putF(1, "k", "b", impls.Present, 20, 30)), verdict: ok},
		{name: "closed intervals: touching ops are concurrent", events: h(
			put(0, "k", "a", 0, 10), get(1, "k", none, 10, 20)), verdict: ok},
		{name: "keys are independent", events: h(
			put(0, "a", "1", 0, 10), put(0, "b", "2", 20, 30), get(1, "b", "2", 40, 50), get(1, "a", "1", 60, 70)),
			verdict: ok, detail: []string{"2 keys, linearizable"}},
	}, Options{})
}

func TestUnknownAndFailedOutcomes(t *testing.T) {
	runCases(t, []checkCase{
		{name: "unknown put visible", events: h(
			unknown(put(0, "k", "a", 0, 10)), get(1, "k", "a", 20, 30)), verdict: ok},
		{name: "unknown put not visible", events: h(
			unknown(put(0, "k", "a", 0, 10)), get(1, "k", none, 20, 30)), verdict: ok},
		{name: "unknown put visible late", events: h(
			unknown(put(0, "k", "a", 0, 10)), get(1, "k", none, 20, 30), get(1, "k", "a", 1000, 1010)), verdict: ok},
		{name: "unknown put visible, then gone", events: h(
			unknown(put(0, "k", "a", 0, 10)), get(1, "k", "a", 20, 30), get(1, "k", none, 40, 50)),
			verdict: violation, key: "k"},
		{name: "unknown put cannot act before its call", events: h(
			get(1, "k", "a", 0, 10), unknown(put(0, "k", "a", 20, 30))),
			verdict: violation, key: "k"},
		{name: "unknown swap output not compared", events: h(
			put(0, "k", "a", 0, 10), unknown(swap(0, "k", "b", "garbage", 20, 30)), get(1, "k", "b", 40, 50)),
			verdict: ok},
		{name: "unknown delete may take effect", events: h(
			put(0, "k", "a", 0, 10), unknown(del(0, "k", impls.Absent, 20, 30)),
			get(1, "k", "a", 40, 50), get(1, "k", none, 60, 70)),
			verdict: ok},
		{name: "unknown get dropped", events: h(
			put(0, "k", "a", 0, 10), unknown(get(1, "k", "garbage", 20, 30))), verdict: ok},
		{name: "unknown scan dropped", events: h(
			put(0, "k", "a", 0, 10), unknown(scan(1, "a", "z", 20, 30, "k=garbage"))), verdict: ok},
		{name: "failed put ignored", events: h(
			put(0, "k", "a", 0, 10), failed(put(0, "k", "b", 20, 30)), get(1, "k", "a", 40, 50)), verdict: ok},
		{name: "failed put must not be visible", events: h(
			put(0, "k", "a", 0, 10), failed(put(0, "k", "b", 20, 30)), get(1, "k", "b", 40, 50)),
			verdict: violation, key: "k"},
		{name: "failed get ignored", events: h(
			put(0, "k", "a", 0, 10), failed(get(1, "k", "garbage", 20, 30))), verdict: ok},
		{name: "key with only failed ops is not counted", events: h(
			failed(put(0, "k", "a", 0, 10)), put(1, "j", "b", 0, 10)), verdict: ok, detail: []string{"1 key,"}},
	}, Options{})
}

func TestScansAreProjectedPerKey(t *testing.T) {
	runCases(t, []checkCase{
		{name: "scan sees the present keys", events: h(
			put(0, "k1", "a", 0, 10), put(0, "k3", "c", 0, 10), scan(1, "k0", "k9", 20, 30, "k1=a", "k3=c")),
			verdict: ok},
		{name: "scan sees a value never written", events: h(
			put(0, "k1", "a", 0, 10), scan(1, "k0", "k9", 20, 30, "k1=zzz")),
			verdict: violation, key: "k1", detail: []string{`SCAN k0..k9 [k1] → "zzz"`}},
		{name: "scan misses a key that is certainly present", events: h(
			put(0, "k1", "a", 0, 10), put(0, "k2", "b", 0, 10), scan(1, "k0", "k9", 20, 30, "k1=a")),
			verdict: violation, key: "k2", detail: []string{"SCAN k0..k9 [k2] → null"}},
		{name: "range start is inclusive", events: h(
			put(0, "k1", "a", 0, 10), scan(1, "k1", "k2", 20, 30)), verdict: violation, key: "k1"},
		{name: "range end is inclusive", events: h(
			put(0, "k2", "a", 0, 10), scan(1, "k1", "k2", 20, 30)), verdict: violation, key: "k2"},
		{name: "keys outside the range are not projected", events: h(
			put(0, "k3", "a", 0, 10), put(0, "k0", "a", 0, 10), scan(1, "k1", "k2", 20, 30)), verdict: ok},
		{name: "foreign keys in scan results are ignored", events: h(
			put(0, "k1", "a", 0, 10), scan(1, "a", "z", 20, 30, "foo=bar", "k1=a", "k2=other")),
			verdict: ok},
		{name: "scan is not atomic across keys", events: h(
			put(0, "k1", "a", 0, 10), put(0, "k2", "b", 20, 30), scan(1, "k0", "k9", 5, 35, "k2=b")),
			verdict: ok},
		{name: "unsorted pairs are still matched", events: h(
			put(0, "k1", "a", 0, 10), put(0, "k2", "b", 0, 10), scan(1, "k0", "k9", 20, 30, "k2=b", "k1=a")),
			verdict: ok},
		{name: "inverted range projects nothing", events: h(
			put(0, "k1", "a", 0, 10), scan(1, "k9", "k0", 20, 30)), verdict: ok},
		{name: "scan sees a deleted key", events: h(
			put(0, "k1", "a", 0, 10), del(0, "k1", impls.Present, 20, 30), scan(1, "k0", "k9", 40, 50, "k1=a")),
			verdict: violation, key: "k1"},
	}, Options{})
}

func TestClaimMakesViolationExpected(t *testing.T) {
	lost := h(put(0, "k", "a", 0, 10), get(1, "k", none, 30, 40))
	for _, tc := range []struct {
		name    string
		claim   *impls.Claim
		verdict string
		detail  string
	}{
		{"no claim", nil, violation, `key "k"`},
		{"claims linearizable", &impls.Claim{Linearizable: true, Why: "fsync always"}, violation, `key "k"`},
		{"claims not linearizable", &impls.Claim{Why: "--fsync never may lose acknowledged writes on a crash"},
			results.VerdictExpected, "expected (--fsync never may lose acknowledged writes on a crash): key \"k\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(context.Background(), lost, Options{Claim: tc.claim})
			if r.Verdict != tc.verdict || !strings.Contains(r.Detail, tc.detail) || r.Key != "k" {
				t.Fatalf("got %q key %q %q; want %q with %q", r.Verdict, r.Key, r.Detail, tc.verdict, tc.detail)
			}
		})
	}
	// A claim never turns a pass into anything else.
	r := Check(context.Background(), h(put(0, "k", "a", 0, 10)), Options{Claim: &impls.Claim{Why: "weak"}})
	if r.Verdict != ok {
		t.Fatalf("linearizable history under a weak claim: %q", r.Verdict)
	}
}

// hard is a history whose refutation needs about n·2^n search states: n
// concurrent puts of distinct values and a concurrent read of a value none
// of them wrote.
func hard(n int) []results.Event {
	var es []results.Event
	for i := 0; i < n; i++ {
		es = append(es, put(i, "k", string(rune('a'+i)), 0, 100))
	}
	return append(es, get(n, "k", "never", 0, 100))
}

func TestTimeoutAndCancelAreUnknown(t *testing.T) {
	r := Check(context.Background(), hard(24), Options{Timeout: 50 * time.Millisecond})
	if r.Verdict != results.VerdictUnknown || !strings.Contains(r.Detail, "timed out after 50ms") {
		t.Fatalf("timeout: %q %q", r.Verdict, r.Detail)
	}
	if r.Elapsed > 10*time.Second {
		t.Errorf("a 50ms check took %v", r.Elapsed)
	}
	r = Check(context.Background(), hard(24), Options{MaxHeap: 1})
	if r.Verdict != results.VerdictUnknown || !strings.Contains(r.Detail, "gave up: the search needed more than 0 MiB of heap") {
		t.Fatalf("heap limit: %q %q", r.Verdict, r.Detail)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = Check(ctx, h(put(0, "k", "a", 0, 10), get(1, "k", "a", 20, 30)), Options{})
	if r.Verdict != results.VerdictUnknown || !strings.Contains(r.Detail, "cancelled") {
		t.Fatalf("cancelled: %q %q", r.Verdict, r.Detail)
	}
}

func TestMalformedHistoryIsUnknown(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    results.Event
		want string
	}{
		{"return before call", get(0, "k", none, 10, 5), "event 1: returns at 5 before its call at 10"},
		{"bad kind", event(0, impls.Request{Kind: 77, Key: "k"}, impls.Response{}, 0, 1), "bad kind"},
		{"bad outcome", results.Event{Req: impls.Request{Key: "k"}, Outcome: "maybe"}, "bad outcome"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(context.Background(), h(tc.e), Options{})
			if r.Verdict != results.VerdictUnknown || !strings.Contains(r.Detail, tc.want) {
				t.Fatalf("%q %q, want unknown with %q", r.Verdict, r.Detail, tc.want)
			}
		})
	}
}

func TestCountsOpsAndKeys(t *testing.T) {
	r := Check(context.Background(), h(
		put(0, "a", "1", 0, 10), failed(put(0, "b", "1", 0, 10)), unknown(get(1, "a", "x", 0, 10)),
		unknown(put(1, "c", "1", 0, 10)), scan(2, "a", "z", 20, 30, "a=1")), Options{})
	if r.Verdict != ok || r.Ops != 3 || r.Keys != 3 {
		t.Fatalf("got %q ops %d keys %d (%s); want ok, 3 ops (put a, unknown put c, scan), 3 keys (a, c, and b read by the scan)",
			r.Verdict, r.Ops, r.Keys, r.Detail)
	}
}

// TestNothingAnsweredIsUnknown: a history in which no operation returned
// (a client that answers only garbage, a store that is down throughout)
// proves nothing; it must never pass.
func TestNothingAnsweredIsUnknown(t *testing.T) {
	es := []results.Event{
		{Client: 0, Req: impls.Request{Kind: impls.Put, Key: "k", Value: "v"}, Outcome: results.Unknown, Call: 0, Return: 10},
		{Client: 1, Req: impls.Request{Kind: impls.Get, Key: "k"}, Outcome: results.Fail, Call: 5, Return: 15},
	}
	r := Check(context.Background(), es, Options{})
	if r.Verdict != results.VerdictUnknown || !strings.Contains(r.Detail, "no operation was answered") {
		t.Fatalf("%s: %s", r.Verdict, r.Detail)
	}
}
