package report

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kvbench/kvbench/results"
)

// config identifies the runs that are repetitions of one benchmark: their
// typed configurations are equal but for the seed (key). The other fields
// are what the report shows of it.
type config struct {
	key string
	// base is the store with its impl flags; store adds, in brackets, what
	// else sets this configuration apart from others of the same store and
	// workload (a duration, a property, a kvbench version), so that no two
	// different benchmarks share a label.
	base, store     string
	workload        string
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

// wide reports whether the repetitions differ by more than wideSpread of
// their mean.
func (s spread) wide() bool {
	return s.n > 1 && s.mean > 0 && (s.max-s.min)/s.mean > wideSpread
}

// wideSpread: repetitions whose range exceeds this share of their mean are
// flagged; the mean then describes the machine's noise as much as the store.
const wideSpread = 0.1

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

// group is the repetitions of one configuration.
type group struct {
	config
	id    int            // C<id> in the configurations table
	cfg   results.Config // the first run's, seed aside
	runs  []*runData     // sorted by ID
	tput  spread         // ops/s
	ops   []opStats
	all   *hdr.Histogram // every corrected op of every repetition; nil without hlogs
	allP  spread         // p99 (µs) of every corrected op, per repetition
	dated bool           // every repetition has an hlog
	fault string         // fuzz: the faults' column in the consistency matrix
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

// groupRuns groups the runs that fuzz selects (fuzz runs, or benchmark
// runs) and are not excluded by configuration key, labels them apart
// (assignVariants) and sorts them.
func groupRuns(runs []*runData, fuzz bool) []*group {
	byKey := map[string]*group{}
	var groups []*group
	for _, r := range runs {
		if r.isFuzz() != fuzz || r.excluded() != "" {
			continue
		}
		k := r.cfg.Key()
		g := byKey[k]
		if g == nil {
			cfg := r.cfg
			cfg.Seed = 0
			g = &group{cfg: cfg, config: config{key: k, base: r.store(), workload: cfg.Workload,
				clients: r.Clients, window: r.Window, rate: r.Rate}}
			if fuzz {
				g.fault = r.fault()
			}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.runs = append(g.runs, r)
	}
	assignVariants(groups)
	for _, g := range groups {
		if !fuzz {
			g.compute()
		}
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].less(groups[j]) })
	return groups
}

// groupBench groups benchmark runs by configuration and computes their
// statistics.
func groupBench(runs []*runData) []*group { return groupRuns(runs, false) }

// variantFields lists what a configuration sets beyond store, workload,
// clients, window, rate, seed and fault kinds, as "name=value" texts.
func variantFields(c results.Config) []string {
	var out []string
	add := func(s string) { out = append(out, s) }
	if l := c.Length(); l != "" {
		add(l)
	}
	if c.RecordCount > 0 {
		add(fmt.Sprintf("%d records", c.RecordCount))
	}
	if c.ValueSize > 0 {
		add(fmt.Sprintf("%d-byte values", c.ValueSize))
	}
	if c.KeyDistribution != "" {
		add(c.KeyDistribution)
	}
	var props []string
	for k, v := range c.Properties {
		switch k {
		case "recordcount", "requestdistribution":
			continue
		case "operationcount":
			if c.Ops > 0 || c.Duration > 0 {
				continue
			}
		}
		props = append(props, k+"="+v)
	}
	sort.Strings(props)
	out = append(out, props...)
	if c.Input != "" {
		add("-i " + filepath.Base(c.Input))
	}
	if c.Solution != "" {
		add("-c " + filepath.Base(c.Solution))
	}
	for _, sc := range c.Serve {
		add("--serve " + sc)
	}
	if c.Check {
		add("--check")
	}
	if c.Command == "fuzz" {
		add(fmt.Sprintf("%d clients", c.Clients))
	}
	if c.Kvbench != "" {
		add("kvbench " + c.Kvbench)
	}
	return out
}

// assignVariants sets each group's store label: its base, plus the
// configuration fields in which it differs from another group of the same
// base and workload (at most three, then "…").
func assignVariants(groups []*group) {
	type bw struct{ base, workload string }
	fields := map[*group][]string{}
	peers := map[bw][]*group{}
	for _, g := range groups {
		fields[g] = variantFields(g.cfg)
		k := bw{g.base, g.workload}
		peers[k] = append(peers[k], g)
	}
	for _, g := range groups {
		g.store = g.base
		ps := peers[bw{g.base, g.workload}]
		var diff []string
		for _, f := range fields[g] {
			for _, p := range ps {
				if !contains(fields[p], f) {
					diff = append(diff, f)
					break
				}
			}
		}
		if len(diff) == 0 {
			// Another group may have a field this one lacks (a property
			// it does not set): say which one this is by what it lacks.
			for _, p := range ps {
				for _, f := range fields[p] {
					if !contains(fields[g], f) && !contains(diff, "no "+f) {
						diff = append(diff, "no "+f)
					}
				}
			}
		}
		if len(diff) > 3 {
			diff = append(diff[:3], "…")
		}
		if len(diff) > 0 {
			g.store += " [" + strings.Join(diff, ", ") + "]"
		}
	}
}

func (g *group) less(o *group) bool {
	a, b := g.config, o.config
	switch {
	case a.workload != b.workload:
		return workloadOrder(a.workload) < workloadOrder(b.workload)
	case a.store != b.store:
		return a.store < b.store
	case g.fault != o.fault:
		return faultOrder(g.fault) < faultOrder(o.fault)
	case a.clients != b.clients:
		return a.clients < b.clients
	case a.window != b.window:
		return a.window < b.window
	case a.rate != b.rate:
		return a.rate < b.rate
	}
	return a.key < b.key
}

// workloadOrder sorts YCSB letters first.
func workloadOrder(w string) string {
	if len(w) == 1 && w[0] >= 'a' && w[0] <= 'f' {
		return "0" + w
	}
	return "1" + w
}

// workloadName is a workload's display name: "A" for YCSB's a (and for
// -P workloada), else the property or input file's base name.
func workloadName(w string) string {
	w = canonicalWorkload(w)
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
			if o.Uncorrected != nil || g.rate > 0 {
				// The uncorrected latencies are of the same operations.
				get(results.UncorrectedTag(o.Op)).count += o.Count
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

// slot is one interval of a run's timeline.
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
// slots, so lines drop to zero instead of bridging the gap. A last interval
// shorter than half the others (the run ended inside it) is dropped: its
// few operations over a few milliseconds would plot as a rate the store
// never sustained.
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
	if n := len(out); n > 1 {
		lens := make([]float64, 0, n-1)
		for _, s := range out[:n-1] {
			lens = append(lens, s.len)
		}
		sort.Float64s(lens)
		if out[n-1].len < lens[len(lens)/2]/2 {
			out = out[:n-1]
			until = min(until, out[n-2].end)
		}
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

// fuzzRow is one row of the consistency matrix: a store (with its impl
// flags and what else sets its configuration apart) on one workload.
type fuzzRow struct {
	store, workload string
	cells           map[string]*group // fault -> the repetitions
}

func (r *fuzzRow) label() string {
	if r.workload == "" || r.workload == "fuzz" {
		return r.store
	}
	return r.store + " (YCSB " + workloadName(r.workload) + ")"
}

// faultOrder sorts the usual faults first.
func faultOrder(f string) string {
	kinds, _, _ := strings.Cut(f, " ")
	for i, k := range []string{"none", "crash", "pause", "crash+pause"} {
		if kinds == k {
			return strconv.Itoa(i) + f
		}
	}
	return "9" + f
}

// groupFuzz builds the consistency matrix: rows, the faults (columns), and
// the groups (one per cell).
func groupFuzz(runs []*runData) ([]*fuzzRow, []string, []*group) {
	groups := groupRuns(runs, true)
	byKey := map[[2]string]*fuzzRow{}
	var rows []*fuzzRow
	var faults []string
	for _, g := range groups {
		k := [2]string{g.store, g.workload}
		row := byKey[k]
		// Two configurations with one label (their differences cut
		// short by "…") and the same faults get rows of their own.
		for n := 2; row != nil && row.cells[g.fault] != nil; n++ {
			k[0] = fmt.Sprintf("%s #%d", g.store, n)
			row = byKey[k]
		}
		if row == nil {
			row = &fuzzRow{store: k[0], workload: k[1], cells: map[string]*group{}}
			byKey[k] = row
			rows = append(rows, row)
		}
		row.cells[g.fault] = g
		if !contains(faults, g.fault) {
			faults = append(faults, g.fault)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].label() < rows[j].label() })
	sort.Slice(faults, func(i, j int) bool { return faultOrder(faults[i]) < faultOrder(faults[j]) })
	return rows, faults, groups
}
