package report

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kvbench/kvbench/results"
)

// document assembles the markdown report.
type document struct {
	b         strings.Builder
	runs      []*runData
	bench     []*group
	fuzzRows  []*fuzzRow
	faults    []string
	workloads []string // of the benchmark runs, in display order
	stores    []string // of the benchmark runs, sorted
	selected  []point  // points covering the most workloads
	reportDir string
	figs      *figures
	readHelp  map[string]bool // "how to read" said for this figure kind
	footnote  bool            // a percentile came from run.json
}

func newDocument(runs []*runData, reportDir string, figs *figures) *document {
	d := &document{runs: runs, reportDir: reportDir, figs: figs, readHelp: map[string]bool{}}
	d.bench = groupBench(runs)
	d.fuzzRows, d.faults = groupFuzz(runs)
	var all []string
	for _, g := range d.bench {
		if !contains(d.workloads, g.workload) {
			d.workloads = append(d.workloads, g.workload)
		}
		if !contains(d.stores, g.store) {
			d.stores = append(d.stores, g.store)
		}
	}
	for _, r := range runs {
		if !contains(all, r.store()) {
			all = append(all, r.store())
		}
	}
	sort.Strings(d.stores)
	sort.Strings(all)
	for i, s := range all {
		figs.pal[s] = i
	}
	// The points (clients, window, rate) that cover the most workloads get
	// the per-workload bar charts, spectra and timelines.
	cover := map[point][]string{}
	var pts []point
	for _, g := range d.bench {
		p := g.point()
		if cover[p] == nil {
			pts = append(pts, p)
		}
		if !contains(cover[p], g.workload) {
			cover[p] = append(cover[p], g.workload)
		}
	}
	best := 0
	for _, p := range pts {
		best = max(best, len(cover[p]))
	}
	for _, p := range pts {
		if len(cover[p]) == best {
			d.selected = append(d.selected, p)
		}
	}
	sortPoints(d.selected)
	return d
}

func sortPoints(ps []point) {
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.clients != b.clients {
			return a.clients < b.clients
		}
		if a.window != b.window {
			return a.window < b.window
		}
		return a.rate < b.rate
	})
}

func (d *document) printf(format string, a ...any) { fmt.Fprintf(&d.b, format, a...) }

// link returns path relative to the report, as a markdown link target.
func (d *document) link(path string) string {
	rel, err := filepath.Rel(d.reportDir, path)
	if err != nil {
		rel = path
	}
	return strings.ReplaceAll(filepath.ToSlash(rel), " ", "%20")
}

// figure embeds a written figure with a one-time reading guide per kind.
func (d *document) figure(rel, alt, kind, help string) {
	if rel == "" {
		return
	}
	d.printf("![%s](%s)\n\n", alt, rel)
	if help != "" && !d.readHelp[kind] {
		d.readHelp[kind] = true
		d.printf("*How to read:* %s\n\n", help)
	}
}

func (d *document) render() (string, error) {
	d.header()
	d.environment()
	for _, step := range []func() error{d.comparison, d.scaling, d.workloadSections, d.consistency} {
		if err := step(); err != nil {
			return "", err
		}
	}
	d.runList()
	return d.b.String(), nil
}

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + one + "s"
}

func (d *document) header() {
	nb, nf := 0, 0
	scen := map[string]int{}
	var names []string
	for _, r := range d.runs {
		if r.isFuzz() {
			nf++
		} else {
			nb++
		}
		if s := r.Tags["scenario"]; s != "" {
			if scen[s] == 0 {
				names = append(names, s)
			}
			scen[s]++
		}
	}
	sort.Strings(names)
	d.printf("# kvbench report\n\n")
	d.printf("%s: %s of %s on %s, %s", plural(len(d.runs), "run"), plural(nb, "benchmark run"),
		plural(len(d.stores), "store"), plural(len(d.workloads), "workload"), plural(nf, "fuzz run"))
	if len(names) > 0 {
		var parts []string
		for _, n := range names {
			parts = append(parts, fmt.Sprintf("%s (%d runs)", n, scen[n]))
		}
		d.printf(". Scenarios: %s", strings.Join(parts, ", "))
	}
	d.printf(".\n\n")
	d.printf("Latency percentiles merge the HdrHistograms of every client, interval and repetition " +
		"losslessly (MadKV's runner reports the maximum over clients instead). Throughput is the mean " +
		"over repetitions; when a configuration ran more than once, the range follows in parentheses " +
		"and as error bars.\n\n")
}

func (d *document) environment() {
	d.printf("## Environment\n\n")
	type mkey struct {
		host, osArch string
		cpus         int
		mem          uint64
		model        string
	}
	count := map[mkey]int{}
	var keys []mkey
	kv, gv := map[string]int{}, map[string]int{}
	seeds := map[int64]bool{}
	var first, last string
	for _, r := range d.runs {
		m := r.Machine
		k := mkey{m.Hostname, m.OS + "/" + m.Arch, m.CPUs, m.MemBytes, m.CPUModel}
		if count[k] == 0 {
			keys = append(keys, k)
		}
		count[k]++
		kv[r.Versions.Kvbench]++
		gv[r.Versions.Go]++
		seeds[r.Seed] = true
		if !r.Start.IsZero() {
			day := r.Start.UTC().Format("2006-01-02")
			if first == "" || day < first {
				first = day
			}
			if day > last {
				last = day
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	t := newTable("machine", "OS/arch", ">CPUs", ">memory", "CPU model", ">runs")
	for _, k := range keys {
		t.add(orDash(k.host), k.osArch, strconv.Itoa(k.cpus), bytesHuman(k.mem), orDash(k.model), strconv.Itoa(count[k]))
	}
	t.write(&d.b)
	counted := func(m map[string]int) string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for i, k := range ks {
			ks[i] = fmt.Sprintf("%s (%d runs)", orDash(k), m[k])
			if len(m) == 1 {
				ks[i] = orDash(k)
			}
		}
		return strings.Join(ks, ", ")
	}
	var ss []int64
	for s := range seeds {
		ss = append(ss, s)
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i] < ss[j] })
	var seedText []string
	for i, s := range ss {
		if i == 20 {
			seedText = append(seedText, fmt.Sprintf("… (%d seeds)", len(ss)))
			break
		}
		seedText = append(seedText, strconv.FormatInt(s, 10))
	}
	d.printf("- kvbench: %s\n- Go: %s\n- Seeds: %s\n", counted(kv), counted(gv), strings.Join(seedText, ", "))
	if first != "" {
		dates := first
		if last != first {
			dates += " to " + last
		}
		d.printf("- Dates: %s (UTC)\n", dates)
	}
	d.printf("\n")
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
		if err != nil {
			return err
		}
		d.figure(rel, "Throughput per workload, "+pointTitle(pt), "bars",
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
		d.printf("### Workload %s\n\n", workloadName(wl))
		rel, err := d.figs.versusClients(wl, gs, "ops")
		if err != nil {
			return err
		}
		d.figure(rel, "Throughput vs clients, workload "+workloadName(wl), "tput",
			"one line per store; a line that flattens marks the store's saturation point. "+
				"Error bars span the repetitions.")
		rel, err = d.figs.versusClients(wl, gs, "p99")
		if err != nil {
			return err
		}
		d.figure(rel, "p99 latency vs clients, workload "+workloadName(wl), "p99",
			"the 99th percentile of every operation of the configuration; it rises once clients queue for the store.")
	}
	return nil
}

func (d *document) workloadSections() error {
	hasRate := false
	for _, g := range d.bench {
		hasRate = hasRate || g.rate > 0
	}
	for _, wl := range d.workloads {
		d.printf("## Workload %s\n\n", workloadName(wl))
		cols := []string{"store", ">clients", ">window"}
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
			lead := []string{g.store, strconv.Itoa(g.clients), strconv.Itoa(g.window)}
			if hasRate {
				lead = append(lead, orDash(strings.TrimSuffix(num(g.rate), ".00")))
			}
			lead = append(lead, strconv.Itoa(len(g.runs)), withSpread(g.tput.mean, g.tput))
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
				op := o.op
				if base, ok := strings.CutSuffix(op, ".uncorrected"); ok {
					op = base + " (uncorrected)"
				}
				t.add(append(append([]string{}, row...), op, groupDigits(o.count), groupDigits(o.errors),
					num(o.p50)+mark, withSpread(o.p99, o.p99s)+mark, num(o.p999)+mark)...)
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
			if err != nil {
				return err
			}
			d.figure(rel, fmt.Sprintf("Latency by percentile, workload %s, %s", workloadName(wl), pointTitle(pt)), "spectrum",
				"x is the percentile on a log scale of 1/(1−q): 90%, 99%, 99.9% are evenly spaced, so the tail gets "+
					"as much room as the median. A line that stays flat has a tight tail; a late rise shows rare slow operations.")
			rel, err = d.figs.benchTimeline(wl, pt, d.bench)
			if err != nil {
				return err
			}
			d.figure(rel, fmt.Sprintf("Throughput and p99 over time, workload %s, %s", workloadName(wl), pointTitle(pt)), "timeline",
				"throughput (top) and p99 latency (bottom) in each second of the first repetition; "+
					"dips line up with shaded fault windows, if any, or with compaction or GC pauses.")
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
		"never a pass. A linked verdict opens the check's visualization.\n\n")
	t := newTable(append([]string{"store"}, d.faults...)...)
	var details []string
	for _, row := range d.fuzzRows {
		cells := []string{row.label()}
		for _, f := range d.faults {
			cells = append(cells, d.verdictCell(row.cells[f]))
			for _, r := range row.cells[f] {
				if r.Check == nil || r.Check.Verdict == results.VerdictOK {
					continue
				}
				line := fmt.Sprintf("- %s, %s, run %s: %s", row.label(), f, r.ID, r.Check.Verdict)
				if r.Check.Detail != "" {
					line += " — " + r.Check.Detail
				}
				if r.Check.HTML != "" {
					line += fmt.Sprintf(" ([%s](%s))", r.Check.HTML, d.link(filepath.Join(r.dir, r.Check.HTML)))
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
			rs := row.cells[f]
			if len(rs) == 0 || len(rs[0].Faults) == 0 {
				continue
			}
			title := fmt.Sprintf("Fuzz %s, %s", row.label(), f)
			rel, err := d.figs.fuzzTimeline(rs[0], title)
			if err != nil {
				return err
			}
			if rel != "" && !started {
				d.printf("### Fault timelines\n\n")
				started = true
			}
			d.figure(rel, title, "fuzz", "shaded bands are fault windows (crash: the store's processes killed "+
				"and restarted; pause: stopped and continued). Throughput should drop inside a band and recover after it; "+
				"operations in flight at a crash have unknown outcomes.")
		}
	}
	return nil
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
			v = r.Check.Verdict
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

func (d *document) runList() {
	d.printf("## Runs\n\n")
	t := newTable("run", "kind", "store", "workload", ">clients", ">window", ">seed", ">seconds", ">ops/s", ">errors", "check")
	for _, r := range d.runs {
		kind, window, wl := "bench", strconv.Itoa(r.Window), workloadName(r.Workload)
		if r.isFuzz() {
			kind, window = "fuzz", "–"
			if r.Workload == "" || r.Workload == "fuzz" {
				wl = "fuzz mix"
			}
		}
		check := "–"
		if r.Check != nil {
			check = r.Check.Verdict
		}
		t.add(fmt.Sprintf("[%s](%s)", r.ID, d.link(filepath.Join(r.dir, results.RunFile))), kind, r.store(), wl,
			strconv.Itoa(r.Clients), window, strconv.FormatInt(r.Seed, 10), num(r.Seconds),
			num(r.Overall.OpsPerSec), groupDigits(r.Overall.Errors), check)
	}
	t.write(&d.b)
}
