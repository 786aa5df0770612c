package workload

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/impls"
)

func TestFuzzMix(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  FuzzConfig
	}{
		{"conflict", FuzzConfig{Clients: 3, Keys: 5, OpsPerClient: 20000, Conflict: true, Seed: 1}},
		{"own keys", FuzzConfig{Clients: 3, Keys: 5, OpsPerClient: 20000, Seed: 1}},
		{"namespaced", FuzzConfig{Clients: 2, Keys: 7, OpsPerClient: 20000, Conflict: true, Namespace: "f3k9q", ValueSize: 32, Seed: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewFuzz(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			ns := tc.cfg.Namespace
			keyLen := len(ns) + 8
			universe := f.Keys()
			if !slices.IsSorted(universe) {
				t.Error("Keys() not sorted")
			}
			wantUniverse := tc.cfg.Keys
			if !tc.cfg.Conflict {
				wantUniverse *= tc.cfg.Clients
			}
			if len(universe) != wantUniverse || len(slices.Compact(slices.Clone(universe))) != wantUniverse {
				t.Fatalf("%d distinct keys in the universe, want %d", len(universe), wantUniverse)
			}
			for i, k := range universe {
				if len(k) != keyLen || !strings.HasPrefix(k, ns) || !isAlnum(k) {
					t.Errorf("key %q: want %d alphanumeric chars starting with %q", k, keyLen, ns)
				}
				if tc.cfg.Conflict && k != ns+"key0000"+string(rune('0'+i)) {
					t.Errorf("conflict key %d is %q", i, k)
				}
			}
			counts := map[impls.Kind]int{}
			total := 0
			for c := range tc.cfg.Clients {
				own := f.ClientKeys(c)
				if !tc.cfg.Conflict {
					for o := range c {
						for _, k := range f.ClientKeys(o) {
							if slices.Contains(own, k) {
								t.Fatalf("clients %d and %d share key %s without conflict", o, c, k)
							}
						}
					}
				}
				ops := drain(f.Stream(c), tc.cfg.OpsPerClient+10)
				if len(ops) != tc.cfg.OpsPerClient {
					t.Fatalf("client %d: %d ops, want %d", c, len(ops), tc.cfg.OpsPerClient)
				}
				for _, op := range ops {
					counts[op.Req.Kind]++
					total++
					if !slices.Contains(own, op.Req.Key) {
						t.Fatalf("client %d op on foreign key %s", c, op.Req.Key)
					}
					switch op.Req.Kind {
					case impls.Put, impls.Swap:
						vs := tc.cfg.ValueSize
						if vs == 0 {
							vs = 16
						}
						if len(op.Req.Value) != vs || !isAlnum(op.Req.Value) {
							t.Fatalf("value %q", op.Req.Value)
						}
					case impls.Scan:
						if !slices.Contains(own, op.Req.End) || op.Req.End < op.Req.Key {
							t.Fatalf("scan [%s, %s] not between two ordered keys of the set", op.Req.Key, op.Req.End)
						}
					}
					if op.Type != TypeOf(op.Req.Kind) {
						t.Fatalf("op type %v for %v", op.Type, op.Req.Kind)
					}
				}
			}
			for kind, want := range map[impls.Kind]float64{impls.Put: 0.2, impls.Swap: 0.2, impls.Get: 0.3, impls.Scan: 0.2, impls.Delete: 0.1} {
				if got := float64(counts[kind]) / float64(total); math.Abs(got-want) > 0.01 {
					t.Errorf("%v: %.3f of ops, want %.1f", kind, got, want)
				}
			}
		})
	}
}

func TestFuzzDeterministicAndDefaults(t *testing.T) {
	a, _ := NewFuzz(FuzzConfig{Clients: 2, Seed: 5})
	b, _ := NewFuzz(FuzzConfig{Clients: 2, Seed: 5})
	c, _ := NewFuzz(FuzzConfig{Clients: 2, Seed: 6})
	if cfg := a.Config(); cfg.Keys != 5 || cfg.OpsPerClient != 5000 || cfg.ValueSize != 16 {
		t.Errorf("defaults: %+v", cfg)
	}
	if !slices.Equal(a.Keys(), b.Keys()) || slices.Equal(a.Keys(), c.Keys()) {
		t.Error("key sets do not follow the seed")
	}
	if !equalOps(drain(a.Stream(1), 100), drain(b.Stream(1), 100)) || equalOps(drain(a.Stream(0), 100), drain(a.Stream(1), 100)) {
		t.Error("streams do not follow the seed")
	}
	// The streams write MadKV text that reads back.
	var buf bytes.Buffer
	ops := drain(a.Stream(0), 200)
	if err := WriteMadKV(&buf, ops); err != nil {
		t.Fatal(err)
	}
	if back, err := ReadOps(&buf); err != nil || !equalOps(back, ops) {
		t.Errorf("fuzz ops do not round-trip through MadKV text: %v", err)
	}
}

func TestNewFuzzRejectsBadConfig(t *testing.T) {
	for _, cfg := range []FuzzConfig{
		{Clients: -1}, {Keys: -2}, {OpsPerClient: -1}, {ValueSize: -1},
		{Conflict: true, Keys: 100001}, {Namespace: "a-b"}, {Namespace: "a b"},
	} {
		if _, err := NewFuzz(cfg); err == nil {
			t.Errorf("NewFuzz(%+v) succeeded", cfg)
		}
	}
}

func TestRandomNamespace(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b := RandomNamespace(r), RandomNamespace(r)
	if len(a) != 5 || !isAlnum(a) || a == b {
		t.Errorf("namespaces %q %q", a, b)
	}
}
