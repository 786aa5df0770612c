package workload

import (
	"errors"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kvbench/kvbench/impls"
)

func mustYCSB(t testing.TB, letter string, overrides ...string) *YCSB {
	t.Helper()
	p := Properties{}
	if letter != "" {
		var err error
		if p, err = Core(letter); err != nil {
			t.Fatal(err)
		}
	}
	for _, kv := range overrides {
		if err := p.SetPair(kv); err != nil {
			t.Fatal(err)
		}
	}
	y, err := NewYCSB(p)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

// drain takes n ops from s, acknowledging each as the driver does.
func drain(s Stream, n int) []Op {
	ops := make([]Op, n)
	a, _ := s.(Acker)
	for i := range ops {
		if !s.Next(&ops[i]) {
			return ops[:i]
		}
		if a != nil {
			a.Ack(&ops[i])
		}
	}
	return ops
}

func TestCoreWorkloadProportions(t *testing.T) {
	const n = 100_000
	for _, tc := range []struct {
		letter string
		want   map[OpType]float64
	}{
		{"a", map[OpType]float64{Read: 0.5, Update: 0.5}},
		{"b", map[OpType]float64{Read: 0.95, Update: 0.05}},
		{"c", map[OpType]float64{Read: 1}},
		{"d", map[OpType]float64{Read: 0.95, Insert: 0.05}},
		{"e", map[OpType]float64{ScanOp: 0.95, Insert: 0.05}},
		{"f", map[OpType]float64{Read: 0.5, ReadModifyWrite: 0.5}},
	} {
		t.Run(tc.letter, func(t *testing.T) {
			y := mustYCSB(t, tc.letter, "operationcount=100000")
			counts := map[OpType]int{}
			for _, op := range drain(y.RunStream(0, 1), n) {
				counts[op.Type]++
				wantKind := map[OpType]impls.Kind{Read: impls.Get, Update: impls.Put, Insert: impls.Put, ScanOp: impls.Scan, ReadModifyWrite: impls.Put}[op.Type]
				if op.Req.Kind != wantKind {
					t.Fatalf("%v op has request kind %v, want %v", op.Type, op.Req.Kind, wantKind)
				}
			}
			for typ := range NumOpTypes {
				got := float64(counts[typ]) / n
				if math.Abs(got-tc.want[typ]) > 0.01 {
					t.Errorf("%v: %.4f of ops, want %.2f", typ, got, tc.want[typ])
				}
			}
		})
	}
}

func TestRunStreamDeterministic(t *testing.T) {
	for _, letter := range strings.Split(CoreWorkloads, "") {
		a := drain(mustYCSB(t, letter).RunStream(0, 42), 2000)
		b := drain(mustYCSB(t, letter).RunStream(0, 42), 2000)
		c := drain(mustYCSB(t, letter).RunStream(0, 43), 2000)
		w := drain(mustYCSB(t, letter).RunStream(1, 42), 2000) // worker 1 draws from seed+1
		if !equalOps(a, b) {
			t.Errorf("workload %s: same seed gave different streams", letter)
		}
		if equalOps(a, c) {
			t.Errorf("workload %s: seeds 42 and 43 gave the same stream", letter)
		}
		if !equalOps(c, w) {
			t.Errorf("workload %s: worker 1 with seed 42 differs from worker 0 with seed 43", letter)
		}
	}
}

func equalOps(a, b []Op) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestKeyNames(t *testing.T) {
	for _, tc := range []struct {
		props []string
		n     int64
		want  string
	}{
		{[]string{"insertorder=ordered"}, 42, "user42"},
		{[]string{"insertorder=ordered", "zeropadding=6"}, 42, "user000042"},
		{[]string{"insertorder=ordered", "keyprefix=k"}, 7, "k7"},
		{nil, 0, "user" + strconv.FormatInt(fnvHash64(0), 10)},
		{[]string{"zeropadding=25"}, 3, "user" + strings.Repeat("0", 25-len(strconv.FormatInt(fnvHash64(3), 10))) + strconv.FormatInt(fnvHash64(3), 10)},
	} {
		y := mustYCSB(t, "", append([]string{"recordcount=100"}, tc.props...)...)
		if got := y.Key(tc.n); got != tc.want {
			t.Errorf("%v: Key(%d) = %q, want %q", tc.props, tc.n, got, tc.want)
		}
	}
}

func TestLoadStream(t *testing.T) {
	y := mustYCSB(t, "a", "recordcount=1003", "insertorder=ordered")
	seen := map[string]bool{}
	for w := range 4 {
		ops := drain(y.LoadStream(w, 4, 7), 10_000)
		if want := 1003/4 + map[bool]int{true: 1}[w < 1003%4]; len(ops) != want {
			t.Errorf("worker %d loads %d records, want %d", w, len(ops), want)
		}
		for _, op := range ops {
			if op.Type != Insert || op.Req.Kind != impls.Put || len(op.Req.Value) != 1000 {
				t.Fatalf("load op %+v is not a 1000-byte insert", op.Type)
			}
			seen[op.Req.Key] = true
		}
	}
	if len(seen) != 1003 {
		t.Fatalf("load phase inserted %d distinct keys, want 1003", len(seen))
	}
	for n := range int64(1003) {
		if !seen[y.Key(n)] {
			t.Fatalf("record %d not loaded", n)
		}
	}
	// insertstart/insertcount select a slice of the records, as YCSB's
	// multi-machine loading.
	y = mustYCSB(t, "a", "recordcount=1000", "insertstart=500", "insertcount=100", "insertorder=ordered")
	ops := drain(y.LoadStream(0, 1, 1), 1000)
	if len(ops) != 100 || ops[0].Req.Key != "user500" || ops[99].Req.Key != "user599" {
		t.Errorf("insertstart=500 insertcount=100 loaded %d records, %s..%s", len(ops), ops[0].Req.Key, ops[len(ops)-1].Req.Key)
	}
	if a, b := drain(y.LoadStream(0, 1, 1), 5), drain(y.LoadStream(0, 1, 1), 5); !equalOps(a, b) {
		t.Error("load stream not deterministic")
	}
}

func TestValues(t *testing.T) {
	y := mustYCSB(t, "a", "fieldcount=4", "fieldlength=25")
	distinct := map[string]bool{}
	for _, op := range drain(y.RunStream(0, 1), 2000) {
		if op.Type != Update {
			continue
		}
		if len(op.Req.Value) != 100 || !isAlnum(op.Req.Value) {
			t.Fatalf("value %q is not 100 alphanumeric bytes", op.Req.Value)
		}
		distinct[op.Req.Value] = true
	}
	if len(distinct) < 900 {
		t.Errorf("only %d distinct values in ~1000 updates", len(distinct))
	}
	y = mustYCSB(t, "a", "fieldcount=3", "fieldlength=10", "minfieldlength=2", "fieldlengthdistribution=uniform")
	lens := map[int]bool{}
	for _, op := range drain(y.RunStream(0, 1), 2000) {
		if op.Type == Update {
			if l := len(op.Req.Value); l < 6 || l > 30 {
				t.Fatalf("uniform field lengths gave a %d-byte value, want 6..30", l)
			}
			lens[len(op.Req.Value)] = true
		}
	}
	if len(lens) < 10 {
		t.Errorf("uniform field lengths gave only %d value sizes", len(lens))
	}
}

func TestScanRanges(t *testing.T) {
	// A scan of n records from a start key must cover exactly n loaded
	// keys in key order, whatever the insert order and padding.
	for _, props := range [][]string{
		{"insertorder=hashed"},
		{"insertorder=ordered"}, // zeropadding=1: user10 < user100 < user11
		{"insertorder=ordered", "zeropadding=8"},
	} {
		p := append([]string{"recordcount=1000", "readproportion=0", "updateproportion=0", "scanproportion=1",
			"minscanlength=10", "maxscanlength=10", "requestdistribution=uniform"}, props...)
		y := mustYCSB(t, "", p...)
		keys := make([]string, 1000)
		for i := range keys {
			keys[i] = y.Key(int64(i))
		}
		sort.Strings(keys)
		for _, op := range drain(y.RunStream(0, 3), 500) {
			lo := sort.SearchStrings(keys, op.Req.Key)
			hi := sort.Search(len(keys), func(i int) bool { return keys[i] > op.Req.End })
			want := min(10, len(keys)-lo)
			if op.Req.Kind != impls.Scan || hi-lo != want {
				t.Fatalf("%v: scan [%s, %s] covers %d records, want %d", props, op.Req.Key, op.Req.End, hi-lo, want)
			}
		}
	}
}

func TestScanIndexSampled(t *testing.T) {
	f := keyFormat{prefix: "user", pad: 1}
	idx := newScanIndexCap(f.key, 0, 10_000, 1000) // every 10th record
	if idx.step != 10 || len(idx.keys) != 1000 {
		t.Fatalf("step %d, %d keys", idx.step, len(idx.keys))
	}
	all := make([]string, 10_000)
	for i := range all {
		all[i] = f.key(int64(i))
	}
	sort.Strings(all)
	// Sampling every 10th record, ranges hold n records on average.
	r := newRand(1)
	var want, got int
	for range 2000 {
		start := all[r.IntN(len(all)-200)]
		n := int64(1 + r.IntN(100))
		end := idx.end(start, n)
		c := sort.Search(len(all), func(i int) bool { return all[i] > end }) - sort.SearchStrings(all, start)
		if c < 1 {
			t.Fatalf("sampled scan of %d from %s covers nothing", n, start)
		}
		want += int(n)
		got += c
	}
	if ratio := float64(got) / float64(want); ratio < 0.9 || ratio > 1.2 {
		t.Errorf("sampled scans cover %.2f times the records asked for", ratio)
	}
}

func TestReadsOnlyAcknowledgedKeys(t *testing.T) {
	// Workload D reads the latest inserts; a key must not be read before
	// its insert was acknowledged. Several workers insert and acknowledge
	// concurrently (out of order, some late); every key a worker reads
	// must be loaded or already acknowledged.
	for _, dist := range []string{"latest", "zipfian", "uniform", "exponential", "hotspot", "sequential"} {
		t.Run(dist, func(t *testing.T) {
			y := mustYCSB(t, "d", "insertorder=ordered", "requestdistribution="+dist, "insertproportion=0.3", "readproportion=0.7", "operationcount=4000")
			var mu sync.Mutex
			acked := map[string]bool{}
			for n := range y.RecordCount() {
				acked[y.Key(n)] = true
			}
			var wg sync.WaitGroup
			var inserts atomic.Int64
			errs := make(chan error, 4)
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := y.RunStream(w, 5)
					a := s.(Acker)
					var held []Op // acknowledged a few ops later
					var op Op
					for i := range 1000 {
						s.Next(&op)
						switch op.Type {
						case Insert:
							inserts.Add(1)
							held = append(held, op)
						case Read:
							mu.Lock()
							ok := acked[op.Req.Key]
							mu.Unlock()
							if !ok {
								errs <- errors.New("read of unacknowledged key " + op.Req.Key)
								return
							}
						}
						if len(held) > 3 || i%7 == 0 && len(held) > 0 {
							j := i % len(held)
							mu.Lock()
							acked[held[j].Req.Key] = true
							mu.Unlock()
							a.Ack(&held[j])
							held = append(held[:j], held[j+1:]...)
						}
					}
					for i := range held { // the rest, at the end
						mu.Lock()
						acked[held[i].Req.Key] = true
						mu.Unlock()
						a.Ack(&held[i])
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			// Once every insert is acknowledged, all of them are readable.
			if last, want := y.ack.last(), y.RecordCount()+inserts.Load()-1; last != want {
				t.Errorf("acknowledged limit %d after all inserts were acknowledged, want %d", last, want)
			}
		})
	}
}

func TestUnacknowledgedInsertsAreReleased(t *testing.T) {
	// A driver that never acknowledges (or inserts that fail) must not
	// freeze the readable range forever.
	y := mustYCSB(t, "", "recordcount=10", "insertproportion=1", "readproportion=0", "updateproportion=0")
	s := y.RunStream(0, 1)
	var op Op
	for range maxPendingInserts + 10 {
		s.Next(&op)
	}
	if got := y.ack.last(); got != 9+10 {
		t.Errorf("limit %d after %d unacknowledged inserts, want %d", got, maxPendingInserts+10, 19)
	}
}

func TestNewYCSBRejectsBadProperties(t *testing.T) {
	for _, tc := range []struct {
		props []string
		want  string // in the error message
	}{
		{[]string{}, "recordcount"},
		{[]string{"recordcount=0"}, "recordcount"},
		{[]string{"recordcount=ten"}, "recordcount"},
		{[]string{"recordcount=10", "operationcount=-1"}, "operationcount"},
		{[]string{"recordcount=10", "readproportion=0", "updateproportion=0"}, "sum to 0"},
		{[]string{"recordcount=10", "readproportion=-1"}, "readproportion"},
		{[]string{"recordcount=10", "updateproportion=x"}, "updateproportion"},
		{[]string{"recordcount=10", "requestdistribution=pareto"}, "requestdistribution"},
		{[]string{"recordcount=10", "requestdistribution=zipfian", "zipfianconstant=1.2"}, "zipfianconstant"},
		{[]string{"recordcount=10", "insertorder=random"}, "insertorder"},
		{[]string{"recordcount=10", "insertstart=5", "insertcount=6"}, "insertcount"},
		{[]string{"recordcount=10", "fieldcount=0"}, "fieldcount"},
		{[]string{"recordcount=10", "fieldlengthdistribution=histogram"}, "fieldlengthdistribution"},
		{[]string{"recordcount=10", "minscanlength=5", "maxscanlength=2"}, "maxscanlength"},
		{[]string{"recordcount=10", "scanlengthdistribution=latest"}, "scanlengthdistribution"},
		{[]string{"recordcount=10", "requestdistribution=hotspot", "hotspotdatafraction=1.5"}, "hotspotdatafraction"},
		{[]string{"recordcount=10", "requestdistribution=exponential", "exponential.percentile=100"}, "exponential.percentile"},
	} {
		p := Properties{}
		for _, kv := range tc.props {
			p.SetPair(kv)
		}
		_, err := NewYCSB(p)
		if err == nil || !errors.Is(err, ErrBadProperty) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one about %s wrapping ErrBadProperty", tc.props, err, tc.want)
		}
	}
}

func BenchmarkRunStreamNextA(b *testing.B) {
	y := mustYCSB(b, "a", "recordcount=100000", "operationcount=1000000")
	s := y.RunStream(0, 1)
	a := s.(Acker)
	var op Op
	b.ReportAllocs()
	for b.Loop() {
		s.Next(&op)
		a.Ack(&op)
	}
}

func TestTinyRecordCounts(t *testing.T) {
	// Degenerate sizes must neither panic nor pick keys outside the range.
	for _, dist := range []string{"uniform", "zipfian", "latest", "hotspot", "exponential", "sequential"} {
		for _, records := range []string{"1", "2", "3"} {
			y := mustYCSB(t, "", "recordcount="+records, "requestdistribution="+dist, "insertorder=ordered",
				"insertproportion=0.3", "readproportion=0.4", "scanproportion=0.3", "maxscanlength=3")
			for _, op := range drain(y.RunStream(0, 1), 300) {
				if op.Type == Insert {
					continue
				}
				n, err := strconv.ParseInt(strings.TrimPrefix(op.Req.Key, "user"), 10, 64)
				if err != nil || n < 0 || n > y.ack.last() {
					t.Fatalf("%s, %s records: %v of %q beyond the acknowledged limit %d", dist, records, op.Type, op.Req.Key, y.ack.last())
				}
			}
		}
	}
}
