package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

// benchRun is a minimal benchmark run for the tests below.
func benchRun(id, impl string, seed int64, tput float64) *results.Run {
	return &results.Run{ID: id, Command: "run", Impl: impl, Workload: "a", Clients: 2, Window: 1, Seed: seed,
		Seconds: 2, Overall: results.Overall{Ops: int64(tput * 2), OpsPerSec: tput},
		Ops: []results.OpSummary{{Op: "READ", Count: int64(tput * 2), OpsPerSec: tput, Latency: results.Latency{P50: 10, P99: 20, P999: 30}}},
		Config: &results.Config{Command: "run", Impl: impl, Workload: "a", Clients: 2, Window: 1,
			Duration: results.Duration(2 * time.Second), RecordCount: 1000, ValueSize: 1000, Seed: seed, Kvbench: "v1"}}
}

// writeRun writes r into base/r.ID with an hlog of n READs per second for
// secs seconds of latency ns each (no hlog when n is 0).
func writeRun(t *testing.T, base string, r *results.Run, n int, secs float64, ns int64) string {
	t.Helper()
	dir := filepath.Join(base, r.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if n > 0 {
		var buf bytes.Buffer
		w, err := results.NewHlogWriter(&buf, time.Unix(1_800_000_000, 0))
		if err != nil {
			t.Fatal(err)
		}
		for s := 0.0; s < secs; s++ {
			h := results.NewHistogram()
			for i := 0; i < n; i++ {
				h.RecordValue(ns + int64(i))
			}
			to := time.Duration(min(s+1, secs) * float64(time.Second))
			if err := w.Write("READ", time.Duration(s*float64(time.Second)), to, h); err != nil {
				t.Fatal(err)
			}
		}
		os.WriteFile(filepath.Join(dir, results.HlogFile), buf.Bytes(), 0o644)
	}
	if err := results.WriteRun(dir, r); err != nil {
		t.Fatal(err)
	}
	return dir
}

func generate(t *testing.T, root string, dirs ...string) (*Summary, string) {
	t.Helper()
	out := filepath.Join(root, "report.md")
	sum, err := Generate(dirs, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("DUMP") != "" {
		t.Logf("%s", b)
	}
	return sum, string(b)
}

// TestSkipsBadRuns: a corrupt run.json and a latency.hlog cut mid-line skip
// their run with a warning naming it; the rest is reported.
func TestSkipsBadRuns(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	writeRun(t, runs, benchRun("good", "memkv", 1, 1000), 100, 2, 50_000)
	bad := filepath.Join(runs, "corrupt")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, results.RunFile), []byte(`{"id": "corrupt", "ops": [`), 0o644)
	cut := writeRun(t, runs, benchRun("cut", "memkv", 2, 1000), 100, 2, 50_000)
	hl, _ := os.ReadFile(filepath.Join(cut, results.HlogFile))
	os.WriteFile(filepath.Join(cut, results.HlogFile), hl[:len(hl)-40], 0o644)

	sum, md := generate(t, root, runs)
	if sum.Runs != 1 {
		t.Errorf("%d runs, want 1", sum.Runs)
	}
	w := strings.Join(sum.Warnings, "\n")
	for _, want := range []string{"skipped runs/corrupt: ", "corrupt run.json", "skipped runs/cut: unreadable latency.hlog"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if !strings.Contains(md, "## Warnings") || !strings.Contains(md, "skipped runs/cut") {
		t.Error("report does not warn about the skipped runs")
	}
}

// TestOneOperationSpectrum: a run of one operation draws its spectrum
// instead of panicking on a log axis without range.
func TestOneOperationSpectrum(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	r := benchRun("one", "memkv", 1, 0.5)
	writeRun(t, runs, r, 1, 1, 80_000)
	sum, _ := generate(t, root, runs)
	if !contains(sum.Figures, "report-figures/spectrum-a-c2-w1.png") {
		t.Errorf("no spectrum among %v (warnings %v)", sum.Figures, sum.Warnings)
	}
}

// TestMarkdownEscaping: text from run.json cannot inject markdown or HTML,
// and absurd numbers do not overflow to negative ones.
func TestMarkdownEscaping(t *testing.T) {
	mdEscape := md
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	r := benchRun("evil", "memkv", 1, 1e300)
	r.Workload = "x\n# injected heading"
	r.Config.Workload = r.Workload
	r.Machine.Hostname = "<script>alert(1)</script>"
	r.Overall.Errors, r.Overall.Ops, r.Ops[0].Count = 1, 5, 5
	writeRun(t, runs, r, 0, 0, 0)
	_, md := generate(t, root, runs)
	for _, bad := range []string{"\n# injected", "<script>", "-9 223"} {
		if strings.Contains(md, bad) {
			t.Errorf("report contains %q", bad)
		}
	}
	for _, want := range []string{`\# injected heading`, `\<script\>`, "1e+300"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if got := num(1e19); got != "1e+19" {
		t.Errorf("num(1e19) = %q", got)
	}
	if got := mdEscape("a|b [c](d) *e* _f_ `g`\r\nh"); got != `a|b \[c\]\(d\) \*e\* \_f\_ \`+"`"+`g\`+"`"+`  h` {
		t.Errorf("md = %q", got)
	}
}

// TestRepetitionsOnlyWhenSeedDiffers: runs that differ in anything but the
// seed are separate configurations, each labelled apart; interrupted and
// failed runs are left out and said so.
func TestRepetitionsOnlyWhenSeedDiffers(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	writeRun(t, runs, benchRun("r1", "memkv", 1, 5000), 0, 0, 0)
	writeRun(t, runs, benchRun("r2", "memkv", 2, 5100), 0, 0, 0) // a repetition of r1
	short := benchRun("r3", "memkv", 1, 4000)
	short.Config.Duration = results.Duration(time.Second)
	writeRun(t, runs, short, 0, 0, 0)
	flags := benchRun("r4", "memkv", 1, 3000)
	flags.Config.ImplFlags = []string{"--fsync", "never"}
	writeRun(t, runs, flags, 0, 0, 0)
	stopped := benchRun("r5", "memkv", 3, 384844)
	stopped.Interrupted, stopped.Seconds = true, 0.07
	writeRun(t, runs, stopped, 0, 0, 0)
	failed := benchRun("r6", "memkv", 4, 5000)
	failed.ValidationFailed, failed.ValidationError = true, "line 3: get k1 returned v2, want v1"
	writeRun(t, runs, failed, 0, 0, 0)

	sum, md := generate(t, root, runs)
	for _, want := range []string{
		"| C1 | memkv --fsync never | 2 | 1 | 1 | 3 000 |",
		"| C2 | memkv \\[1s\\] | 2 | 1 | 1 | 4 000 |",
		"| C3 | memkv \\[2s\\] | 2 | 1 | 2 | 5 050 (5 000–5 100) |",
		"run r5 left out: interrupted after 0.07 s",
		"run r6 left out: failed validation \\(-c\\) \\(line 3: get k1",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(md, "384 844") && !strings.Contains(md, "| interrupted |") {
		t.Error("the interrupted run's throughput appears unmarked")
	}
	if len(sum.Warnings) < 2 {
		t.Errorf("warnings %v", sum.Warnings)
	}
}

// TestConsistencySeparatesFlagsAndFaults: memkv with --fsync never and
// memkv by default are rows of their own; crash and pause are columns.
func TestConsistencySeparatesFlagsAndFaults(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	mk := func(id string, flags []string, kinds []string, verdict string) {
		r := &results.Run{ID: id, Command: "fuzz", Impl: "memkv", Workload: "fuzz", Clients: 3, Window: 1, Seconds: 1,
			Check: &results.Check{Verdict: verdict},
			Config: &results.Config{Command: "fuzz", Impl: "memkv", ImplFlags: flags, Workload: "fuzz", Clients: 3, Window: 1,
				Ops: 100, Kvbench: "v1"}}
		if kinds != nil {
			r.Config.Faults = &results.FaultConfig{Kinds: kinds, Interval: results.Duration(2 * time.Second), Duration: results.Duration(time.Second / 2)}
		}
		writeRun(t, runs, r, 0, 0, 0)
	}
	mk("f1", nil, []string{"crash"}, "ok")
	mk("f2", nil, []string{"crash"}, "ok")
	mk("f3", []string{"--fsync", "never"}, []string{"crash"}, "expected")
	mk("f4", []string{"--fsync", "never"}, []string{"crash"}, "expected")
	mk("f5", nil, []string{"pause"}, "ok")
	_, md := generate(t, root, runs)
	for _, want := range []string{
		"| store | crash every 2s for 500ms | pause every 2s for 500ms |",
		"| memkv | ok ×2 (C1) | ok (C2) |",
		"| memkv --fsync never | expected ×2 (C3) | – |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestTimelineDropsPartialInterval: a last interval of 2 ms with one
// operation is not drawn as 500 ops/s.
func TestTimelineDropsPartialInterval(t *testing.T) {
	var ivs []results.Interval
	for i, c := range []int{100, 100, 1} {
		h := results.NewHistogram()
		for k := 0; k < c; k++ {
			h.RecordValue(1000)
		}
		start := time.Duration(i) * time.Second
		end := start + time.Second
		if i == 2 {
			end = start + 2*time.Millisecond
		}
		ivs = append(ivs, results.Interval{Tag: "READ", Start: start, End: end, Hist: h})
	}
	slots := timeline(ivs, 2.002)
	if len(slots) != 2 {
		t.Fatalf("%d slots, want 2", len(slots))
	}
	for _, s := range slots {
		if s.opsPerSec != 100 {
			t.Errorf("slot at %v s: %v ops/s", s.start, s.opsPerSec)
		}
	}
}

// TestPartialRunDirs: a run directory a SIGKILLed kvbench left is reported
// and --prune removes it; a run in progress is neither.
func TestPartialRunDirs(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	writeRun(t, runs, benchRun("20261121-130501-run-memkv", "memkv", 1, 1000), 0, 0, 0)
	killed := filepath.Join(runs, "20261121-130601-run-memkv")
	os.MkdirAll(killed, 0o755)
	os.WriteFile(filepath.Join(killed, "server.log"), []byte("started\n"), 0o644)
	os.WriteFile(filepath.Join(killed, results.OwnerFile), []byte("2147483646"), 0o644)
	live, err := results.NewDir(runs, "run", "shm", time.Now()) // owned by this test
	if err != nil {
		t.Fatal(err)
	}
	sum, md := generate(t, root, runs)
	w := strings.Join(sum.Warnings, "\n")
	if !strings.Contains(w, "1 run directory without run.json, left by a kvbench that was killed") ||
		!strings.Contains(w, "runs/20261121-130601-run-memkv") || !strings.Contains(md, "kvbench report --prune") {
		t.Errorf("warnings: %s", w)
	}
	if !strings.Contains(w, "still being written") {
		t.Errorf("the live run is not said to be in progress: %s", w)
	}
	removed, err := Prune([]string{runs})
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != killed {
		t.Errorf("Prune removed %v, want %s", removed, killed)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("Prune removed the live run: %v", err)
	}
}

// TestWarnsOverloadAndSpread: an oversubscribed machine and repetitions
// 20% apart are warned about.
func TestWarnsOverloadAndSpread(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	a, b := benchRun("r1", "memkv", 1, 4502), benchRun("r2", "memkv", 2, 5427)
	a.Load = &results.Load{Cores: 2, Threads: 9, Oversubscribed: true}
	writeRun(t, runs, a, 0, 0, 0)
	writeRun(t, runs, b, 0, 0, 0)
	sum, md := generate(t, root, runs)
	w := strings.Join(sum.Warnings, "\n")
	for _, want := range []string{"1 of 2 runs ran on an overloaded machine",
		"more client and server threads than cores in 1 run (up to 9 threads on 2 cores)",
		"throughput ranged 4 502–5 427 ops/s over 2 repetitions (19% of the mean)"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if !strings.Contains(md, "| 2 ⚠ |") {
		t.Error("the group's runs are not marked ⚠")
	}
}

func TestStableStoreColors(t *testing.T) {
	if storeColor("memkv") != storeColor("memkv [5s]") {
		t.Error("a variant changes the store's colour")
	}
	if storeColor("memkv") == storeColor("shm") {
		t.Error("memkv and shm share a colour")
	}
	if storeColor("memkv") == storeColor("memkv --fsync never") {
		t.Error("memkv and memkv --fsync never share a colour")
	}
}

func TestLogAxisChoice(t *testing.T) {
	flat := [][]slot{{{opsPerSec: 100, count: 1, p99: 10}, {opsPerSec: 200, count: 1, p99: 20}}}
	if lt, ll := timelineLog(flat); lt || ll {
		t.Errorf("2× spread: log %v %v", lt, ll)
	}
	wide := [][]slot{{{opsPerSec: 100, count: 1, p99: 10}}, {{opsPerSec: 100000, count: 1, p99: 20}, {count: 0}}}
	if lt, ll := timelineLog(wide); !lt || ll {
		t.Errorf("1000× throughput spread: log %v %v, want true false", lt, ll)
	}
}

// TestFuzzTimelineJepsen: a fuzz run with a history draws its ops per
// client with the fault windows.
func TestFuzzTimelineJepsen(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	r := &results.Run{ID: "f1", Command: "fuzz", Impl: "memkv", Workload: "fuzz", Clients: 2, Window: 1, Seconds: 1,
		Check:  &results.Check{Verdict: "ok"},
		Faults: []results.Fault{{Kind: "crash", Process: "memkv-0", Start: 3e8, End: 5e8}},
		Config: &results.Config{Command: "fuzz", Impl: "memkv", Workload: "fuzz", Clients: 2, Window: 1, Ops: 50,
			Faults: &results.FaultConfig{Kinds: []string{"crash"}}}}
	dir := writeRun(t, runs, r, 0, 0, 0)
	var evs []results.Event
	for i := int64(0); i < 100; i++ {
		e := results.Event{Client: int(i % 2), Req: impls.Request{Kind: impls.Get, Key: "k"}, Call: i * 1e7, Return: i*1e7 + 5e5, Outcome: results.OK}
		if e.Call > 3e8 && e.Call < 5e8 {
			e.Outcome = results.Unknown
			if i%2 == 0 {
				e.Outcome = results.Fail
			}
		}
		evs = append(evs, e)
	}
	if err := results.WriteHistory(dir, evs); err != nil {
		t.Fatal(err)
	}
	sum, _ := generate(t, root, runs)
	if strings.Join(sum.Figures, " ") != "report-figures/fuzz-memkv-crash.png" || len(sum.Warnings) != 0 {
		t.Errorf("figures %v, warnings %v", sum.Figures, sum.Warnings)
	}
}

// TestSweepNotes: what a scenario skipped, what failed and an interruption
// are in the report, though none of them left a run directory.
func TestSweepNotes(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	writeRun(t, runs, benchRun("r1", "memkv", 1, 1000), 0, 0, 0)
	_, err := results.WriteSweep(runs, &results.Sweep{Scenario: "quick", Planned: 3, Done: 1, Interrupted: true,
		Skipped: []string{"memkv: workload e needs SCAN, which memkv does not support"},
		Failed:  []string{"shm workload=a clients=4: start shm: boom"}})
	if err != nil {
		t.Fatal(err)
	}
	_, md := generate(t, root, runs)
	for _, want := range []string{
		"scenario quick was interrupted after 1 of 3 runs",
		"scenario quick skipped what a store cannot run: memkv: workload e needs SCAN, which memkv does not support",
		"scenario quick: 1 run failed and left no results: shm workload=a clients=4: start shm: boom",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestStockPropertyFileIsItsLetter: -P workloada and --workload a are one
// workload, and with equal properties one configuration.
func TestStockPropertyFileIsItsLetter(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	a := benchRun("r1", "memkv", 1, 1000)
	p := benchRun("r2", "memkv", 2, 1100)
	p.Workload, p.Config.Workload = "workloada", "workloada"
	writeRun(t, runs, a, 0, 0, 0)
	writeRun(t, runs, p, 0, 0, 0)
	_, md := generate(t, root, runs)
	if strings.Contains(md, "workloada") || !strings.Contains(md, "| C1 | memkv | 2 | 1 | 2 | 1 050 (1 000–1 100) |") {
		t.Errorf("-P workloada not merged with --workload a:\n%s", md)
	}
}
