package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/registry"
	"github.com/kvbench/kvbench/results"
)

// sweepStores are fake bundled stores: alpha has scans and pipelining, beta
// neither (like shm).
func sweepStores() []*impls.Impl {
	return []*impls.Impl{
		{Name: "alpha", Kinds: []impls.Kind{impls.Get, impls.Put, impls.Delete, impls.Swap, impls.Scan}, MaxWindow: 8},
		{Name: "beta", Kinds: []impls.Kind{impls.Get, impls.Put}, MaxWindow: 1},
	}
}

func TestParseScenarioErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       string // substring of the error, starting with file:line
	}{
		{"unknown key", "name: x\nsweeps:\n  - stores: [all]\n    workloads: [a]\n    durations: 3s\n",
			`bad.yaml:5: sweep 1: unknown key "durations"`},
		{"unknown top key", "name: x\nsweep:\n  - stores: [all]\n", `bad.yaml:2: scenario: unknown key "sweep"`},
		{"unknown default key", "defaults: {seeds: 1}\nsweeps: []\n", `bad.yaml:1: defaults: unknown key "seeds"`},
		{"bad duration", "sweeps:\n  - stores: [all]\n    workloads: [a]\n    duration: 3 seconds\n",
			`bad.yaml:4: bad duration "3 seconds"`},
		{"negative duration", "sweeps:\n  - stores: [all]\n    workloads: [a]\n    duration: -1s\n",
			`bad.yaml:4: bad duration "-1s"`},
		{"empty stores", "sweeps:\n  - stores: []\n    workloads: [a]\n    ops: 10\n",
			`bad.yaml:2: sweep 1: stores is an empty list`},
		{"empty workloads", "sweeps:\n  - stores: all\n    ops: 10\n    workloads: []\n",
			`bad.yaml:4: sweep 1: workloads is an empty list`},
		{"no stores", "sweeps:\n  - workloads: [a]\n    ops: 10\n", `bad.yaml:2: sweep 1: no stores or targets`},
		{"no sweeps", "name: x\n", `bad.yaml:1: no sweeps`},
		{"empty sweeps", "name: x\nsweeps: []\n", `bad.yaml:2: scenario: sweeps is an empty list`},
		{"bad kind", "sweeps:\n  - kind: soak\n    stores: all\n", `bad.yaml:2: sweep 1: kind "soak"`},
		{"bad workload", "sweeps:\n  - stores: all\n    workloads: [a, g]\n    ops: 1\n", `bad.yaml:3: sweep 1: workload "g"`},
		{"zero clients", "sweeps:\n  - stores: all\n    workloads: a\n    ops: 1\n    clients: [1, 0]\n", `bad.yaml:5: sweep 1: clients 0`},
		{"clients not a number", "sweeps:\n  - stores: all\n    workloads: a\n    ops: 1\n    clients: [many]\n", `bad.yaml:5: cannot unmarshal`},
		{"both ops and duration", "sweeps:\n  - stores: all\n    workloads: a\n    ops: 1\n    duration: 1s\n", `bad.yaml:4: sweep 1: both ops and duration`},
		{"neither ops nor duration", "sweeps:\n  - stores: all\n    workloads: a\n", `bad.yaml:2: sweep 1: neither ops nor duration`},
		{"faults on bench", "sweeps:\n  - stores: all\n    workloads: a\n    ops: 1\n    faults: [crash]\n", `bad.yaml:5: sweep 1: faults applies only to kind: fuzz`},
		{"window on fuzz", "sweeps:\n  - kind: fuzz\n    stores: all\n    window: 2\n", `bad.yaml:4: sweep 1: window applies only to kind: bench`},
		{"bad fault", "sweeps:\n  - kind: fuzz\n    stores: all\n    faults: [crash+meteor]\n", `bad.yaml:4: sweep 1: fault "crash+meteor": unknown fault kind "meteor"`},
		{"bad target", "sweeps:\n  - targets: [localhost]\n    workloads: a\n    ops: 1\n", `bad.yaml:2: sweep 1: target "localhost"`},
		{"syntax", "sweeps:\n  - stores: [all\n", `bad.yaml:`},
		{"not a mapping", "- a\n- b\n", `bad.yaml: not a scenario file`},
		{"sweep not a mapping", "sweeps:\n  - a\n", `bad.yaml:2: sweep 1: want a mapping`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScenario("bad.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
			t.Log(err)
		})
	}
}

func TestLoadScenarioMissingFile(t *testing.T) {
	_, err := LoadScenario(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want ErrNotExist", err)
	}
}

func TestLoadBundledScenario(t *testing.T) {
	// Every scenario file in this directory is built into the binary.
	files, _ := filepath.Glob("*.yaml")
	var want []string
	for _, f := range files {
		want = append(want, strings.TrimSuffix(f, ".yaml"))
	}
	t.Chdir(t.TempDir())
	if got := strings.Join(BundledScenarios(), " "); got != strings.Join(want, " ") || !strings.Contains(got, "quick") {
		t.Errorf("bundled %q, want the files here: %q", got, want)
	}
	s, err := LoadScenario("quick")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "quick" || s.Path != "quick.yaml" {
		t.Errorf("name %q path %q", s.Name, s.Path)
	}
	if _, err := LoadScenario("slow"); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "bundled scenarios: ") {
		t.Errorf("err = %v", err)
	}
}

func TestPlanUnknownStore(t *testing.T) {
	_, err := ParseScenario("x.yaml", []byte("sweeps:\n  - workloads: a\n    ops: 1\n  - stores: [alpha, gamma]\n    workloads: a\n    ops: 1\n"))
	if err == nil {
		t.Fatal("sweep 1 has no stores: want an error")
	}
	s, err := ParseScenario("x.yaml", []byte("defaults: {ops: 1}\nsweeps:\n  - stores: [alpha, gamma]\n    workloads: a\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Plan(sweepStores())
	if err == nil || !strings.Contains(err.Error(), `x.yaml:3: sweep 1: unknown store "gamma" (bundled: alpha, beta, or all)`) {
		t.Errorf("err = %v", err)
	}
}

func TestSetStores(t *testing.T) {
	s, err := ParseScenario("demo.yaml", []byte(planYAML))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetStores([]string{"beta"}, []string{"memcached://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan(sweepStores())
	if err != nil {
		t.Fatal(err)
	}
	stores := map[string]int{}
	for _, st := range p.Steps {
		stores[st.Store]++
	}
	// Sweep 1: beta a w1 × 2 clients × 2 reps; the target runs every combination
	// (16); sweep 2: 2 faults each; sweep 3: 1 each.
	if stores["beta"] != 4+2+1 || stores["memcached://127.0.0.1:1"] != 16+2+1 || len(stores) != 2 {
		t.Errorf("runs per store %v", stores)
	}
	if err := s.SetStores([]string{"gamma"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Plan(sweepStores()); err == nil || !strings.Contains(err.Error(), `unknown store "gamma" (bundled: alpha, beta, or all)`) || strings.Contains(err.Error(), "demo.yaml") {
		t.Errorf("err = %v, want an unknown store error not blaming the file", err)
	}
	if err := s.SetStores(nil, []string{"localhost:11211"}); err == nil {
		t.Error("a target without a scheme is accepted")
	}
}

const planYAML = `name: demo
defaults: {stores: [all], records: 100, seed: 7, duration: 1s}
sweeps:
  - workloads: [a, e]
    clients: [1, 4]
    window: [1, 4]
    repeat: 2
  - kind: fuzz
    stores: beta
    faults: [none, crash+pause]
    clients: 3
    ops: 50
    conflict: true
  - targets: memcached://127.0.0.1:11211
    workloads: c
    ops: 500
`

func TestPlanExpansion(t *testing.T) {
	s, err := ParseScenario("demo.yaml", []byte(planYAML))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan(sweepStores())
	if err != nil {
		t.Fatal(err)
	}
	// Sweep 1: 2 reps × 2 stores × 2 workloads × 2 clients × 2 windows = 32;
	// beta skips e (8) and window 4 on a (4). Sweep 2: 2 faults. Sweep 3: 1.
	if got, want := len(p.Steps), 32-12+2+1; got != want {
		t.Errorf("%d steps, want %d", got, want)
	}
	if got := len(p.Skipped); got != 12 {
		t.Errorf("%d skipped, want 12", got)
	}
	wantNotes := []string{
		"skip 4 run(s) of beta: window 4 is above beta's maximum of 1",
		"skip 8 run(s) of beta: workload e needs SCAN, which beta does not support",
	}
	if got := p.Notes(); strings.Join(got, "\n") != strings.Join(wantNotes, "\n") {
		t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantNotes, "\n"))
	}

	first := p.Steps[0]
	if first.String() != "alpha workload=a clients=1 window=1 rep=1" {
		t.Errorf("first step %q", first)
	}
	b := first.Bench
	if b == nil || b.Target.Impl != "alpha" || b.Duration != time.Second || b.Records != 100 || b.Seed != 7 {
		t.Fatalf("first step options %+v", b)
	}
	wantTags := "clients=1 rep=1 scenario=demo store=alpha sweep=1 window=1 workload=a"
	if got := tagString(b.Output.Tags); got != wantTags {
		t.Errorf("tags %q, want %q", got, wantTags)
	}
	if got := strings.Join(b.Output.Args, " "); got != "kvbench run --impl alpha --workload a -n 1 -w 1 --duration 1s --records 100 --seed 7" {
		t.Errorf("args %q", got)
	}
	// Repetition 2 comes after all of repetition 1 and uses the next seed.
	if st := p.Steps[10]; st.Rep != 2 || st.Bench.Seed != 8 {
		t.Errorf("step 11 = %s seed %d, want rep 2 seed 8", st, st.Bench.Seed)
	}

	fz := p.Steps[20]
	if fz.Fuzz == nil || fz.String() != "fuzz beta fault=none clients=3 rep=1" {
		t.Fatalf("step 21 = %s", fz)
	}
	fz = p.Steps[21]
	if o := fz.Fuzz; !o.Crash || !o.Pause || o.OpsPerClient != 50 || !o.Conflict || o.Seed != 7 {
		t.Errorf("fuzz options %+v", o)
	}
	if got := tagString(fz.Fuzz.Output.Tags); got != "clients=3 fault=crash+pause rep=1 scenario=demo store=beta sweep=2 workload=fuzz" {
		t.Errorf("fuzz tags %q", got)
	}
	if got := strings.Join(fz.Fuzz.Output.Args, " "); got != "kvbench fuzz --impl beta --clients 3 --seed 7 --ops 50 --conflict --crash --pause" {
		t.Errorf("fuzz args %q", got)
	}

	ext := p.Steps[22]
	if ext.Bench.Target.URL != "memcached://127.0.0.1:11211" || ext.Bench.Ops != 500 || ext.Bench.Duration != 0 {
		t.Errorf("target step %+v", ext.Bench)
	}
}

func tagString(m map[string]string) string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, " ")
}

// fakeRunner creates a run dir per call; fail and hook let tests inject
// failures and cancellations.
type fakeRunner struct {
	mu    sync.Mutex
	calls []string
	fail  func(n int) error
	hook  func(n int)
}

func (f *fakeRunner) do(ctx context.Context, out Output, kind string) (string, *results.Run, error) {
	f.mu.Lock()
	n := len(f.calls) + 1
	f.calls = append(f.calls, out.Tags["store"]+"/"+out.Tags["workload"])
	f.mu.Unlock()
	if f.hook != nil {
		f.hook(n)
	}
	if f.fail != nil {
		if err := f.fail(n); err != nil {
			return "", nil, err
		}
	}
	dir := filepath.Join(out.Dir, fmt.Sprintf("run-%02d", n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	r := &results.Run{ID: filepath.Base(dir), Command: kind, Tags: out.Tags, Overall: results.Overall{Ops: 100, OpsPerSec: 1000}}
	if kind == "fuzz" {
		r.Check = &results.Check{Verdict: results.VerdictOK}
	}
	return dir, r, results.WriteRun(dir, r)
}

func (f *fakeRunner) Bench(ctx context.Context, o BenchOptions) (string, *results.Run, error) {
	return f.do(ctx, o.Output, "run")
}

func (f *fakeRunner) Fuzz(ctx context.Context, o FuzzOptions) (string, *results.Run, error) {
	return f.do(ctx, o.Output, "fuzz")
}

var _ Runner = (*fakeRunner)(nil)

func TestRunScenario(t *testing.T) {
	s, err := ParseScenario("demo.yaml", []byte(planYAML))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "runs")
	boom := errors.New("boom")
	fr := &fakeRunner{fail: func(n int) error {
		if n == 3 {
			return boom
		}
		return nil
	}}
	var progress strings.Builder
	dirs, err := RunScenario(context.Background(), s, SweepOptions{Out: out, Stores: sweepStores(), Runner: fr, Progress: &progress})
	if !errors.Is(err, ErrRunsFailed) || !errors.Is(err, boom) {
		t.Errorf("err = %v, want ErrRunsFailed wrapping boom", err)
	}
	if len(fr.calls) != 23 || len(dirs) != 22 {
		t.Errorf("%d calls, %d dirs; want 23 calls (the sweep goes on after a failure), 22 dirs", len(fr.calls), len(dirs))
	}
	for _, d := range dirs {
		if _, err := results.ReadRun(d); err != nil {
			t.Error(err)
		}
	}
	text := progress.String()
	for _, want := range []string{
		"skip 8 run(s) of beta: workload e needs SCAN",
		"[1/23] alpha workload=a clients=1 window=1 rep=1: 1000 ops/s in ",
		"[3/23] alpha workload=a clients=4 window=1 rep=1 FAILED: boom\n",
		"[21/23] fuzz beta fault=none clients=3 rep=1: verdict ok in ",
		"scenario demo finished: 22 of 23 runs done, 1 failed, 12 skipped in ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("progress lacks %q:\n%s", want, text)
		}
	}
}

func TestRunScenarioCancelKeepsFinishedRuns(t *testing.T) {
	s, err := ParseScenario("demo.yaml", []byte(planYAML))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fr := &fakeRunner{hook: func(n int) {
		if n == 5 { // Ctrl-C during the fifth run
			cancel()
		}
	}}
	var progress strings.Builder
	dirs, err := RunScenario(ctx, s, SweepOptions{Out: t.TempDir(), Stores: sweepStores(), Runner: fr, Progress: &progress, Quiet: true})
	if err != nil {
		t.Errorf("err = %v; cancellation is not an error", err)
	}
	if len(fr.calls) != 5 || len(dirs) != 4 {
		t.Errorf("%d calls, %d dirs; want 5 calls and the 4 finished runs", len(fr.calls), len(dirs))
	}
	text := progress.String()
	if !strings.Contains(text, "[5/23] alpha workload=e clients=1 window=1 rep=1 interrupted; its partial results are in ") ||
		!strings.Contains(text, "scenario demo interrupted: 4 of 23 runs done, 0 failed") {
		t.Errorf("progress:\n%s", text)
	}
	if strings.Contains(text, "[1/23]") {
		t.Errorf("quiet progress shows finished runs:\n%s", text)
	}
}

// TestShippedScenarios checks that the scenario files under scenarios/ load,
// plan against the bundled stores, and that quick stays quick.
func TestShippedScenarios(t *testing.T) {
	five := []*impls.Impl{}
	for _, n := range []string{"s1", "s2", "s3", "s4", "s5"} {
		five = append(five, &impls.Impl{Name: n, Kinds: []impls.Kind{impls.Get, impls.Put, impls.Scan}, MaxWindow: 16})
	}
	for _, tt := range []struct {
		file     string
		runs     int           // with five stores supporting everything
		maxBench time.Duration // measured time of the bench runs, five stores
	}{
		{"quick.yaml", 5 * (3 + 2 + 2), 90 * time.Second},
		{"madkv-p1.yaml", 5 * (6 + 3*6 + 3), 0},
		{"full.yaml", 5 * 3 * (6*3 + 2*2 + 4), 0},
	} {
		t.Run(tt.file, func(t *testing.T) {
			s, err := LoadScenario(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if s.Description == "" {
				t.Error("no description")
			}
			if _, err := s.Plan(registry.All()); err != nil {
				t.Errorf("plan with the bundled stores: %v", err)
			}
			p, err := s.Plan(five)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Steps) != tt.runs {
				t.Errorf("%d runs with five stores, want %d", len(p.Steps), tt.runs)
			}
			total := p.MeasuredTime()
			if tt.maxBench > 0 && total > tt.maxBench {
				t.Errorf("bench runs measure %s in all, want at most %s", total, tt.maxBench)
			}
		})
	}
}

// TestStepArgsReproduceTheRun: run.json's command line carries every
// option the step sets, so the run can be repeated by hand.
func TestStepArgsReproduceTheRun(t *testing.T) {
	s, err := ParseScenario("x.yaml", []byte(`sweeps:
  - kind: fuzz
    targets: ["memcached://127.0.0.1:1"]
    clients: 3
    ops: 100
    keys: 7
    value_size: 9
    conflict: true
    faults: [crash+loss]
    fault_target: minority
    fault_interval: 3s
    fault_duration: 200ms
`))
	if err != nil {
		t.Fatal(err)
	}
	s.SetServe([]impls.ServeCommand{{Name: "m", Command: "memcached -p 1"}})
	p, err := s.Plan(nil)
	if err != nil || len(p.Steps) != 1 {
		t.Fatalf("plan: %v, %d steps", err, len(p.Steps))
	}
	got := strings.Join(p.Steps[0].Args(), " ")
	want := "kvbench fuzz --target memcached://127.0.0.1:1 --serve m=memcached -p 1 --clients 3 --seed 0 --ops 100 --keys 7 " +
		"--value-size 9 --fault-interval 3s --fault-duration 200ms --conflict --crash --net loss --fault-target minority"
	if got != want {
		t.Errorf("Args()\n got %s\nwant %s", got, want)
	}
}
