package report

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/kvbench/kvbench/results"
)

// figures writes figure files into one directory and returns the links the
// markdown uses (relative to the report).
type figures struct {
	dir, rel string // the folder, and its path relative to the report's folder
	format   string
	pal      palette
	files    []string // written, relative to the report's folder
}

func (f *figures) path(name string) (abs, rel string, err error) {
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return "", "", err
	}
	name = safeName(name) + "." + f.format
	rel = f.rel + "/" + name
	f.files = append(f.files, rel)
	return filepath.Join(f.dir, name), rel, nil
}

func (f *figures) save(p *plot.Plot, name string) (string, error) {
	abs, rel, err := f.path(name)
	if err != nil {
		return "", err
	}
	return rel, savePlot(p, abs, f.format)
}

func (f *figures) saveStack(ps []*plot.Plot, name string) (string, error) {
	abs, rel, err := f.path(name)
	if err != nil {
		return "", err
	}
	return rel, saveStack(ps, abs, f.format, timelineH)
}

// safeName keeps [a-z0-9.-] and turns everything else into '-'.
func safeName(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}

// pointName is a point's file-name part, e.g. "c4-w1".
func pointName(p point) string {
	s := fmt.Sprintf("c%d-w%d", p.clients, p.window)
	if p.rate > 0 {
		s += fmt.Sprintf("-r%g", p.rate)
	}
	return s
}

// pointTitle describes a point in a title, e.g. "4 clients, window 1".
func pointTitle(p point) string {
	s := fmt.Sprintf("%d client", p.clients)
	if p.clients != 1 {
		s += "s"
	}
	s += fmt.Sprintf(", window %d", p.window)
	if p.rate > 0 {
		s += fmt.Sprintf(", %g ops/s offered", p.rate)
	}
	return s
}

// seriesKey is one line of a figure over clients: a store at one window and rate.
type seriesKey struct {
	store  string
	window int
	rate   float64
}

// seriesOf splits groups into lines by store, window and rate, labelled with
// the window and rate only when they vary.
func seriesOf(gs []*group) ([]seriesKey, map[seriesKey][]*group, func(seriesKey) string) {
	by := map[seriesKey][]*group{}
	var keys []seriesKey
	windows, rates := map[int]bool{}, map[float64]bool{}
	for _, g := range gs {
		k := seriesKey{g.store, g.window, g.rate}
		if by[k] == nil {
			keys = append(keys, k)
		}
		by[k] = append(by[k], g)
		windows[g.window], rates[g.rate] = true, true
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.store != b.store {
			return a.store < b.store
		}
		if a.window != b.window {
			return a.window < b.window
		}
		return a.rate < b.rate
	})
	for _, k := range keys {
		sort.Slice(by[k], func(i, j int) bool { return by[k][i].clients < by[k][j].clients })
	}
	label := func(k seriesKey) string {
		s := k.store
		if len(windows) > 1 {
			s += fmt.Sprintf(" w=%d", k.window)
		}
		if len(rates) > 1 && k.rate > 0 {
			s += fmt.Sprintf(" @%g/s", k.rate)
		}
		return s
	}
	return keys, by, label
}

// versusClients draws throughput (what "ops": the mean over repetitions) or
// p99 latency (what "p99": from the merged histograms) against clients for
// one workload, a line per series, with min–max error bars over repetitions.
func (f *figures) versusClients(wl string, gs []*group, what string) (string, error) {
	title, ylabel, name := "Throughput vs clients", "ops/s", "throughput-vs-clients-"
	y := func(g *group) (float64, spread) { return g.tput.mean, g.tput }
	if what == "p99" {
		title, ylabel, name = "p99 latency vs clients", "p99 latency (µs)", "p99-vs-clients-"
		y = func(g *group) (float64, spread) {
			if g.all == nil {
				return 0, spread{}
			}
			return us(g.all.ValueAtQuantile(99)), g.allP
		}
	}
	p := newPlot(fmt.Sprintf("%s, workload %s", title, workloadName(wl)), "clients", ylabel)
	keys, by, label := seriesOf(gs)
	bars := newErrorBars()
	var ticks plot.ConstantTicks
	lines := 0
	for i, k := range keys {
		var xys plotter.XYs
		for _, g := range by[k] {
			v, s := y(g)
			if s.n == 0 {
				continue
			}
			x := float64(g.clients)
			xys = append(xys, plotter.XY{X: x, Y: v})
			bars.add(x, s)
			if !hasTick(ticks, x) {
				ticks = append(ticks, plot.Tick{Value: x, Label: strconv.Itoa(g.clients)})
			}
		}
		if len(xys) == 0 {
			continue
		}
		if err := addLine(p, label(k), xys, f.pal.color(k.store), dashOf(keys, i)); err != nil {
			return "", err
		}
		lines++
	}
	if lines == 0 {
		return "", nil
	}
	p.Add(bars)
	if len(ticks) <= 12 {
		p.X.Tick.Marker = ticks
	} else {
		p.X.Tick.Marker = plot.TickerFunc(integerTicks)
	}
	p.X.Min, p.X.Max = 0, p.X.Max*1.05
	p.Y.Min = 0
	headroom(p)
	return f.save(p, name+workloadName(wl))
}

func hasTick(ts []plot.Tick, v float64) bool {
	for _, t := range ts {
		if t.Value == v {
			return true
		}
	}
	return false
}

// dashOf dashes the second and later lines of the same store (other windows).
func dashOf(keys []seriesKey, i int) int {
	d := 0
	for j := 0; j < i; j++ {
		if keys[j].store == keys[i].store {
			d++
		}
	}
	return d
}

// barsByWorkload compares stores per workload at one point, with min–max
// error bars over repetitions.
func (f *figures) barsByWorkload(pt point, gs []*group, workloads, stores []string) (string, error) {
	if lo, hi := meanRange(pt, gs); lo > 0 && hi/lo > logBarsRatio {
		return f.dotsByWorkload(pt, gs, workloads, stores, lo, hi)
	}
	p := newPlot("Throughput per YCSB workload, "+pointTitle(pt), "workload", "ops/s")
	var names []string
	for _, w := range workloads {
		names = append(names, workloadName(w))
	}
	slot := (figW - 1.2*vg.Inch) / vg.Length(len(workloads))
	width := slot * 0.8 / vg.Length(len(stores))
	for i, s := range stores {
		vals := make(plotter.Values, len(workloads))
		bars := newErrorBars()
		for j, w := range workloads {
			for _, g := range gs {
				if g.store == s && g.workload == w && g.point() == pt {
					vals[j] = g.tput.mean
					bars.add(float64(j), g.tput)
				}
			}
		}
		bc, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return "", err
		}
		bc.Color = f.pal.color(s)
		bc.LineStyle.Width = 0
		bc.Offset = width * (vg.Length(i) - vg.Length(len(stores)-1)/2)
		bars.offset = bc.Offset
		p.Add(bc, bars)
		p.Legend.Add(s, bc)
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(workloads))-0.5
	p.Y.Min = 0
	headroom(p)
	return f.save(p, "throughput-by-workload-"+pointName(pt))
}

// logBarsRatio: when the fastest and slowest store differ by more than this,
// linear bars would flatten the slow ones to nothing, so the comparison is
// drawn as dots on a log axis instead.
const logBarsRatio = 30

// meanRange returns the smallest and largest nonzero mean throughput at pt.
func meanRange(pt point, gs []*group) (lo, hi float64) {
	for _, g := range gs {
		if g.point() != pt || g.tput.mean <= 0 {
			continue
		}
		if lo == 0 || g.tput.mean < lo {
			lo = g.tput.mean
		}
		hi = math.Max(hi, g.tput.mean)
	}
	return lo, hi
}

// dotsByWorkload is barsByWorkload on a log axis: a dot per store and
// workload, side by side within the workload's slot, with the same error bars.
func (f *figures) dotsByWorkload(pt point, gs []*group, workloads, stores []string, lo, hi float64) (string, error) {
	p := newPlot("Throughput per YCSB workload, "+pointTitle(pt), "workload", "ops/s (log scale)")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.TickerFunc(logTicks)
	var names []string
	for _, w := range workloads {
		names = append(names, workloadName(w))
	}
	for i, s := range stores {
		shift := 0.8 * (float64(i) - float64(len(stores)-1)/2) / float64(len(stores))
		var xys plotter.XYs
		bars := newErrorBars()
		for j, w := range workloads {
			for _, g := range gs {
				if g.store == s && g.workload == w && g.point() == pt && g.tput.mean > 0 {
					xys = append(xys, plotter.XY{X: float64(j) + shift, Y: g.tput.mean})
					bars.add(float64(j)+shift, g.tput)
				}
			}
		}
		if len(xys) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return "", err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: f.pal.color(s), Radius: vg.Points(4), Shape: draw.CircleGlyph{}}
		p.Add(sc, bars)
		p.Legend.Add(s, sc)
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(workloads))-0.5
	p.Y.Min = math.Pow(10, math.Floor(math.Log10(lo/1.5)))
	p.Y.Max = hi * 8 // room for the legend above the data
	return f.save(p, "throughput-by-workload-"+pointName(pt))
}

// spectrum draws the latency percentile spectrum of one workload at one
// point: a line per store and op type, from histograms merged over
// repetitions; x = 1/(1-q) on a log scale.
func (f *figures) spectrum(wl string, pt point, gs []*group) (string, error) {
	p := newPlot(fmt.Sprintf("Latency by percentile, workload %s, %s", workloadName(wl), pointTitle(pt)), "percentile", "latency (µs, log scale)")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.TickerFunc(quantileTicks)
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.TickerFunc(logTicks)
	lines := 0
	for _, g := range gs {
		if g.workload != wl || g.point() != pt || !g.dated {
			continue
		}
		for i, op := range g.ops {
			if !corrected(op.op) {
				continue
			}
			h := results.NewHistogram()
			for _, r := range g.runs {
				h.Merge(mergeHist(r.ivs, func(tag string) bool { return tag == op.op }))
			}
			n := h.TotalCount()
			if n == 0 {
				continue
			}
			var xys plotter.XYs
			top := math.Log10(float64(n))
			for e := 0.0; e <= top+1e-9; e += 0.1 {
				x := math.Pow(10, e)
				xys = append(xys, plotter.XY{X: x, Y: us(h.ValueAtQuantile(100 - 100/x))})
			}
			xys = append(xys, plotter.XY{X: float64(n), Y: us(h.Max())})
			if err := addLine(p, g.store+" "+op.op, xys, f.pal.color(g.store), i); err != nil {
				return "", err
			}
			lines++
		}
	}
	if lines == 0 {
		return "", nil
	}
	// Room for the legend: a third of the decades shown, above the data.
	p.Y.Min = math.Pow(10, math.Floor(math.Log10(p.Y.Min)))
	p.Y.Max *= math.Pow(p.Y.Max/p.Y.Min, 0.35)
	p.Legend.Left, p.Legend.XOffs = true, legendInset
	return f.save(p, "spectrum-"+workloadName(wl)+"-"+pointName(pt))
}

// benchTimeline draws per-second throughput and p99 of one workload at one
// point, a line per store (its first repetition), faults shaded.
func (f *figures) benchTimeline(wl string, pt point, gs []*group) (string, error) {
	tp := newPlot(fmt.Sprintf("Over time, workload %s, %s", workloadName(wl), pointTitle(pt)), "", "ops/s")
	lp := newPlot("", "seconds since start", "p99 latency (µs)")
	lines, end := 0, 0.0
	for _, g := range gs {
		if g.workload != wl || g.point() != pt || len(g.runs[0].ivs) == 0 {
			continue
		}
		r := g.runs[0]
		addFaults(tp, r.Faults, false)
		addFaults(lp, r.Faults, false)
		e, err := f.addTimeline(tp, lp, g.store, timeline(r.ivs, r.Seconds))
		if err != nil {
			return "", err
		}
		end = max(end, e)
		lines++
	}
	if lines == 0 {
		return "", nil
	}
	finishTimeline(tp, lp, end)
	return f.saveStack([]*plot.Plot{tp, lp}, "timeline-"+workloadName(wl)+"-"+pointName(pt))
}

// addTimeline adds a store's per-second lines and returns the end of its
// last second.
func (f *figures) addTimeline(tp, lp *plot.Plot, store string, slots []slot) (float64, error) {
	var tput plotter.XYs
	var p99s []plotter.XYs // p99 has no value in an empty slot: the line breaks there
	var cur plotter.XYs
	end := 0.0
	for _, s := range slots {
		end = max(end, s.end)
		mid := s.start + s.len/2
		tput = append(tput, plotter.XY{X: mid, Y: s.opsPerSec})
		if s.count > 0 {
			cur = append(cur, plotter.XY{X: mid, Y: s.p99})
		} else if len(cur) > 0 {
			p99s, cur = append(p99s, cur), nil
		}
	}
	if len(cur) > 0 {
		p99s = append(p99s, cur)
	}
	if err := addLine(tp, store, tput, f.pal.color(store), 0); err != nil {
		return 0, err
	}
	for _, seg := range p99s {
		if err := addLine(lp, "", seg, f.pal.color(store), 0); err != nil {
			return 0, err
		}
	}
	return end, nil
}

// fuzzTimeline draws a fuzz run's throughput and p99 over time with its
// fault windows shaded.
func (f *figures) fuzzTimeline(r *runData, title string) (string, error) {
	if len(r.ivs) == 0 {
		return "", nil
	}
	tp := newPlot(title, "", "ops/s")
	lp := newPlot("", "seconds since start", "p99 latency (µs)")
	addFaults(tp, r.Faults, true)
	addFaults(lp, r.Faults, false)
	end, err := f.addTimeline(tp, lp, r.store(), timeline(r.ivs, r.Seconds))
	if err != nil {
		return "", err
	}
	finishTimeline(tp, lp, end)
	name := "fuzz-" + r.store() + "-" + r.fault()
	if r.Workload != "" && r.Workload != "fuzz" {
		name += "-" + workloadName(r.Workload)
	}
	return f.saveStack([]*plot.Plot{tp, lp}, name)
}

// finishTimeline starts both panels at zero, on a shared time axis from the
// run's start to its last interval, with room for the legend.
func finishTimeline(tp, lp *plot.Plot, end float64) {
	end = max(end, tp.X.Max, lp.X.Max)
	for _, p := range []*plot.Plot{tp, lp} {
		p.X.Min, p.X.Max = 0, end
		p.Y.Min = 0
	}
	headroom(tp)
	headroom(lp)
}
