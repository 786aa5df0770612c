package report

import (
	"fmt"
	"image/color"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/kvbench/kvbench/results"
)

// The MadKV course's report figures (its sumgen/projN.py), drawn from the
// runs of the built-in scenarios madkv-p1 and madkv-p2 (tag scenario):
//
//   - stage 1: single-client throughput, average and p99 latency per YCSB
//     workload A-F; throughput against clients for A, C and E; average
//     latency per op type against clients for A, C and E;
//   - stage 2: the ten-client bars (throughput, average, p99) per workload,
//     one bar per partition count; throughput against clients on workload A.
//
// Latencies are kvbench's: timed at the client boundary (the request handed
// to the client until its reply was read) and merged losslessly (one
// HdrHistogram of every client's operations, over repetitions too), where the
// course's bencher averages the per-client averages and takes the largest
// per-client p99.

// courseFigW and courseFigH size a row of three panels, as the course's
// 9×3-inch figures.
const (
	courseFigW = 10 * vg.Inch
	courseFigH = 3.4 * vg.Inch
)

// courseWorkloads are YCSB's core workloads in the course's order.
var courseWorkloads = []string{"a", "b", "c", "d", "e", "f"}

// courseOpColor colours op types as the course's figures do.
var courseOpColor = map[string]color.Color{
	"INSERT": color.NRGBA{165, 42, 42, 255}, "UPDATE": color.NRGBA{255, 165, 0, 255},
	"READ": color.NRGBA{65, 105, 225, 255}, "SCAN": color.NRGBA{60, 179, 113, 255},
	"READ-MODIFY-WRITE": color.NRGBA{128, 0, 128, 255},
}

// courseStats is one configuration's figures: throughput (mean over
// repetitions), and latency in µs from the merged histogram of every
// client's measured operations.
type courseStats struct {
	tput, avg, p99 float64
	opAvg          map[string]float64 // per op type, merged likewise
}

// courseStatsOf computes g's figures; ok is false for runs without a
// latency.hlog (no histograms to merge).
func courseStatsOf(g *group) (courseStats, bool) {
	if !g.dated || g.all == nil || g.all.TotalCount() == 0 {
		return courseStats{}, false
	}
	s := courseStats{tput: g.tput.mean, avg: g.all.Mean() / 1e3, p99: us(g.all.ValueAtQuantile(99)), opAvg: map[string]float64{}}
	for _, o := range g.ops {
		if !corrected(o.op) {
			continue
		}
		h := results.NewHistogram()
		for _, r := range g.runs {
			h.Merge(mergeHist(r.ivs, func(tag string) bool { return tag == o.op }))
		}
		if h.TotalCount() > 0 {
			s.opAvg[o.op] = h.Mean() / 1e3
		}
	}
	return s, true
}

// courseGroups returns the benchmark groups of scenario, and their series
// labels (the store with its impl flags), sorted.
func (d *document) courseGroups(scenario string) ([]*group, []string) {
	var gs []*group
	var series []string
	for _, g := range d.bench {
		if len(g.runs) == 0 || g.runs[0].Tags["scenario"] != scenario || g.window != 1 || g.rate != 0 {
			continue
		}
		gs = append(gs, g)
		if !contains(series, g.store) {
			series = append(series, g.store)
		}
	}
	sort.Strings(series)
	return gs, series
}

// course writes the section with the course's figures, when the runs
// include madkv-p1 or madkv-p2 benchmarks.
func (d *document) course() error {
	p1, s1 := d.courseGroups("madkv-p1")
	p2, s2 := d.courseGroups("madkv-p2")
	if len(p1) == 0 && len(p2) == 0 {
		return nil
	}
	d.printf("## The MadKV course's figures\n\n")
	d.printf("The figures the course's report script draws, from the same configurations. " +
		"They differ from the course's in how latency is measured and merged: the course's bencher times " +
		"YCSB's print into a pipe in each client process, then reports the unweighted mean of the per-client " +
		"averages and the largest per-client p99; kvbench times each request's round trip at the client " +
		"boundary and merges every client's HdrHistogram (over repetitions too) before taking the average " +
		"and the p99, so a slow client weighs by its operations, not by one vote, and the p99 is the p99 of " +
		"all operations, not the worst client's. Throughput is the same ops/s of the measured phase " +
		"(the mean over repetitions).\n\n")
	if len(p1) > 0 {
		d.printf("### Stage 1 (madkv-p1)\n\n")
		rel, err := d.figs.courseBars("course-p1-single-client", "1 client", at(p1, 1), s1)
		d.drawn(rel, err, "Single-client throughput and latency per workload", "course-bars",
			"three panels per workload A–F: throughput (ops/s), average and p99 latency over every op type (µs); one bar per store.")
		rel, err = d.figs.courseTrend("course-p1-tput-trend", p1, s1, []string{"a", "c", "e"}, false)
		d.drawn(rel, err, "Throughput vs clients, workloads A, C, E", "course-tput", "")
		rel, err = d.figs.courseTrend("course-p1-lats-trend", p1, s1, []string{"a", "c", "e"}, true)
		d.drawn(rel, err, "Average latency per op type vs clients, workloads A, C, E", "course-lats",
			"one line per op type (colour) and store (dash): the average of the merged histogram of that op type.")
	}
	if len(p2) > 0 {
		d.printf("### Stage 2 (madkv-p2)\n\n")
		rel, err := d.figs.courseBars("course-p2-ten-clients", "10 clients", at(p2, 10), s2)
		d.drawn(rel, err, "Ten-client throughput and latency per workload, per partition count", "course-bars",
			"three panels per workload A–F: throughput (ops/s), average and p99 latency over every op type (µs); one bar per store.")
		rel, err = d.figs.courseTrend("course-p2-tput-trend", p2, s2, []string{"a"}, false)
		d.drawn(rel, err, "Throughput vs clients, workload A, per partition count", "course-tput", "")
	}
	return nil
}

// at returns the groups with n clients.
func at(gs []*group, n int) []*group {
	var out []*group
	for _, g := range gs {
		if g.clients == n {
			out = append(out, g)
		}
	}
	return out
}

// courseBars draws throughput, average and p99 latency per workload side by
// side, a bar per series.
func (f *figures) courseBars(name, label string, gs []*group, series []string) (string, error) {
	if len(gs) == 0 {
		return "", nil
	}
	var wls, names []string
	for _, w := range courseWorkloads {
		for _, g := range gs {
			if g.workload == w && !contains(wls, w) {
				wls = append(wls, w)
				names = append(names, workloadName(w))
			}
		}
	}
	if len(wls) == 0 {
		return "", fmt.Errorf("no YCSB core workload among %d configurations", len(gs))
	}
	metrics := []struct {
		title, y string
		v        func(courseStats) float64
	}{
		{"Throughput, " + label, "agg. throughput (ops/s)", func(s courseStats) float64 { return s.tput }},
		{"Avg latency, " + label, "avg latency, all ops (µs)", func(s courseStats) float64 { return s.avg }},
		{"P99 latency, " + label, "p99 latency, all ops (µs)", func(s courseStats) float64 { return s.p99 }},
	}
	var ps []*plot.Plot
	slot := (courseFigW/3 - 0.9*vg.Inch) / vg.Length(len(wls))
	width := slot * 0.8 / vg.Length(len(series))
	for _, m := range metrics {
		p := newPlot(m.title, "workload", m.y)
		for i, s := range series {
			vals := make(plotter.Values, len(wls))
			for j, w := range wls {
				for _, g := range gs {
					if g.store == s && g.workload == w {
						if st, ok := courseStatsOf(g); ok {
							vals[j] = m.v(st)
						}
					}
				}
			}
			bc, err := plotter.NewBarChart(vals, width)
			if err != nil {
				return "", err
			}
			bc.Color = storeColor(s)
			bc.LineStyle.Width = 0
			bc.Offset = width * (vg.Length(i) - vg.Length(len(series)-1)/2)
			p.Add(bc)
			if len(series) > 1 {
				p.Legend.Add(seriesLabel(series, s), bc)
			}
		}
		p.NominalX(names...)
		p.X.Min, p.X.Max = -0.5, float64(len(wls))-0.5
		p.Y.Min = 0
		headroom(p)
		ps = append(ps, p)
	}
	return f.saveRow(ps, name)
}

// courseTrend draws, per workload, throughput (or with lats, the average
// latency per op type) against clients, a line per series.
func (f *figures) courseTrend(name string, gs []*group, series, wls []string, lats bool) (string, error) {
	var ps []*plot.Plot
	for _, w := range wls {
		y := "agg. throughput (ops/s)"
		if lats {
			y = "avg latency (µs)"
		}
		p := newPlot("YCSB-"+w, "clients", y)
		p.X.Tick.Marker = plot.TickerFunc(integerTicks)
		drawn := false
		for si, s := range series {
			var pts []*group
			for _, g := range gs {
				if g.store == s && g.workload == w {
					pts = append(pts, g)
				}
			}
			if len(pts) < 2 {
				continue
			}
			sort.Slice(pts, func(i, j int) bool { return pts[i].clients < pts[j].clients })
			lines := map[string]plotter.XYs{}
			var ops []string
			for _, g := range pts {
				st, ok := courseStatsOf(g)
				if !ok {
					continue
				}
				if !lats {
					lines[""] = append(lines[""], plotter.XY{X: float64(g.clients), Y: st.tput})
					continue
				}
				for op, v := range st.opAvg {
					if lines[op] == nil {
						ops = append(ops, op)
					}
					lines[op] = append(lines[op], plotter.XY{X: float64(g.clients), Y: v})
				}
			}
			if !lats {
				if len(lines[""]) > 0 {
					label := ""
					if len(series) > 1 {
						label = seriesLabel(series, s)
					}
					if err := addLine(p, label, lines[""], storeColor(s), si); err != nil {
						return "", err
					}
					drawn = true
				}
				continue
			}
			sort.Slice(ops, func(i, j int) bool { return opOrder(ops[i]) < opOrder(ops[j]) })
			for _, op := range ops {
				c, ok := courseOpColor[op]
				if !ok {
					c = storeColor(op)
				}
				label := op
				if len(series) > 1 {
					label = op + ", " + seriesLabel(series, s)
				}
				if err := addLine(p, label, lines[op], c, si); err != nil {
					return "", err
				}
				drawn = true
			}
		}
		if !drawn {
			continue
		}
		p.Y.Min = 0
		headroom(p)
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return "", nil
	}
	return f.saveRow(ps, name)
}

// saveRow renders plots side by side with aligned axes.
func (f *figures) saveRow(ps []*plot.Plot, name string) (string, error) {
	abs, rel, err := f.path(name)
	if err != nil {
		return "", err
	}
	w := courseFigW * vg.Length(len(ps)) / 3
	if len(ps) == 1 {
		w = courseFigW / 2
	}
	return f.saved(rel, render(abs, f.format, w, courseFigH, func(dc draw.Canvas) {
		row := [][]*plot.Plot{ps}
		tiles := draw.Tiles{Rows: 1, Cols: len(ps), PadX: 4 * vg.Millimeter, PadTop: vg.Millimeter,
			PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: 2 * vg.Millimeter}
		cs := plot.Align(row, tiles, dc)
		for i, p := range ps {
			p.Draw(cs[0][i])
		}
	}))
}

// seriesLabel shortens a series label for a legend: when every series is
// the same store with other impl flags ("madkv --partitions 1", "madkv
// --partitions 3"), the store's name goes.
func seriesLabel(series []string, s string) string {
	first, rest, ok := strings.Cut(s, " ")
	if !ok {
		return s
	}
	for _, o := range series {
		if f, _, _ := strings.Cut(o, " "); f != first {
			return s
		}
	}
	return rest
}
