package report

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kvbench/kvbench/results"
)

// drawn embeds a figure, or notes why it could not be drawn; a figure that
// fails never costs the rest of the report.
func (d *document) drawn(rel string, err error, alt, kind, help string) {
	if err != nil {
		d.figureFailed(alt, err)
		return
	}
	d.figure(rel, alt, kind, help)
}

// comparison draws the stores side by side per workload at the selected points.
func (d *document) comparison() error {
	if len(d.bench) == 0 {
		return nil
	}
	d.printf("## Throughput per workload\n\n")
	for _, pt := range d.selected {
		var gs []*group
		for _, g := range d.bench {
			if g.point() == pt {
				gs = append(gs, g)
			}
		}
		var wls, stores []string
		for _, g := range gs {
			if !contains(wls, g.workload) {
				wls = append(wls, g.workload)
			}
			if !contains(stores, g.store) {
				stores = append(stores, g.store)
			}
		}
		sort.Strings(stores)
		rel, err := d.figs.barsByWorkload(pt, gs, wls, stores)
		d.drawn(rel, err, "Throughput per workload, "+pointTitle(pt), "bars",
			"one group per YCSB workload, one bar per store (a dot on a log axis when the stores differ "+
				"by more than 30×, so the slower ones stay visible); higher is faster. "+
				"Error bars span the slowest and fastest repetition.")
	}
	return nil
}

// scaling draws throughput and p99 against clients for workloads that ran
// with more than one client count.
func (d *document) scaling() error {
	started := false
	for _, wl := range d.workloads {
		var gs []*group
		clients := map[int]bool{}
		for _, g := range d.bench {
			if g.workload == wl {
				gs = append(gs, g)
				clients[g.clients] = true
			}
		}
		if len(clients) < 2 {
			continue
		}
		if !started {
			d.printf("## Scaling with clients\n\n")
			started = true
		}
		d.printf("### Workload %s\n\n", md(workloadName(wl)))
		rel, err := d.figs.versusClients(wl, gs, "ops")
		d.drawn(rel, err, "Throughput vs clients, workload "+workloadName(wl), "tput",
			"one line per store; a line that flattens marks the store's saturation point. "+
				"Error bars span the repetitions. The axis turns logarithmic when the values span more than 30×.")
		rel, err = d.figs.versusClients(wl, gs, "p99")
		d.drawn(rel, err, "p99 latency vs clients, workload "+workloadName(wl), "p99",
			"the 99th percentile of each op type (one line per store and op type; "+
				"corrected for coordinated omission in open-loop runs); it rises once clients queue for the store.")
	}
	return nil
}

func (d *document) workloadSections() error {
	hasRate := false
	for _, g := range d.bench {
		hasRate = hasRate || g.rate > 0
	}
	for _, wl := range d.workloads {
		d.printf("## Workload %s\n\n", md(workloadName(wl)))
		cols := []string{">config", "store", ">clients", ">window"}
		if hasRate {
			cols = append(cols, ">rate")
		}
		cols = append(cols, ">runs", ">ops/s", "op", ">count", ">errors", ">p50 µs", ">p99 µs", ">p99.9 µs")
		t := newTable(cols...)
		var pts []point
		for _, g := range d.bench {
			if g.workload != wl {
				continue
			}
			if contains2(d.selected, g.point()) && !contains2(pts, g.point()) {
				pts = append(pts, g.point())
			}
			lead := []string{fmt.Sprintf("C%d", g.id), md(g.store), strconv.Itoa(g.clients), strconv.Itoa(g.window)}
			if hasRate {
				rate := "closed"
				if g.rate > 0 {
					rate = num(g.rate)
				}
				lead = append(lead, rate)
			}
			lead = append(lead, strconv.Itoa(len(g.runs))+overloaded(g.runs), withSpread(g.tput.mean, g.tput))
			blank := make([]string, len(lead))
			if len(g.ops) == 0 {
				t.add(append(lead, "–", "0", "0", "–", "–", "–")...)
			}
			for i, o := range g.ops {
				row := lead
				if i > 0 {
					row = blank
				}
				mark := ""
				if o.fromSummary {
					mark, d.footnote = " †", true
				}
				op := md(o.op)
				if base, ok := strings.CutSuffix(o.op, ".uncorrected"); ok {
					op = md(base) + " (uncorrected)"
				}
				p50, p99, p999 := num(o.p50)+mark, withSpread(o.p99, o.p99s)+mark, num(o.p999)+mark
				if o.count == 0 {
					p50, p99, p999 = "–", "–", "–" // nothing succeeded: no latency measured
				}
				t.add(append(append([]string{}, row...), op, groupDigits(o.count), groupDigits(o.errors), p50, p99, p999)...)
			}
		}
		t.write(&d.b)
		if len(pts) == 0 { // the workload ran at none of the selected points
			for _, g := range d.bench {
				if g.workload == wl {
					pts = append(pts, g.point())
					break
				}
			}
		}
		sortPoints(pts)
		for _, pt := range pts {
			rel, err := d.figs.spectrum(wl, pt, d.bench)
			d.drawn(rel, err, fmt.Sprintf("Latency by percentile, workload %s, %s", workloadName(wl), pointTitle(pt)), "spectrum",
				"x is the percentile on a log scale of 1/(1−q): 90%, 99%, 99.9% are evenly spaced, so the tail gets "+
					"as much room as the median. A line that stays flat has a tight tail; a late rise shows rare slow operations.")
			rel, err = d.figs.benchTimeline(wl, pt, d.bench)
			d.drawn(rel, err, fmt.Sprintf("Throughput and p99 over time, workload %s, %s", workloadName(wl), pointTitle(pt)), "timeline",
				"throughput (top) and p99 latency (bottom) in each second of the first repetition; "+
					"dips line up with shaded fault windows, if any, or with compaction or GC pauses. "+
					"A last, partial second is left out.")
		}
	}
	if d.footnote {
		d.printf("† No latency.hlog for some repetition: percentiles from run.json, the worst over repetitions.\n\n")
	}
	return nil
}

func contains2(ps []point, p point) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func (d *document) consistency() error {
	if len(d.fuzzRows) == 0 {
		return nil
	}
	d.printf("## Consistency\n\n")
	d.printf("Fuzz runs checked for linearizability with Porcupine. **ok**: linearizable; **violation**: " +
		"not linearizable although the store claims it under this configuration (a bug); **expected**: a violation " +
		"the store's claims predict (e.g. no fsync and a crash); **unknown**: the checker could not decide in time, " +
		"never a pass. A linked verdict opens the check's visualization. Rows differ in store, impl flags or " +
		"configuration, columns in the faults injected; each cell names its configuration.\n\n")
	t := newTable(append([]string{"store"}, mdAll(d.faults)...)...)
	var details []string
	for _, row := range d.fuzzRows {
		cells := []string{md(row.label())}
		for _, f := range d.faults {
			g := row.cells[f]
			if g == nil {
				cells = append(cells, "–")
				continue
			}
			cells = append(cells, fmt.Sprintf("%s (C%d)", d.verdictCell(g.runs), g.id))
			for _, r := range g.runs {
				if r.Check == nil || r.Check.Verdict == results.VerdictOK {
					continue
				}
				line := fmt.Sprintf("- %s, %s, run %s: %s", md(row.label()), md(f), md(r.ID), md(r.Check.Verdict))
				if r.Check.Detail != "" {
					line += " — " + md(r.Check.Detail)
				}
				if r.Check.HTML != "" {
					line += fmt.Sprintf(" ([%s](%s))", md(r.Check.HTML), d.link(filepath.Join(r.dir, r.Check.HTML)))
				}
				details = append(details, line)
			}
		}
		t.add(cells...)
	}
	t.write(&d.b)
	if len(details) > 0 {
		d.printf("%s\n\n", strings.Join(details, "\n"))
	}
	started := false
	for _, row := range d.fuzzRows {
		for _, f := range d.faults {
			g := row.cells[f]
			if g == nil || len(g.runs[0].Faults) == 0 {
				continue
			}
			title := fmt.Sprintf("Fuzz %s, %s", row.label(), f)
			rel, err := d.figs.fuzzTimeline(g.runs[0], title)
			if rel != "" && !started {
				d.printf("### Fault timelines\n\n")
				started = true
			}
			d.drawn(rel, err, title, "fuzz", "shaded bands are fault windows (crash: the store's processes killed "+
				"and restarted; pause: stopped and continued), as Jepsen draws them: one row per client, a mark per "+
				"operation when it returned: ok (blue), failed (red ×), unknown outcome (orange, drawn at the call: "+
				"it may have taken effect at any later time). Operations should stop inside a band and resume after it.")
		}
	}
	return nil
}

func mdAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = md(s)
	}
	return out
}

// verdictCell shows the verdicts of a cell's repetitions, linking each
// check.html: "ok", "ok ×3", or "[violation](…) · ok".
func (d *document) verdictCell(rs []*runData) string {
	if len(rs) == 0 {
		return "–"
	}
	var parts []string
	same, linked := true, false
	for _, r := range rs {
		v := "unchecked"
		if r.Check != nil {
			v = md(r.Check.Verdict)
			if r.Check.HTML != "" {
				v = fmt.Sprintf("[%s](%s)", v, d.link(filepath.Join(r.dir, r.Check.HTML)))
				linked = true
			}
		}
		if len(parts) > 0 && v != parts[0] {
			same = false
		}
		parts = append(parts, v)
	}
	if same && !linked {
		if len(parts) == 1 {
			return parts[0]
		}
		return fmt.Sprintf("%s ×%d", parts[0], len(parts))
	}
	return strings.Join(parts, " · ")
}
