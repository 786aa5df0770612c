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
	return f.saved(rel, savePlot(p, abs, f.format))
}

func (f *figures) saveStack(ps []*plot.Plot, name string) (string, error) {
	abs, rel, err := f.path(name)
	if err != nil {
		return "", err
	}
	return f.saved(rel, saveStack(ps, abs, f.format, timelineH))
}

// saved forgets a figure that could not be written.
func (f *figures) saved(rel string, err error) (string, error) {
	if err != nil {
		f.files = f.files[:len(f.files)-1]
		return "", err
	}
	return rel, nil
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
// p99 latency (what "p99": from the merged histograms, one line per op
// type) against clients for one workload, a line per series, with min–max
// error bars over repetitions. The y axis is logarithmic when the values
// span more than logAxisRatio.
func (f *figures) versusClients(wl string, gs []*group, what string) (string, error) {
	title, ylabel, name := "Throughput vs clients", "ops/s", "throughput-vs-clients-"
	type line struct {
		label string
		store string
		dash  int
		xys   plotter.XYs
		bars  []spread
	}
	var lines []line
	keys, by, label := seriesOf(gs)
	var ticks plot.ConstantTicks
	addTick := func(g *group) {
		if x := float64(g.clients); !hasTick(ticks, x) {
			ticks = append(ticks, plot.Tick{Value: x, Label: strconv.Itoa(g.clients)})
		}
	}
	if what == "p99" {
		title, ylabel, name = "p99 latency vs clients", "p99 latency (µs)", "p99-vs-clients-"
		open := false
		for _, g := range gs {
			open = open || g.rate > 0
		}
		if open {
			ylabel = "p99 latency (µs, corrected)"
		}
		for i, k := range keys {
			var ops []string
			for _, g := range by[k] {
				for _, o := range g.ops {
					if corrected(o.op) && o.count > 0 && !contains(ops, o.op) {
						ops = append(ops, o.op)
					}
				}
			}
			sort.Slice(ops, func(a, b int) bool { return opOrder(ops[a]) < opOrder(ops[b]) })
			for j, op := range ops {
				l := line{label: label(k) + " " + op, store: k.store, dash: dashOf(keys, i) + j}
				for _, g := range by[k] {
					for _, o := range g.ops {
						if o.op == op && o.p99 > 0 {
							l.xys = append(l.xys, plotter.XY{X: float64(g.clients), Y: o.p99})
							l.bars = append(l.bars, o.p99s)
							addTick(g)
						}
					}
				}
				if len(l.xys) > 0 {
					lines = append(lines, l)
				}
			}
		}
	} else {
		for i, k := range keys {
			l := line{label: label(k), store: k.store, dash: dashOf(keys, i)}
			for _, g := range by[k] {
				if g.tput.n == 0 {
					continue
				}
				l.xys = append(l.xys, plotter.XY{X: float64(g.clients), Y: g.tput.mean})
				l.bars = append(l.bars, g.tput)
				addTick(g)
			}
			if len(l.xys) > 0 {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) == 0 {
		return "", nil
	}
	lo, hi := math.Inf(1), 0.0
	for _, l := range lines {
		for _, xy := range l.xys {
			if xy.Y > 0 {
				lo, hi = math.Min(lo, xy.Y), math.Max(hi, xy.Y)
			}
		}
	}
	logY := hi > 0 && hi/lo > logAxisRatio
	p := newPlot(fmt.Sprintf("%s, workload %s", title, workloadName(wl)), "clients", ylabel)
	bars := newErrorBars()
	for _, l := range lines {
		var xys plotter.XYs
		for i, xy := range l.xys {
			if logY && xy.Y <= 0 {
				continue
			}
			xys = append(xys, xy)
			bars.add(xy.X, l.bars[i])
		}
		if err := addLine(p, l.label, xys, storeColor(l.store), l.dash); err != nil {
			return "", err
		}
	}
	p.Add(bars)
	if len(ticks) <= 12 {
		p.X.Tick.Marker = ticks
	} else {
		p.X.Tick.Marker = plot.TickerFunc(integerTicks)
	}
	p.X.Min, p.X.Max = 0, p.X.Max*1.05
	if logY {
		logAxisFor(p, lo, hi, len(lines))
	} else {
		p.Y.Min = 0
		headroom(p)
	}
	return f.save(p, name+workloadName(wl))
}

// logAxisRatio: when a figure's values span more than this factor, a
// linear axis would flatten the small ones onto zero, so the axis turns
// logarithmic.
const logAxisRatio = 30

// logAxis makes p's y axis logarithmic over [lo, hi], from the decade below
// lo, with room above hi for the legend.
func logAxis(p *plot.Plot, lo, hi float64) { logAxisFor(p, lo, hi, 5) }

// logAxisFor is logAxis with room for a legend of entries lines.
func logAxisFor(p *plot.Plot, lo, hi float64, entries int) {
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.TickerFunc(logTicks)
	p.Y.Min = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Max(hi, p.Y.Min*10)
	// The legend takes about 5% of the height per line; the data keep the
	// rest.
	share := math.Min(0.6, math.Max(0.3, 0.05*float64(entries)))
	if entries == 0 {
		share = 0.05 // no legend: a little air above the data
	}
	p.Y.Max = hi * math.Pow(hi/p.Y.Min, share/(1-share))
	if !strings.HasSuffix(p.Y.Label.Text, "log scale") && !strings.Contains(p.Y.Label.Text, "log scale") {
		p.Y.Label.Text += " (log scale)"
	}
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
		bc.Color = storeColor(s)
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
const logBarsRatio = logAxisRatio

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
		sc.GlyphStyle = draw.GlyphStyle{Color: storeColor(s), Radius: vg.Points(4), Shape: draw.CircleGlyph{}}
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
	ylabel := "latency (µs, log scale)"
	if pt.rate > 0 {
		ylabel = "latency (µs, log scale; corrected: from the intended start)"
	}
	p := newPlot(fmt.Sprintf("Latency by percentile, workload %s, %s", workloadName(wl), pointTitle(pt)), "percentile", ylabel)
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
			if err := addLine(p, g.store+" "+op.op, xys, storeColor(g.store), i); err != nil {
				return "", err
			}
			lines++
		}
	}
	if lines == 0 {
		return "", nil
	}
	// Room for the legend: a third of the decades shown, above the data.
	// A run of one or two operations spans no range: give it a decade.
	p.X.Min, p.X.Max = 1, math.Max(p.X.Max, 10)
	p.Y.Min = math.Pow(10, math.Floor(math.Log10(p.Y.Min)))
	p.Y.Max = math.Max(p.Y.Max, p.Y.Min*10)
	p.Y.Max *= math.Pow(p.Y.Max/p.Y.Min, 0.35)
	p.Legend.Left, p.Legend.XOffs = true, legendInset
	return f.save(p, "spectrum-"+workloadName(wl)+"-"+pointName(pt))
}

// benchTimeline draws per-second throughput and p99 of one workload at one
// point, a line per store (its first repetition), faults shaded. A panel
// whose values span more than logAxisRatio gets a log axis.
func (f *figures) benchTimeline(wl string, pt point, gs []*group) (string, error) {
	var stores []string
	var series [][]slot
	for _, g := range gs {
		if g.workload != wl || g.point() != pt || len(g.runs[0].ivs) == 0 {
			continue
		}
		r := g.runs[0]
		stores = append(stores, g.store)
		series = append(series, timeline(r.ivs, r.Seconds))
	}
	if len(series) == 0 {
		return "", nil
	}
	tp := newPlot(fmt.Sprintf("Over time, workload %s, %s", workloadName(wl), pointTitle(pt)), "", "ops/s")
	ylabel := "p99 latency (µs)"
	if pt.rate > 0 {
		ylabel = "p99 latency (µs, corrected)"
	}
	lp := newPlot("", "seconds since start", ylabel)
	for _, g := range gs {
		if g.workload == wl && g.point() == pt && len(g.runs[0].ivs) > 0 {
			addFaults(tp, g.runs[0].Faults, false)
			addFaults(lp, g.runs[0].Faults, false)
		}
	}
	logT, logL := timelineLog(series)
	end := 0.0
	for i, slots := range series {
		e, err := f.addTimeline(tp, lp, stores[i], slots, logT, logL)
		if err != nil {
			return "", err
		}
		end = max(end, e)
	}
	finishTimeline(tp, lp, end, series, logT, logL)
	return f.saveStack([]*plot.Plot{tp, lp}, "timeline-"+workloadName(wl)+"-"+pointName(pt))
}

// timelineLog says which timeline panels need a log axis: those whose
// nonzero values span more than logAxisRatio.
func timelineLog(series [][]slot) (logT, logL bool) {
	tlo, thi, llo, lhi := rangeOf(series)
	return thi > 0 && thi/tlo > logAxisRatio, lhi > 0 && lhi/llo > logAxisRatio
}

// rangeOf returns the smallest and largest nonzero throughput and p99.
func rangeOf(series [][]slot) (tlo, thi, llo, lhi float64) {
	tlo, llo = math.Inf(1), math.Inf(1)
	for _, slots := range series {
		for _, s := range slots {
			if s.opsPerSec > 0 {
				tlo, thi = math.Min(tlo, s.opsPerSec), math.Max(thi, s.opsPerSec)
			}
			if s.count > 0 && s.p99 > 0 {
				llo, lhi = math.Min(llo, s.p99), math.Max(lhi, s.p99)
			}
		}
	}
	return
}

// addTimeline adds a store's per-second lines and returns the end of its
// last second. On a log throughput axis a second without operations breaks
// the line (zero has no place there); on a linear one it drops to zero.
func (f *figures) addTimeline(tp, lp *plot.Plot, store string, slots []slot, logT, logL bool) (float64, error) {
	var tputs, p99s []plotter.XYs // broken where a value has no place
	var tcur, lcur plotter.XYs
	end := 0.0
	for _, s := range slots {
		end = max(end, s.end)
		mid := s.start + s.len/2
		if s.opsPerSec > 0 || !logT {
			tcur = append(tcur, plotter.XY{X: mid, Y: s.opsPerSec})
		} else if len(tcur) > 0 {
			tputs, tcur = append(tputs, tcur), nil
		}
		if s.count > 0 && (s.p99 > 0 || !logL) {
			lcur = append(lcur, plotter.XY{X: mid, Y: s.p99})
		} else if len(lcur) > 0 {
			p99s, lcur = append(p99s, lcur), nil
		}
	}
	if len(tcur) > 0 {
		tputs = append(tputs, tcur)
	}
	if len(lcur) > 0 {
		p99s = append(p99s, lcur)
	}
	for i, seg := range tputs {
		label := ""
		if i == 0 {
			label = store
		}
		if err := addLine(tp, label, seg, storeColor(store), 0); err != nil {
			return 0, err
		}
	}
	for _, seg := range p99s {
		if err := addLine(lp, "", seg, storeColor(store), 0); err != nil {
			return 0, err
		}
	}
	return end, nil
}

// fuzzTimeline draws a fuzz run over time with its fault windows shaded:
// from its history as Jepsen draws one (fuzzEvents), else from its latency
// log as throughput and p99.
func (f *figures) fuzzTimeline(r *runData, title string) (string, error) {
	name := "fuzz-" + r.store() + "-" + r.cfg.Faults.KindsString()
	if r.Config == nil {
		name = "fuzz-" + r.store() + "-" + r.fault()
	}
	if r.Workload != "" && r.Workload != "fuzz" {
		name += "-" + workloadName(r.Workload)
	}
	if len(r.events) > 0 {
		return f.fuzzEvents(r, title, name)
	}
	if len(r.ivs) == 0 {
		return "", nil
	}
	tp := newPlot(title, "", "ops/s")
	lp := newPlot("", "seconds since start", "p99 latency (µs)")
	addFaults(tp, r.Faults, true)
	addFaults(lp, r.Faults, false)
	series := [][]slot{timeline(r.ivs, r.Seconds)}
	logT, logL := timelineLog(series)
	end, err := f.addTimeline(tp, lp, r.store(), series[0], logT, logL)
	if err != nil {
		return "", err
	}
	finishTimeline(tp, lp, end, series, logT, logL)
	return f.saveStack([]*plot.Plot{tp, lp}, name)
}

// finishTimeline puts both panels on a shared time axis from the run's
// start to its last interval, each y axis from zero (or, when log, from the
// decade below its smallest value), with room for the legend.
func finishTimeline(tp, lp *plot.Plot, end float64, series [][]slot, logT, logL bool) {
	end = max(end, tp.X.Max, lp.X.Max)
	for _, p := range []*plot.Plot{tp, lp} {
		p.X.Min, p.X.Max = 0, end
	}
	tlo, thi, llo, lhi := rangeOf(series)
	if logT {
		logAxisFor(tp, tlo, thi, len(series))
	} else {
		tp.Y.Min = 0
		headroom(tp)
	}
	if logL {
		logAxis(lp, llo, lhi)
	} else {
		lp.Y.Min = 0
		headroom(lp)
	}
}
