package report

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

var update = flag.Bool("update", false, "rewrite testdata/report.golden")

// copyFixture copies testdata/runs into a temp dir, so the report's relative
// links do not depend on where the repository lives.
func copyFixture(t *testing.T) (root string) {
	t.Helper()
	root = t.TempDir()
	src := filepath.Join("testdata", "runs")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		dst := filepath.Join(root, "runs", rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return root
}

var wantFigures = []string{
	"report-figures/throughput-by-workload-c1-w1.png",
	"report-figures/throughput-by-workload-c4-w1.png",
	"report-figures/throughput-vs-clients-a.png",
	"report-figures/p99-vs-clients-a.png",
	"report-figures/throughput-vs-clients-c.png",
	"report-figures/p99-vs-clients-c.png",
	"report-figures/spectrum-a-c1-w1.png",
	"report-figures/timeline-a-c1-w1.png",
	"report-figures/spectrum-a-c4-w1.png",
	"report-figures/timeline-a-c4-w1.png",
	"report-figures/spectrum-c-c1-w1.png",
	"report-figures/timeline-c-c1-w1.png",
	"report-figures/spectrum-c-c4-w1.png",
	"report-figures/timeline-c-c4-w1.png",
	"report-figures/fuzz-memkv-crash.png",
	"report-figures/fuzz-shm-crash.png",
	"report-figures/fuzz-shm-pause.png",
}

func TestGenerateGolden(t *testing.T) {
	root := copyFixture(t)
	out := filepath.Join(root, "report.md")
	sum, err := Generate([]string{filepath.Join(root, "runs")}, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Runs != len(fixtureRuns) {
		t.Errorf("%d runs, want %d", sum.Runs, len(fixtureRuns))
	}
	if strings.Join(sum.Figures, "\n") != strings.Join(wantFigures, "\n") {
		t.Errorf("figures:\n%s\nwant:\n%s", strings.Join(sum.Figures, "\n"), strings.Join(wantFigures, "\n"))
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report.md differs from %s (go test ./report -update to accept):\n%s", golden, got)
	}
	if bytes.Contains(got, []byte(root)) {
		t.Error("report contains an absolute path")
	}

	// Every linked figure and check.html exists; every figure is a PNG of
	// the expected size.
	for _, m := range regexp.MustCompile(`\]\(([^)]+)\)`).FindAllSubmatch(got, -1) {
		if _, err := os.Stat(filepath.Join(root, string(m[1]))); err != nil {
			t.Errorf("broken link: %v", err)
		}
	}
	for _, rel := range sum.Figures {
		f, err := os.Open(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		wantW, wantH := 672, 432
		if base := filepath.Base(rel); strings.HasPrefix(base, "timeline-") || strings.HasPrefix(base, "fuzz-") {
			wantH = 576
		}
		if cfg.Width != wantW || cfg.Height != wantH {
			t.Errorf("%s is %dx%d, want %dx%d", rel, cfg.Width, cfg.Height, wantW, wantH)
		}
		if !bytes.Contains(got, []byte("]("+rel+")")) {
			t.Errorf("%s is not linked from the report", rel)
		}
	}

	// The same runs give the same markdown.
	again := filepath.Join(root, "again.md")
	if _, err := Generate([]string{filepath.Join(root, "runs")}, again, Options{}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(again)
	if !bytes.Equal(bytes.ReplaceAll(b, []byte("again-figures/"), []byte("report-figures/")), got) {
		t.Error("a second report of the same runs differs")
	}
}

func TestGenerateSVG(t *testing.T) {
	root := copyFixture(t)
	out := filepath.Join(root, "out", "svg.md")
	sum, err := Generate([]string{filepath.Join(root, "runs")}, out, Options{Format: "svg"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Figures) != len(wantFigures) {
		t.Errorf("%d figures, want %d", len(sum.Figures), len(wantFigures))
	}
	md, _ := os.ReadFile(out)
	for _, rel := range sum.Figures {
		if !strings.HasPrefix(rel, "svg-figures/") || !strings.HasSuffix(rel, ".svg") {
			t.Errorf("figure %s: want svg-figures/*.svg", rel)
		}
		b, err := os.ReadFile(filepath.Join(root, "out", rel))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("<svg")) {
			t.Errorf("%s is not SVG", rel)
		}
		if !bytes.Contains(md, []byte("]("+rel+")")) {
			t.Errorf("%s is not linked", rel)
		}
	}
	// Links to runs are relative to the report's folder.
	if !bytes.Contains(md, []byte("](../runs/")) {
		t.Error("no ../runs/ links in a report one folder down")
	}
}

// TestGenerateSelectsRuns reports a subset: single run dirs as arguments,
// the same run twice, no fuzz runs.
func TestGenerateSelectsRuns(t *testing.T) {
	root := copyFixture(t)
	dirs, _ := filepath.Glob(filepath.Join(root, "runs", "*-run-shm"))
	if len(dirs) != 4 {
		t.Fatalf("%d shm runs in the fixture, want 4", len(dirs))
	}
	out := filepath.Join(root, "shm.md")
	sum, err := Generate(append(dirs, dirs[0]), out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Runs != 4 {
		t.Errorf("%d runs, want 4 (each once)", sum.Runs)
	}
	md, _ := os.ReadFile(out)
	for _, want := range []string{"4 runs: 4 benchmark runs of 1 store on 2 workloads, 0 fuzz runs", "## Workload C"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}
	if bytes.Contains(md, []byte("## Consistency")) {
		t.Error("consistency section without fuzz runs")
	}
}

// TestFuzzTimelineFromHistory: a fuzz run without latency.hlog gets its
// fault timeline from history.jsonl.
func TestFuzzTimelineFromHistory(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "runs", "f1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := &results.Run{ID: "f1", Command: "fuzz", Impl: "kv", Workload: "fuzz", Clients: 2, Seconds: 2,
		Faults: []results.Fault{{Kind: "pause", Process: "kv-0", Start: 5e8, End: 9e8}},
		Check:  &results.Check{Verdict: results.VerdictOK}}
	var events []results.Event
	for i := int64(0); i < 400; i++ {
		call := i * 5e6 // one op every 5 ms for 2 s
		events = append(events, results.Event{Client: int(i % 2), Req: impls.Request{Kind: impls.Get, Key: "k"},
			Call: call, Return: call + 2e5 + i*1e3, Outcome: results.OK})
	}
	if err := results.WriteRun(dir, r); err != nil {
		t.Fatal(err)
	}
	if err := results.WriteHistory(dir, events); err != nil {
		t.Fatal(err)
	}
	ivs, _, err := historyIntervals(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ivs) != 20 || ivs[0].Hist.TotalCount() != 20 {
		t.Errorf("%d intervals, first with %d ops; want 20 of 20", len(ivs), ivs[0].Hist.TotalCount())
	}
	// No op completes in [0.5 s, 1 s) and the run lasts 2.5 s: both gaps are
	// zero-throughput slots.
	var kept []results.Event
	for _, e := range events {
		if e.Return < 5e8 || e.Return >= 1e9 {
			kept = append(kept, e)
		}
	}
	r.Seconds = 2.5
	if err := results.WriteRun(dir, r); err != nil {
		t.Fatal(err)
	}
	if err := results.WriteHistory(dir, kept); err != nil {
		t.Fatal(err)
	}
	ivs, _, err = historyIntervals(dir)
	if err != nil {
		t.Fatal(err)
	}
	slots := timeline(ivs, r.Seconds)
	var zeros []float64
	for _, s := range slots {
		if s.count == 0 {
			zeros = append(zeros, math.Round(s.start*10)/10)
		}
	}
	if len(slots) != 25 || fmt.Sprint(zeros) != "[0.5 0.6 0.7 0.8 0.9 2 2.1 2.2 2.3 2.4]" {
		t.Errorf("%d slots, empty ones at %v", len(slots), zeros)
	}
	sum, err := Generate([]string{filepath.Join(root, "runs")}, filepath.Join(root, "r.md"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(sum.Figures, " ") != "r-figures/fuzz-kv-pause.png" {
		t.Errorf("figures %v, want the fuzz timeline", sum.Figures)
	}
}

func TestGenerateErrors(t *testing.T) {
	root := t.TempDir()
	empty := filepath.Join(root, "empty")
	foreign := filepath.Join(root, "foreign")
	corrupt := filepath.Join(root, "corrupt")
	badHlog := filepath.Join(root, "badhlog")
	for _, d := range []string{empty, filepath.Join(foreign, "src"), filepath.Join(corrupt, "r1"), badHlog} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(foreign, "README.md"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(foreign, "src", "main.go"), []byte("package main\n"), 0o644)
	os.WriteFile(filepath.Join(corrupt, "r1", results.RunFile), []byte("{\"id\": "), 0o644)
	if err := results.WriteRun(badHlog, &results.Run{ID: "x", Command: "run"}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(badHlog, results.HlogFile), []byte("0.000,1.000,2.0,notbase64\n"), 0o644)

	tests := []struct {
		name   string
		dirs   []string
		opts   Options
		isNone bool
		want   string
	}{
		{"empty dir", []string{empty}, Options{}, true, "no kvbench runs in " + empty},
		{"foreign dir", []string{foreign}, Options{}, true, "no kvbench runs in " + foreign},
		{"missing dir", []string{filepath.Join(root, "nope")}, Options{}, true, "no kvbench runs in " + filepath.Join(root, "nope")},
		{"no dirs", nil, Options{}, true, "no run directories given"},
		{"only a corrupt run.json", []string{corrupt}, Options{}, true, filepath.Join(corrupt, "r1") + ": corrupt run.json"},
		{"only a corrupt hlog", []string{badHlog}, Options{}, true, badHlog + ": unreadable latency.hlog: latency.hlog line 1"},
		{"a file", []string{filepath.Join(foreign, "README.md")}, Options{}, false, "is not a run directory"},
		{"bad format", []string{empty}, Options{Format: "gif"}, false, `unknown figure format "gif"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(root, "out", "report.md")
			_, err := Generate(tt.dirs, out, tt.opts)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			if got := errors.Is(err, ErrNoRuns); got != tt.isNone {
				t.Errorf("errors.Is(err, ErrNoRuns) = %v, want %v", got, tt.isNone)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a report was written despite the error")
			}
		})
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct{ got, want string }{
		{num(41234.4), "41 234"},
		{num(1234567), "1 234 567"},
		{num(999.6), "1 000"},
		{num(56.78), "56.8"},
		{num(5.678), "5.68"},
		{num(0), "0"},
		{withSpread(41200, spread{mean: 41200, min: 40100, max: 42300, n: 3}), "41 200 (40 100–42 300)"},
		{withSpread(41200, spread{mean: 41200, min: 41200, max: 41200, n: 1}), "41 200"},
		{bytesHuman(8 << 30), "8.0 GiB"},
		{safeName("memkv --fsync never"), "memkv---fsync-never"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
