package report

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kvbench/kvbench/results"
)

// writeCourseRun writes a benchmark run of scenario with ops[op] = {count,
// latency µs} recorded in its latency.hlog, and returns its directory.
func writeCourseRun(t *testing.T, base, scenario, impl string, flags []string, wl string, clients, rep int, start time.Time, ops map[string][2]float64) string {
	t.Helper()
	store := impl
	if len(flags) > 0 {
		store += " " + strings.Join(flags, " ")
	}
	dir, err := results.NewDir(base, "run", impl, start)
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{"scenario": scenario, "store": store, "workload": wl, "clients": strconv.Itoa(clients),
		"rep": strconv.Itoa(rep), "sweep": "1", "window": "1"}
	r := &results.Run{ID: filepath.Base(dir), Command: "run", Impl: impl, Workload: wl, Tags: tags, Seed: int64(rep),
		Clients: clients, Window: 1, Start: start, Seconds: 1}
	r.Config = &results.Config{Command: "run", Impl: impl, ImplFlags: flags, Workload: wl, Clients: clients, Window: 1,
		Ops: 10000, RecordCount: 1000, Seed: int64(rep)}
	var hlog bytes.Buffer
	w, err := results.NewHlogWriter(&hlog, start)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"READ", "UPDATE", "INSERT", "SCAN", "READ-MODIFY-WRITE"} {
		spec, ok := ops[op]
		if !ok {
			continue
		}
		h := results.NewHistogram()
		for i := 0; i < int(spec[0]); i++ {
			if err := h.RecordValue(int64(spec[1] * 1e3)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Write(op, 0, time.Second, h); err != nil {
			t.Fatal(err)
		}
		r.Ops = append(r.Ops, results.OpSummary{Op: op, Count: h.TotalCount(), OpsPerSec: float64(h.TotalCount()), Latency: results.Summarize(h)})
		r.Overall.Ops += h.TotalCount()
	}
	r.Overall.OpsPerSec = float64(r.Overall.Ops)
	if err := results.WriteFileAtomic(filepath.Join(dir, results.HlogFile), hlog.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := results.WriteRun(dir, r); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCourseStatsMergeLosslessly: two repetitions, one with 1000 reads at
// 100 µs, one with 10 reads at 10 ms. The course's way (mean of the
// averages, max of the p99s) says 5050 µs and 10 ms; the merged histogram
// says the average operation took 198 µs and the p99 is 100 µs.
func TestCourseStatsMergeLosslessly(t *testing.T) {
	base := t.TempDir()
	start := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	writeCourseRun(t, base, "madkv-p1", "madkv", nil, "c", 1, 1, start, map[string][2]float64{"READ": {1000, 100}})
	writeCourseRun(t, base, "madkv-p1", "madkv", nil, "c", 1, 2, start.Add(time.Minute), map[string][2]float64{"READ": {10, 10000}})
	l, err := loadRuns([]string{base})
	if err != nil {
		t.Fatal(err)
	}
	d := newDocument(l, base, &figures{dir: filepath.Join(base, "f"), rel: "f", format: "png"})
	gs, series := d.courseGroups("madkv-p1")
	if len(gs) != 1 || len(series) != 1 || series[0] != "madkv" {
		t.Fatalf("groups %d, series %v; want the two repetitions as one group of madkv", len(gs), series)
	}
	st, ok := courseStatsOf(gs[0])
	if !ok {
		t.Fatal("no stats")
	}
	wantAvg := (1000*100 + 10*10000) / 1010.0
	if math.Abs(st.avg-wantAvg)/wantAvg > 0.01 || math.Abs(st.opAvg["READ"]-wantAvg)/wantAvg > 0.01 {
		t.Errorf("avg %.1f µs, READ avg %.1f µs; want the merged %.1f µs (not the course's 5050)", st.avg, st.opAvg["READ"], wantAvg)
	}
	if st.p99 < 99 || st.p99 > 101 {
		t.Errorf("p99 %.1f µs, want ~100 µs of all 1010 reads (not the worst repetition's 10 ms)", st.p99)
	}
	if st.tput != (1000+10)/2.0 {
		t.Errorf("throughput %.1f, want the mean over repetitions 505", st.tput)
	}
}

// TestReportDrawsTheCourseFigures: madkv-p1 and madkv-p2 runs get the
// section with the course's five figures; other runs do not.
func TestReportDrawsTheCourseFigures(t *testing.T) {
	base := t.TempDir()
	runs := filepath.Join(base, "runs")
	start := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	n := 0
	add := func(scenario string, flags []string, wl string, clients int) {
		n++
		lat := 50 * float64(clients)
		ops := map[string][2]float64{"READ": {float64(200 * clients), lat}, "UPDATE": {float64(100 * clients), 2 * lat}}
		if wl == "e" {
			ops = map[string][2]float64{"SCAN": {float64(200 * clients), 3 * lat}, "INSERT": {10, lat}}
		}
		writeCourseRun(t, runs, scenario, "madkv", flags, wl, clients, 1, start.Add(time.Duration(n)*time.Minute), ops)
	}
	for _, wl := range courseWorkloads {
		add("madkv-p1", nil, wl, 1)
		add("madkv-p2", []string{"--partitions", "1"}, wl, 10)
		add("madkv-p2", []string{"--partitions", "3"}, wl, 10)
	}
	for _, wl := range []string{"a", "c", "e"} {
		add("madkv-p1", nil, wl, 10)
		add("madkv-p1", nil, wl, 25)
	}
	add("madkv-p2", []string{"--partitions", "1"}, "a", 20)
	add("madkv-p2", []string{"--partitions", "3"}, "a", 20)
	s, err := Generate([]string{runs}, filepath.Join(base, "proj.md"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(filepath.Join(base, "proj.md"))
	for _, want := range []string{"## The MadKV course's figures", "### Stage 1 (madkv-p1)", "### Stage 2 (madkv-p2)",
		"largest per-client p99", "merges every client's HdrHistogram"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, fig := range []string{"course-p1-single-client", "course-p1-tput-trend", "course-p1-lats-trend", "course-p2-ten-clients", "course-p2-tput-trend"} {
		rel := "proj-figures/" + fig + ".png"
		if !contains(s.Figures, rel) || !strings.Contains(string(text), "]("+rel+")") {
			t.Errorf("figure %s not written or not linked (figures: %v)", rel, s.Figures)
			continue
		}
		f, err := os.Open(filepath.Join(base, rel))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 400 {
			t.Errorf("%s: %v, %v", rel, err, img.Bounds())
		}
	}
	for _, w := range s.Warnings {
		if strings.Contains(w, "course") {
			t.Errorf("warning: %s", w)
		}
	}

	// The shipped fixture (scenario "fixture") gets no such section.
	root := copyFixture(t)
	if _, err := Generate([]string{filepath.Join(root, "runs")}, filepath.Join(root, "r.md"), Options{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "r.md")); strings.Contains(string(b), "MadKV course") {
		t.Error("a report without madkv-p1/p2 runs has the course's section")
	}
}
