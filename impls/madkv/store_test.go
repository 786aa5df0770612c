package madkv

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/kvbench/kvbench/impls"
)

// opsCase is one request and the exact response it must get, in sequence.
type opsCase struct {
	req  impls.Request
	want impls.Response
}

var absent, present = impls.Absent, impls.Present

// everyOp exercises every kind and every found-ness, scan ends inclusive.
var everyOp = []opsCase{
	{get("k1"), impls.Response{Found: absent}},
	{put("k1", "v1"), impls.Response{Found: absent}},
	{put("k1", "v1b"), impls.Response{Found: present}},
	{get("k1"), impls.Response{Found: present, Value: "v1b"}},
	{swap("k2", "v2"), impls.Response{Found: absent}},
	{swap("k2", "v2b"), impls.Response{Found: present, Value: "v2"}},
	{put("k3", "v3"), impls.Response{Found: absent}},
	{put("k4", "v4"), impls.Response{Found: absent}},
	{scan("k1", "k3"), impls.Response{Pairs: []impls.Pair{{Key: "k1", Value: "v1b"}, {Key: "k2", Value: "v2b"}, {Key: "k3", Value: "v3"}}}},
	{scan("k2", "k2"), impls.Response{Pairs: []impls.Pair{{Key: "k2", Value: "v2b"}}}},
	{scan("k0", "k1"), impls.Response{Pairs: []impls.Pair{{Key: "k1", Value: "v1b"}}}},
	{scan("k4", "k9"), impls.Response{Pairs: []impls.Pair{{Key: "k4", Value: "v4"}}}},
	{scan("k3a", "k3z"), impls.Response{}},
	{scan("k9", "k1"), impls.Response{}}, // empty range
	{del("k2"), impls.Response{Found: present}},
	{del("k2"), impls.Response{Found: absent}},
	{get("k2"), impls.Response{Found: absent}},
	{swap("k2", "v2c"), impls.Response{Found: absent}},
	{scan("k1", "k4"), impls.Response{Pairs: []impls.Pair{{Key: "k1", Value: "v1b"}, {Key: "k2", Value: "v2c"}, {Key: "k3", Value: "v3"}, {Key: "k4", Value: "v4"}}}},
	// Any non-whitespace bytes, and bytes MadKV lines cannot carry.
	{put("usertable_user6284781860667377211", "a=b_c!\x7f"), impls.Response{Found: absent}},
	{get("usertable_user6284781860667377211"), impls.Response{Found: present, Value: "a=b_c!\x7f"}},
	{put("sp ace\x00", "\n"), impls.Response{Found: absent}},
	{get("sp ace\x00"), impls.Response{Found: present, Value: "\n"}},
}

func runOps(t *testing.T, c impls.Client, cases []opsCase) {
	t.Helper()
	for i, tc := range cases {
		got := do(t, c, tc.req)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("step %d: %s %q %q: got %+v, want %+v", i, tc.req.Kind, tc.req.Key, tc.req.End, got, tc.want)
		}
	}
}

func TestStage1EveryOp(t *testing.T) {
	runOps(t, dial(t, stage1(t)), everyOp)
}

func TestStage2EveryOp(t *testing.T) {
	for _, parts := range []int{1, 3} {
		t.Run(fmt.Sprint(parts), func(t *testing.T) {
			c := startStage2(t, parts)
			runOps(t, dial(t, c.mgr), everyOp)
		})
	}
}

// TestBigValues: 1 MiB values round-trip, by GET, SWAP and SCAN.
func TestBigValues(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	big2 := strings.Repeat("y", 1<<20)
	for name, addr := range map[string]func(*testing.T) string{
		"stage1": stage1,
		"stage2": func(t *testing.T) string { return startStage2(t, 2).mgr },
	} {
		t.Run(name, func(t *testing.T) {
			runOps(t, dial(t, addr(t)), []opsCase{
				{put("big", big), impls.Response{Found: absent}},
				{get("big"), impls.Response{Found: present, Value: big}},
				{swap("big", big2), impls.Response{Found: present, Value: big}},
				{scan("big", "big"), impls.Response{Pairs: []impls.Pair{{Key: "big", Value: big2}}}},
			})
		})
	}
}

// TestRefusals: what the client or server refuses, definitely.
func TestRefusals(t *testing.T) {
	c := dial(t, stage1(t))
	for _, req := range []impls.Request{
		put("", "v"), get(""), scan("", "b"),
		put(strings.Repeat("k", MaxKey+1), "v"),
		put("k", strings.Repeat("v", MaxValue+1)),
	} {
		_, err := c.Do(context.Background(), req)
		if err == nil || impls.IsUnknown(err) {
			t.Errorf("%s key of %d bytes: err %v, want a definite refusal", req.Kind, len(req.Key), err)
		}
	}
}

// TestConcurrentSwaps: SWAP is atomic. Each of n clients swaps its own
// values into one key; every value written is returned as the previous
// value exactly once, except the last one, which stays.
func TestConcurrentSwaps(t *testing.T) {
	for name, addr := range map[string]func(*testing.T) string{
		"stage1": stage1,
		"stage2": func(t *testing.T) string { return startStage2(t, 3).mgr },
	} {
		t.Run(name, func(t *testing.T) {
			a := addr(t)
			const n, each = 4, 50
			var mu sync.Mutex
			seen := map[string]int{}
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				c := dial(t, a)
				wg.Go(func() {
					for j := 0; j < each; j++ {
						r, err := c.Do(context.Background(), swap("hot", fmt.Sprintf("c%d-%d", i, j)))
						if err != nil {
							t.Error(err)
							return
						}
						if r.Found == present {
							mu.Lock()
							seen[r.Value]++
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()
			last := do(t, dial(t, a), get("hot"))
			seen[last.Value]++
			if len(seen) != n*each {
				t.Errorf("%d distinct values seen, want %d", len(seen), n*each)
			}
			for v, k := range seen {
				if k != 1 {
					t.Errorf("value %s returned %d times", v, k)
				}
			}
		})
	}
}
