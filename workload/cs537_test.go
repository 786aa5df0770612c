package workload

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/impls"
)

func TestGenCS537(t *testing.T) {
	for _, tc := range []struct {
		n        int
		skew, r  float64
		wantPuts int
	}{
		{100, 0, 0.5, 50},
		{101, 0, 0.5, 50}, // int(50.5)
		{1000, 0, 0.1, 100},
		{1000, 1.5, 0.3, 300},
		{50, 0, 0, 0},
		{50, 0, 1, 50},
		{3, 0, 0.2, 0}, // int(0.6): no PUT at all
		{0, 0, 0.5, 0},
	} {
		ops, sol, err := GenCS537(tc.n, tc.skew, tc.r, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(ops) != tc.n {
			t.Fatalf("%+v: %d ops", tc, len(ops))
		}
		// PUT keys are exactly 1..#puts, each once; values in [1, 4e9).
		var putKeys []int
		store := map[string]uint32{}
		var replay []uint32
		for _, op := range ops {
			switch op.Req.Kind {
			case impls.Put:
				k, _ := strconv.Atoi(op.Req.Key)
				v, err := strconv.ParseUint(op.Req.Value, 10, 32)
				if err != nil || v < CS537MinValue || v >= CS537MaxValue {
					t.Fatalf("%+v: value %q out of range", tc, op.Req.Value)
				}
				putKeys = append(putKeys, k)
				store[op.Req.Key] = uint32(v)
			case impls.Get:
				k, _ := strconv.Atoi(op.Req.Key)
				universe := max(tc.wantPuts, 1)
				if tc.wantPuts == 0 {
					universe = tc.n
				}
				if k < 1 || k > universe {
					t.Fatalf("%+v: GET of key %d outside 1..%d", tc, k, universe)
				}
				replay = append(replay, store[op.Req.Key])
			default:
				t.Fatalf("%+v: op %v", tc, op.Req.Kind)
			}
		}
		if len(putKeys) != tc.wantPuts {
			t.Errorf("%+v: %d PUTs, want %d", tc, len(putKeys), tc.wantPuts)
		}
		sorted := slices.Sorted(slices.Values(putKeys))
		for i, k := range sorted {
			if k != i+1 {
				t.Fatalf("%+v: PUT keys are not 1..%d (sorted: %v)", tc, len(putKeys), sorted)
			}
		}
		if len(putKeys) > 5 && slices.Equal(putKeys, sorted) {
			t.Errorf("%+v: PUT keys not shuffled", tc)
		}
		if !slices.Equal(sol, replay) {
			t.Errorf("%+v: solution %v, sequential replay %v", tc, sol, replay)
		}
	}
}

func TestGenCS537Skew(t *testing.T) {
	ops, _, _ := GenCS537(20000, 2, 0.5, 1)
	counts := map[string]int{}
	gets := 0
	for _, op := range ops {
		if op.Req.Kind == impls.Get {
			counts[op.Req.Key]++
			gets++
		}
	}
	// Zipf s=2 over 10000 keys: key 1 gets 1/zeta(2) ~ 61% of GETs.
	want := 1 / zetaStatic(10000, 2)
	if f := float64(counts["1"]) / float64(gets); math.Abs(f-want) > 0.02 {
		t.Errorf("key 1 got %.3f of GETs, want %.3f", f, want)
	}
	if counts["1"] <= counts["2"] || counts["2"] <= counts["3"] {
		t.Errorf("GET counts of keys 1..3 not decreasing: %d %d %d", counts["1"], counts["2"], counts["3"])
	}
	ops, _, _ = GenCS537(20000, 0.9, 0.5, 1) // skew <= 1: uniform
	counts = map[string]int{}
	for _, op := range ops {
		if op.Req.Kind == impls.Get {
			counts[op.Req.Key]++
		}
	}
	for k, c := range counts {
		if c > 20 { // about 1 per key
			t.Fatalf("skew 0.9 is uniform, but key %s got %d GETs", k, c)
		}
	}
}

func TestGenCS537Deterministic(t *testing.T) {
	a, sa, _ := GenCS537(500, 1.2, 0.4, 9)
	b, sb, _ := GenCS537(500, 1.2, 0.4, 9)
	c, _, _ := GenCS537(500, 1.2, 0.4, 10)
	if !equalOps(a, b) || !slices.Equal(sa, sb) {
		t.Error("same seed, different workloads")
	}
	if equalOps(a, c) {
		t.Error("different seeds, same workload")
	}
}

func TestGenCS537RejectsBadArguments(t *testing.T) {
	for _, tc := range []struct {
		n       int
		skew, r float64
	}{{-1, 0, 0.5}, {10, 0, -0.1}, {10, 0, 1.1}, {10, -1, 0.5}, {10, math.NaN(), 0.5}, {10, 0, math.NaN()}} {
		if _, _, err := GenCS537(tc.n, tc.skew, tc.r, 1); err == nil {
			t.Errorf("GenCS537(%d, %v, %v) succeeded", tc.n, tc.skew, tc.r)
		}
	}
}

func TestCS537TextRoundTrip(t *testing.T) {
	ops, sol, _ := GenCS537(300, 0, 0.5, 4)
	var buf bytes.Buffer
	if err := WriteCS537(&buf, ops); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		f := strings.Fields(line)
		if !(len(f) == 3 && f[0] == "put" || len(f) == 2 && f[0] == "get") {
			t.Fatalf("bad line %q", line)
		}
	}
	tr, err := ReadTrace(&buf)
	if err != nil || tr.Format != FormatCS537 || !equalOps(tr.Ops, ops) {
		t.Fatalf("round trip: %v, format %v, equal %v", err, tr.Format, equalOps(tr.Ops, ops))
	}
	buf.Reset()
	if err := WriteSolution(&buf, sol); err != nil {
		t.Fatal(err)
	}
	back, err := ReadSolution(&buf)
	if err != nil || !slices.Equal(back, sol) {
		t.Errorf("solution round trip: %v %v", err, back)
	}
	if _, err := ReadSolution(strings.NewReader("1\n\n2\nx\n")); err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("bad solution line: %v", err)
	}
	for _, op := range []Op{put("a", "1"), put("1", "-1"), put("1", "4294967296"), {Req: impls.Request{Kind: impls.Swap, Key: "1", Value: "1"}}} {
		if err := WriteCS537(&bytes.Buffer{}, []Op{op}); err == nil {
			t.Errorf("WriteCS537 accepted %+v", op)
		}
	}
}
