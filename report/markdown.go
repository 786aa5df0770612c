package report

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kvbench/kvbench/results"
	"github.com/kvbench/kvbench/workload"
)

// document assembles the markdown report.
type document struct {
	b          strings.Builder
	runs       []*runData // every run read, excluded ones too
	loaded     *loaded
	bench      []*group
	fuzzRows   []*fuzzRow
	fuzzGroups []*group
	faults     []string
	workloads  []string // of the benchmark runs, in display order
	stores     []string // of the benchmark runs, sorted
	selected   []point  // points covering the most workloads
	reportDir  string
	figs       *figures
	readHelp   map[string]bool // "how to read" said for this figure kind
	footnote   bool            // a percentile came from run.json
	warnings   []string        // also returned to the caller for stderr
}

func newDocument(l *loaded, reportDir string, figs *figures) *document {
	d := &document{runs: l.runs, loaded: l, reportDir: reportDir, figs: figs, readHelp: map[string]bool{}}
	d.bench = groupBench(l.runs)
	d.fuzzRows, d.faults, d.fuzzGroups = groupFuzz(l.runs)
	id := 0
	for _, g := range append(append([]*group{}, d.bench...), d.fuzzGroups...) {
		id++
		g.id = id
	}
	for _, g := range d.bench {
		if !contains(d.workloads, g.workload) {
			d.workloads = append(d.workloads, g.workload)
		}
		if !contains(d.stores, g.store) {
			d.stores = append(d.stores, g.store)
		}
	}
	sort.Strings(d.stores)
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
	return linkEscape(filepath.ToSlash(rel))
}

// figure embeds a written figure with a one-time reading guide per kind.
func (d *document) figure(rel, alt, kind, help string) {
	if rel == "" {
		return
	}
	d.printf("![%s](%s)\n\n", md(alt), rel)
	if help != "" && !d.readHelp[kind] {
		d.readHelp[kind] = true
		d.printf("*How to read:* %s\n\n", help)
	}
}

// figureFailed notes a figure that could not be drawn; the report goes on.
func (d *document) figureFailed(what string, err error) {
	d.warnings = append(d.warnings, fmt.Sprintf("figure %s not drawn: %v", what, err))
}

func (d *document) render() (string, error) {
	d.header()
	d.collectWarnings()
	d.warningSection()
	d.environment()
	d.configurations()
	for _, step := range []func() error{d.comparison, d.scaling, d.workloadSections, d.consistency, d.course} {
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
			parts = append(parts, fmt.Sprintf("%s (%d runs)", md(n), scen[n]))
		}
		d.printf(". Scenarios: %s", strings.Join(parts, ", "))
	}
	d.printf(".\n\n")
	d.printf("Runs are repetitions of one configuration (C1, C2, … below) only when everything but the seed " +
		"matches: store, impl flags, workload and its properties, clients, window, rate, length, faults and " +
		"kvbench version. Latency percentiles merge the HdrHistograms of every client, interval and repetition " +
		"losslessly (MadKV's runner reports the maximum over clients instead). Throughput is the mean " +
		"over repetitions; when a configuration ran more than once, the range follows in parentheses " +
		"and as error bars. Interrupted runs and runs that failed validation are listed but left out.\n\n")
}

// collectWarnings gathers what a reader must know before trusting the
// numbers: runs skipped or left out, partial run directories, overloaded
// machines and repetitions that disagree.
func (d *document) collectWarnings() {
	var w []string
	for _, s := range d.loaded.skipped {
		w = append(w, fmt.Sprintf("skipped %s: %s", d.relDir(s.dir), s.why))
	}
	var abandoned, running []string
	for _, p := range d.loaded.partial {
		if p.Running {
			running = append(running, d.relDir(p.Dir))
		} else {
			abandoned = append(abandoned, d.relDir(p.Dir))
		}
	}
	if len(abandoned) > 0 {
		w = append(w, fmt.Sprintf("%s without %s, left by a kvbench that was killed before it finished "+
			"(kvbench report --prune removes them): %s", plural(len(abandoned), "run directory"), results.RunFile,
			strings.Join(abandoned, ", ")))
	}
	if len(running) > 0 {
		w = append(w, fmt.Sprintf("%s still being written by a running kvbench, not included: %s",
			plural(len(running), "run directory"), strings.Join(running, ", ")))
	}
	for _, sw := range d.loaded.sweeps {
		name := "scenario " + sw.Scenario
		if sw.Interrupted {
			w = append(w, fmt.Sprintf("%s was interrupted after %d of %d runs", name, sw.Done, sw.Planned))
		}
		if len(sw.Skipped) > 0 {
			w = append(w, fmt.Sprintf("%s skipped what a store cannot run: %s", name, strings.Join(sw.Skipped, "; ")))
		}
		if len(sw.Failed) > 0 {
			w = append(w, fmt.Sprintf("%s: %s failed and left no results: %s", name, plural(len(sw.Failed), "run"),
				strings.Join(sw.Failed, "; ")))
		}
	}
	legacy := 0
	for _, r := range d.runs {
		if why := r.excluded(); why != "" {
			what := fmt.Sprintf("run %s left out: %s", r.ID, why)
			if r.Interrupted {
				what += fmt.Sprintf(" after %.2f s", r.Seconds)
			}
			if r.ValidationError != "" {
				what += " (" + r.ValidationError + ")"
			}
			w = append(w, what)
		}
		if r.Config == nil {
			legacy++
		}
	}
	if legacy > 0 {
		w = append(w, fmt.Sprintf("%s written by a kvbench without a typed configuration: grouped by what "+
			"their run.json records (impl flags and faults from its options)", plural(legacy, "run")))
	}
	if o := overloadSummary(d.runs); o != "" {
		w = append(w, o)
	}
	for _, g := range d.bench {
		if g.tput.wide() {
			w = append(w, fmt.Sprintf("C%d (%s, workload %s, %s): throughput ranged %s–%s ops/s over %d "+
				"repetitions (%.0f%% of the mean): more repetitions or a quieter machine would narrow it",
				g.id, g.store, workloadName(g.workload), pointTitle(g.point()), num(g.tput.min), num(g.tput.max),
				g.tput.n, 100*(g.tput.max-g.tput.min)/g.tput.mean))
		}
	}
	d.warnings = append(w, d.warnings...)
}

func (d *document) warningSection() {
	if len(d.warnings) == 0 {
		return
	}
	d.printf("## Warnings\n\n")
	for _, w := range d.warnings {
		d.printf("- %s\n", md(w))
	}
	d.printf("\n")
}

// relDir names a directory relative to the report's folder.
func (d *document) relDir(dir string) string {
	if rel, err := filepath.Rel(d.reportDir, dir); err == nil {
		return filepath.ToSlash(rel)
	}
	return dir
}

// overloaded marks a group whose repetitions ran on an overloaded machine.
func overloaded(runs []*runData) string {
	for _, r := range runs {
		if ok, _ := r.Load.Overloaded(); ok {
			return " ⚠"
		}
	}
	return ""
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
		t.add(md(orDash(k.host)), md(k.osArch), strconv.Itoa(k.cpus), bytesHuman(k.mem), md(orDash(k.model)), strconv.Itoa(count[k]))
	}
	t.write(&d.b)
	counted := func(m map[string]int) string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for i, k := range ks {
			ks[i] = fmt.Sprintf("%s (%d runs)", md(orDash(k)), m[k])
			if len(m) == 1 {
				ks[i] = md(orDash(k))
			}
		}
		return strings.Join(ks, ", ")
	}
	d.printf("- kvbench: %s\n- Go: %s\n", counted(kv), counted(gv))
	if l := loadSummary(d.runs); l != "" {
		d.printf("- Load during the runs: %s\n", l)
	}
	if first != "" {
		dates := first
		if last != first {
			dates += " to " + last
		}
		d.printf("- Dates: %s (UTC)\n", dates)
	}
	d.printf("\n")
}

// configurations lists every configuration with what a reader needs to
// reproduce it; the tables below refer to them as C1, C2, ….
func (d *document) configurations() {
	groups := append(append([]*group{}, d.bench...), d.fuzzGroups...)
	if len(groups) == 0 {
		return
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].id < groups[j].id })
	d.printf("## Configurations\n\n")
	t := newTable("config", "kind", "store", "workload", ">clients", ">window", "loop", "length", ">records",
		">value bytes", "keys", "faults", ">runs", "seeds")
	var props []string
	for _, g := range groups {
		c := g.cfg
		kind, window, loop := "bench", strconv.Itoa(g.window), "closed"
		if c.Command == "fuzz" {
			kind, window, loop = "fuzz", "–", "–"
		}
		if g.rate > 0 {
			loop = "open, " + num(g.rate) + " ops/s"
		}
		var seeds []string
		for i, r := range g.runs {
			if i == 10 {
				seeds = append(seeds, "…")
				break
			}
			seeds = append(seeds, strconv.FormatInt(r.Seed, 10))
		}
		wl := workloadName(g.workload)
		if c.Command == "fuzz" && (g.workload == "" || g.workload == "fuzz") {
			wl = "fuzz mix"
		}
		faults := "–"
		if c.Command == "fuzz" {
			faults = c.Faults.String()
		}
		t.add(fmt.Sprintf("C%d", g.id), kind, md(g.store), md(wl), strconv.Itoa(g.clients), window, loop,
			md(orDash(c.Length())), countOrDash(c.RecordCount), countOrDash(int64(c.ValueSize)),
			md(orDash(c.KeyDistribution)), md(faults), strconv.Itoa(len(g.runs)), strings.Join(seeds, ", "))
		if p := propertyDiff(c); p != "" {
			props = append(props, fmt.Sprintf("- C%d: %s", g.id, md(p)))
		}
	}
	t.write(&d.b)
	if len(props) > 0 {
		d.printf("YCSB properties that differ from the stock workload file:\n\n%s\n\n", strings.Join(props, "\n"))
	}
}

func countOrDash(n int64) string {
	if n <= 0 {
		return "–"
	}
	return groupDigits(n)
}

// propertyDiff lists the properties of c that differ from its stock YCSB
// workload (all of them for a property file of its own), leaving out what
// the configurations table shows already.
func propertyDiff(c results.Config) string {
	if len(c.Properties) == 0 {
		return ""
	}
	stock, _ := workload.Core(c.Workload)
	var out []string
	for k, v := range c.Properties {
		switch k {
		case "recordcount", "operationcount", "requestdistribution", "workload.name":
			continue
		}
		if sv, ok := stock[k]; ok && sv == v {
			continue
		}
		if stock == nil && !strings.HasSuffix(k, "proportion") {
			continue
		}
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func (d *document) runList() {
	d.printf("## Runs\n\n")
	t := newTable("run", ">config", "kind", "store", "workload", ">clients", ">window", ">seed", ">seconds", ">ops/s",
		">errors", "check", "status")
	ids := map[*runData]int{}
	for _, g := range append(append([]*group{}, d.bench...), d.fuzzGroups...) {
		for _, r := range g.runs {
			ids[r] = g.id
		}
	}
	for _, r := range d.runs {
		kind, window, wl := "bench", strconv.Itoa(r.Window), workloadName(r.cfg.Workload)
		if r.isFuzz() {
			kind, window = "fuzz", "–"
			if r.cfg.Workload == "" || r.cfg.Workload == "fuzz" {
				wl = "fuzz mix"
			}
		}
		check := "–"
		if r.Check != nil {
			check = md(r.Check.Verdict)
		}
		cfg := "–"
		if id := ids[r]; id > 0 {
			cfg = fmt.Sprintf("C%d", id)
		}
		status := orDash(r.excluded())
		if ok, why := r.Load.Overloaded(); ok {
			status = strings.TrimPrefix(strings.TrimPrefix(status, "–")+"; ⚠ "+why, "; ")
		}
		t.add(fmt.Sprintf("[%s](%s)", md(r.ID), d.link(filepath.Join(r.dir, results.RunFile))), cfg, kind, md(r.store()), md(wl),
			strconv.Itoa(r.Clients), window, strconv.FormatInt(r.Seed, 10), num(r.Seconds),
			num(r.Overall.OpsPerSec), groupDigits(r.Overall.Errors), check, md(status))
	}
	t.write(&d.b)
}

// loadSummary describes the machine's load over the runs that recorded it:
// the range of load averages, CPU busy and stolen.
func loadSummary(runs []*runData) string {
	var la, busy, steal []float64
	cores := map[int]bool{}
	for _, r := range runs {
		l := r.Load
		if l == nil {
			continue
		}
		cores[l.Cores] = true
		la = append(la, l.LoadAvgStart[0], l.LoadAvgEnd[0])
		if l.BusyPercent >= 0 {
			busy = append(busy, l.BusyPercent)
		}
		if l.StealPercent >= 0 {
			steal = append(steal, l.StealPercent)
		}
	}
	if len(la) == 0 {
		return ""
	}
	var cs []string
	for c := range cores {
		cs = append(cs, strconv.Itoa(c))
	}
	sort.Strings(cs)
	rng := func(vs []float64, f string) string {
		s := spreadOf(vs)
		if fmt.Sprintf(f, s.min) == fmt.Sprintf(f, s.max) {
			return fmt.Sprintf(f, s.min)
		}
		return fmt.Sprintf(f+"–"+f, s.min, s.max)
	}
	out := fmt.Sprintf("load average %s on %s cores", rng(la, "%.1f"), strings.Join(cs, "/"))
	if len(busy) > 0 {
		out += fmt.Sprintf(", CPU busy %s%%", rng(busy, "%.0f"))
	}
	if len(steal) > 0 {
		out += fmt.Sprintf(", stolen %s%%", rng(steal, "%.0f"))
	}
	return out
}

// overloadSummary counts the runs that ran on an overloaded machine, by
// cause, with the worst case of each: "12 of 20 runs ran on an overloaded
// machine (⚠ in the tables): ... more threads than cores in 9 runs (up to
// 9 threads on 2 cores); a load average above the cores in 12 runs (up to
// 15.2 on 2 cores)".
func overloadSummary(runs []*runData) string {
	over := 0
	var threads, loaded, stolen int
	var worstT, worstTC, worstLC int
	var worstL, worstS float64
	for _, r := range runs {
		l := r.Load
		if ok, _ := l.Overloaded(); !ok {
			continue
		}
		over++
		if l.Oversubscribed {
			threads++
			if l.Threads*worstTC >= worstT*l.Cores {
				worstT, worstTC = l.Threads, l.Cores
			}
		}
		if la := max(l.LoadAvgStart[0], l.LoadAvgEnd[0]); la > float64(l.Cores) {
			loaded++
			if la/float64(l.Cores) >= worstL/float64(max(worstLC, 1)) {
				worstL, worstLC = la, l.Cores
			}
		}
		if l.StealPercent >= 5 {
			stolen++
			worstS = max(worstS, l.StealPercent)
		}
	}
	if over == 0 {
		return ""
	}
	var why []string
	if threads > 0 {
		why = append(why, fmt.Sprintf("more client and server threads than cores in %s (up to %d threads on %d cores)",
			plural(threads, "run"), worstT, worstTC))
	}
	if loaded > 0 {
		why = append(why, fmt.Sprintf("a load average above the cores in %s (up to %.1f on %d cores)",
			plural(loaded, "run"), worstL, worstLC))
	}
	if stolen > 0 {
		why = append(why, fmt.Sprintf("CPU stolen by the hypervisor in %s (up to %.0f%%)", plural(stolen, "run"), worstS))
	}
	return fmt.Sprintf("%d of %d runs ran on an overloaded machine (⚠ in the tables; the reason in the run list): "+
		"their numbers measure the machine as much as the store: %s", over, len(runs), strings.Join(why, "; "))
}
