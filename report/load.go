package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kvbench/kvbench/results"
)

// ErrNoRuns is returned (wrapped) when an argument holds no kvbench runs.
var ErrNoRuns = errors.New("no kvbench runs")

// runData is one run directory read back.
type runData struct {
	*results.Run
	dir string             // absolute path of the run directory
	ivs []results.Interval // latency.hlog; nil when the run has none
}

// store is the run's store label: the scenario's store tag (which includes
// impl flags) or the impl name.
func (r *runData) store() string {
	if s := r.Tags["store"]; s != "" {
		return s
	}
	return r.Impl
}

func (r *runData) isFuzz() bool { return r.Command == "fuzz" }

// fault names the faults a fuzz run injected: its fault tag, else the kinds
// in its fault timeline, else "none".
func (r *runData) fault() string {
	if f := r.Tags["fault"]; f != "" {
		return f
	}
	var kinds []string
	for _, f := range r.Faults {
		if !contains(kinds, f.Kind) {
			kinds = append(kinds, f.Kind)
		}
	}
	if len(kinds) == 0 {
		return "none"
	}
	sort.Strings(kinds)
	return strings.Join(kinds, "+")
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// loadRuns reads every run named by args: a run directory, or a directory
// whose children are run directories (like runs/). Runs come back sorted by
// ID, each once.
func loadRuns(args []string) ([]*runData, error) {
	var out []*runData
	seen := map[string]bool{}
	add := func(dir string, r *results.Run) error {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		if seen[abs] {
			return nil
		}
		seen[abs] = true
		if r.ID == "" {
			r.ID = filepath.Base(abs)
		}
		ivs, err := results.ReadHlog(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %w", dir, err)
		}
		if len(ivs) == 0 && r.Command == "fuzz" && len(r.Faults) > 0 {
			// A fuzz run without a latency log: its fault timeline comes
			// from the recorded history.
			if ivs, err = historyIntervals(dir); err != nil {
				return fmt.Errorf("%s: %w", dir, err)
			}
		}
		out = append(out, &runData{Run: r, dir: abs, ivs: ivs})
		return nil
	}
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w in %s: no such directory", ErrNoRuns, arg)
			}
			return nil, err
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%s is not a run directory", arg)
		}
		r, err := results.ReadRun(arg)
		if err == nil {
			if err := add(arg, r); err != nil {
				return nil, err
			}
			continue
		}
		if !errors.Is(err, results.ErrNotRun) {
			return nil, err
		}
		entries, err := os.ReadDir(arg)
		if err != nil {
			return nil, err
		}
		found := 0
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			child := filepath.Join(arg, e.Name())
			r, err := results.ReadRun(child)
			if errors.Is(err, results.ErrNotRun) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if err := add(child, r); err != nil {
				return nil, err
			}
			found++
		}
		if found == 0 {
			return nil, fmt.Errorf("%w in %s (want a run directory with %s, or a directory of them such as runs/)", ErrNoRuns, arg, results.RunFile)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].dir < out[j].dir
	})
	return out, nil
}

// historyIntervals rebuilds latency intervals from dir/history.jsonl: the
// completed operations bucketed by return time, 100 ms per bucket (fuzz runs
// are short and their fault windows brief). No history gives no intervals.
func historyIntervals(dir string) ([]results.Interval, error) {
	events, err := results.ReadHistory(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	const bucket = 100 * time.Millisecond
	byBucket := map[int64]*hdr.Histogram{}
	var keys []int64
	for _, e := range events {
		if e.Outcome != results.OK {
			continue
		}
		k := e.Return / int64(bucket)
		h := byBucket[k]
		if h == nil {
			h = results.NewHistogram()
			byBucket[k] = h
			keys = append(keys, k)
		}
		v, _ := results.Clamp(e.Return - e.Call)
		h.RecordValue(v)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	ivs := make([]results.Interval, 0, len(keys))
	for _, k := range keys {
		start := time.Duration(k) * bucket
		ivs = append(ivs, results.Interval{Tag: "ALL", Start: start, End: start + bucket, Hist: byBucket[k]})
	}
	return ivs, nil
}

// config identifies the runs that are repetitions of one benchmark.
type config struct {
	store, workload string
	clients, window int
	rate            float64
}

// point is a config's position apart from store and workload.
type point struct {
	clients, window int
	rate            float64
}

func (c config) point() point { return point{c.clients, c.window, c.rate} }

// spread summarizes one number over repetitions.
type spread struct {
	mean, min, max float64
	n              int
}

func spreadOf(vs []float64) spread {
	if len(vs) == 0 {
		return spread{}
	}
	s := spread{min: vs[0], max: vs[0], n: len(vs)}
	for _, v := range vs {
		s.mean += v
		s.min, s.max = min(s.min, v), max(s.max, v)
	}
	s.mean /= float64(len(vs))
	return s
}

// opStats is one op type of a group.
type opStats struct {
	op             string // hlog tag, e.g. READ or READ.uncorrected
	count, errors  int64
	p50, p99, p999 float64 // µs, from merged histograms (or run.json, see fromSummary)
	p99s           spread  // p99 of each repetition
	// fromSummary: some run had no latency.hlog, so percentiles are the
	// worst over repetitions from run.json.
	fromSummary bool
}

// group is the repetitions of one benchmark configuration.
type group struct {
	config
	runs  []*runData // sorted by ID
	tput  spread     // ops/s
	ops   []opStats
	all   *hdr.Histogram // every corrected op of every repetition; nil without hlogs
	allP  spread         // p99 (µs) of every corrected op, per repetition
	dated bool           // every repetition has an hlog
}

// opOrder sorts op types YCSB's way, uncorrected beside corrected.
func opOrder(op string) string {
	base, unc := strings.CutSuffix(op, ".uncorrected")
	order := []string{"READ", "UPDATE", "INSERT", "SCAN", "READ-MODIFY-WRITE", "DELETE", "SWAP"}
	i := len(order)
	for j, o := range order {
		if o == base {
			i = j
		}
	}
	s := fmt.Sprintf("%02d %s", i, base)
	if unc {
		s += " 1"
	}
	return s
}

// mergeHist merges every interval tagged with a tag keep accepts.
func mergeHist(ivs []results.Interval, keep func(tag string) bool) *hdr.Histogram {
	h := results.NewHistogram()
	for _, iv := range ivs {
		if keep(iv.Tag) {
			h.Merge(iv.Hist)
		}
	}
	return h
}

func corrected(tag string) bool { return !strings.HasSuffix(tag, ".uncorrected") }

func us(ns int64) float64 { return float64(ns) / 1e3 }

// groupBench groups benchmark runs by config and computes their statistics.
func groupBench(runs []*runData) []*group {
	byKey := map[config]*group{}
	var groups []*group
	for _, r := range runs {
		if r.isFuzz() {
			continue
		}
		c := config{store: r.store(), workload: r.Workload, clients: r.Clients, window: r.Window, rate: r.Rate}
		g := byKey[c]
		if g == nil {
			g = &group{config: c}
			byKey[c] = g
			groups = append(groups, g)
		}
		g.runs = append(g.runs, r)
	}
	for _, g := range groups {
		g.compute()
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].less(groups[j]) })
	return groups
}

func (g *group) less(o *group) bool {
	a, b := g.config, o.config
	switch {
	case a.workload != b.workload:
		return workloadOrder(a.workload) < workloadOrder(b.workload)
	case a.store != b.store:
		return a.store < b.store
	case a.clients != b.clients:
		return a.clients < b.clients
	case a.window != b.window:
		return a.window < b.window
	}
	return a.rate < b.rate
}

// workloadOrder sorts YCSB letters first.
func workloadOrder(w string) string {
	if len(w) == 1 && w[0] >= 'a' && w[0] <= 'f' {
		return "0" + w
	}
	return "1" + w
}

// workloadName is a workload's display name: "A" for YCSB's a, else the
// property or input file's base name.
func workloadName(w string) string {
	if len(w) == 1 && w[0] >= 'a' && w[0] <= 'f' {
		return strings.ToUpper(w)
	}
	if w == "" {
		return "?"
	}
	return filepath.Base(w)
}

func (g *group) compute() {
	var tputs, p99s []float64
	g.dated = true
	for _, r := range g.runs {
		tputs = append(tputs, r.Overall.OpsPerSec)
		if len(r.ivs) == 0 {
			g.dated = false
		}
	}
	g.tput = spreadOf(tputs)
	if g.dated {
		g.all = results.NewHistogram()
		for _, r := range g.runs {
			h := mergeHist(r.ivs, corrected)
			p99s = append(p99s, us(h.ValueAtQuantile(99)))
			g.all.Merge(h)
		}
		g.allP = spreadOf(p99s)
	}

	// Op types: from run.json summaries and hlog tags.
	ops := map[string]*opStats{}
	get := func(op string) *opStats {
		if ops[op] == nil {
			ops[op] = &opStats{op: op}
		}
		return ops[op]
	}
	for _, r := range g.runs {
		for _, o := range r.Ops {
			s := get(o.Op)
			s.count += o.Count
			s.errors += o.Errors + o.Unknown
			if o.Uncorrected != nil {
				get(results.UncorrectedTag(o.Op))
			}
		}
		for _, iv := range r.ivs {
			get(iv.Tag)
		}
	}
	for op, s := range ops {
		var reps []float64
		if g.dated {
			h := results.NewHistogram()
			for _, r := range g.runs {
				hr := mergeHist(r.ivs, func(tag string) bool { return tag == op })
				if hr.TotalCount() > 0 {
					reps = append(reps, us(hr.ValueAtQuantile(99)))
				}
				h.Merge(hr)
			}
			if h.TotalCount() > 0 {
				s.p50, s.p99, s.p999 = us(h.ValueAtQuantile(50)), us(h.ValueAtQuantile(99)), us(h.ValueAtQuantile(99.9))
			}
		} else {
			s.fromSummary = true
			for _, r := range g.runs {
				for _, o := range r.Ops {
					l := &o.Latency
					if results.UncorrectedTag(o.Op) == op {
						l = o.Uncorrected
					} else if o.Op != op {
						continue
					}
					if l == nil {
						continue
					}
					reps = append(reps, l.P99)
					s.p50, s.p99, s.p999 = max(s.p50, l.P50), max(s.p99, l.P99), max(s.p999, l.P999)
				}
			}
		}
		s.p99s = spreadOf(reps)
		g.ops = append(g.ops, *s)
	}
	sort.Slice(g.ops, func(i, j int) bool { return opOrder(g.ops[i].op) < opOrder(g.ops[j].op) })
}

// slot is one second of a run's timeline.
type slot struct {
	end        float64 // seconds since the run's start
	opsPerSec  float64
	p99        float64 // µs
	count      int64
	start, len float64
}

// timeline buckets a run's corrected intervals by start time. Gaps (no
// operation completed, as during a crash) and the time after the last
// interval up to until (the run's length in seconds) become zero-throughput
// slots, so lines drop to zero instead of bridging the gap.
func timeline(ivs []results.Interval, until float64) []slot {
	type acc struct {
		start, end float64
		h          *hdr.Histogram
	}
	byStart := map[int64]*acc{}
	var keys []int64
	for _, iv := range ivs {
		if !corrected(iv.Tag) {
			continue
		}
		k := iv.Start.Milliseconds()
		a := byStart[k]
		if a == nil {
			a = &acc{start: iv.Start.Seconds(), h: results.NewHistogram()}
			byStart[k] = a
			keys = append(keys, k)
		}
		a.end = max(a.end, iv.End.Seconds())
		a.h.Merge(iv.Hist)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	var out []slot
	for _, k := range keys {
		a := byStart[k]
		s := slot{end: a.end, start: a.start, len: a.end - a.start, count: a.h.TotalCount()}
		if s.len > 0 {
			s.opsPerSec = float64(s.count) / s.len
		}
		if s.count > 0 {
			s.p99 = us(a.h.ValueAtQuantile(99))
		}
		out = fillGap(out, s.start)
		out = append(out, s)
	}
	return fillGap(out, until)
}

// fillGap appends empty slots, as long as the last one, up to time to.
func fillGap(out []slot, to float64) []slot {
	for len(out) > 0 {
		last := out[len(out)-1]
		if last.len <= 0 || to-last.end < last.len*0.99 {
			return out
		}
		out = append(out, slot{start: last.end, end: last.end + last.len, len: last.len})
	}
	return out
}

// fuzzRow is one row of the consistency matrix.
type fuzzRow struct {
	store, workload string
	cells           map[string][]*runData // fault -> runs, sorted by ID
}

func (r *fuzzRow) label() string {
	if r.workload == "" || r.workload == "fuzz" {
		return r.store
	}
	return r.store + " (YCSB " + workloadName(r.workload) + ")"
}

// faultOrder sorts the usual faults first.
func faultOrder(f string) string {
	for i, k := range []string{"none", "crash", "pause", "crash+pause"} {
		if f == k {
			return strconv.Itoa(i)
		}
	}
	return "9" + f
}

// groupFuzz builds the consistency matrix: rows and the faults (columns).
func groupFuzz(runs []*runData) ([]*fuzzRow, []string) {
	byKey := map[[2]string]*fuzzRow{}
	var rows []*fuzzRow
	var faults []string
	for _, r := range runs {
		if !r.isFuzz() {
			continue
		}
		k := [2]string{r.store(), r.Workload}
		row := byKey[k]
		if row == nil {
			row = &fuzzRow{store: k[0], workload: k[1], cells: map[string][]*runData{}}
			byKey[k] = row
			rows = append(rows, row)
		}
		f := r.fault()
		row.cells[f] = append(row.cells[f], r)
		if !contains(faults, f) {
			faults = append(faults, f)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].label() < rows[j].label() })
	sort.Slice(faults, func(i, j int) bool { return faultOrder(faults[i]) < faultOrder(faults[j]) })
	return rows, faults
}
