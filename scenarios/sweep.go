package scenarios

import (
	"context"
	"errors"
	"fmt"
	"github.com/kvbench/kvbench/nemesis"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/registry"
	"github.com/kvbench/kvbench/results"
)

// Scenario is a parsed, validated scenario file.
type Scenario struct {
	Name        string
	Description string
	// Path is the file it was read from, for error messages.
	Path   string
	sweeps []scenarioSweep
	lines  []map[string]int // per sweep: key -> line (merged with defaults' lines)
	// overridden: stores come from the command line, not the file.
	overridden bool
	// serve are the --serve commands every target step starts.
	serve []impls.ServeCommand
	// fresh are the --fresh paths every target step empties first.
	fresh []string
	// courseLogs is the --course-logs directory, "" for none.
	courseLogs string
	// faultTarget, when set, replaces every fuzz sweep's fault_target.
	faultTarget string
}

// SetStores replaces every sweep's stores and targets, for running a
// scenario against other stores than its file names (--store, --target).
// Store names are checked by Plan.
func (s *Scenario) SetStores(stores, targets []string) error {
	for _, t := range targets {
		if _, _, err := registry.LookupTarget(t); err != nil {
			return err
		}
	}
	for i := range s.sweeps {
		s.sweeps[i].Stores = append(yamlList[string](nil), stores...)
		s.sweeps[i].Targets = append(yamlList[string](nil), targets...)
	}
	s.overridden = true
	return nil
}

// SetServe makes every run against an external target start these server
// commands (--serve), so kvbench owns their lifecycle and faults can reach
// them.
func (s *Scenario) SetServe(serve []impls.ServeCommand) { s.serve = serve }

// SetFresh makes every run against an external target empty these paths
// (the service's durable state) before it starts the service (--fresh).
func (s *Scenario) SetFresh(paths []string) { s.fresh = append([]string(nil), paths...) }

// SetCourseLogs makes every run also write the MadKV course's log layout
// under dir (--course-logs).
func (s *Scenario) SetCourseLogs(dir string) { s.courseLogs = dir }

// SetFaultTarget makes every fuzz run fault target instead of its sweep's
// fault_target (--fault-target): the nodes of a --serve'd service are named
// by --serve, not as the bundled store's.
func (s *Scenario) SetFaultTarget(target string) { s.faultTarget = target }

// scenarioKinds lists the op kinds each YCSB core workload needs, including
// the Puts of its load phase; "fuzz" is the MadKV fuzz mix's minimum.
var scenarioKinds = map[string][]impls.Kind{
	"a": {impls.Get, impls.Put}, "b": {impls.Get, impls.Put}, "c": {impls.Get, impls.Put},
	"d": {impls.Get, impls.Put}, "e": {impls.Scan, impls.Put}, "f": {impls.Get, impls.Put},
	"fuzz": {impls.Get, impls.Put},
}

// Step is one planned run of a sweep.
type Step struct {
	Sweep    int    // 1-based position of the sweep in the file
	Kind     string // "bench" or "fuzz"
	Store    string // store name (with impl flags, if any) or target URL
	Workload string // "a".."f", or "fuzz" for the fuzz mix
	Clients  int
	Window   int    // bench only
	Fault    string // fuzz only: none, crash, pause or crash+pause
	Rep      int    // 1-based repetition
	// Exactly one of Bench and Fuzz is set.
	Bench *BenchOptions
	Fuzz  *FuzzOptions
	// Skip says why the step does not run (unsupported op kinds, window
	// above the store's MaxWindow); empty for steps that run.
	Skip string
}

// String describes the step in one line, e.g. "memkv workload=a clients=4 window=1 rep=1".
func (st Step) String() string {
	if st.Kind == "fuzz" {
		s := fmt.Sprintf("fuzz %s fault=%s clients=%d rep=%d", st.Store, st.Fault, st.Clients, st.Rep)
		if st.Workload != "fuzz" {
			s += " workload=" + st.Workload
		}
		return s
	}
	return fmt.Sprintf("%s workload=%s clients=%d window=%d rep=%d", st.Store, st.Workload, st.Clients, st.Window, st.Rep)
}

// Plan is a scenario expanded into runs.
type Plan struct {
	Steps   []Step // the runs, in order
	Skipped []Step // combinations a store cannot run
}

// Notes summarizes the skipped steps, one line per store and reason.
func (p *Plan) Notes() []string {
	var notes []string
	count := map[string]int{}
	for _, st := range p.Skipped {
		n := st.Store + ": " + st.Skip
		if count[n] == 0 {
			notes = append(notes, n)
		}
		count[n]++
	}
	for i, n := range notes {
		notes[i] = fmt.Sprintf("skip %d run(s) of %s", count[n], n)
	}
	return notes
}

// MeasuredTime is the total duration of the duration-bound runs: a lower
// bound on the sweep's wall time (server start, load phases and op-bound
// runs add to it).
func (p *Plan) MeasuredTime() time.Duration {
	var d time.Duration
	for _, st := range p.Steps {
		if st.Bench != nil {
			d += st.Bench.Duration
		}
	}
	return d
}

// Plan expands the scenario into runs against the given bundled stores (nil:
// registry.All()). Within a sweep the order is repetition, store, workload,
// clients, window, fault, so an interrupted sweep has whole repetitions first.
func (s *Scenario) Plan(stores []*impls.Impl) (*Plan, error) {
	if stores == nil {
		stores = registry.All()
	}
	var names []string
	for _, im := range stores {
		names = append(names, im.Name)
	}
	p := &Plan{}
	for i, sw := range s.sweeps {
		var ims []*impls.Impl // nil entries stand for targets
		var urls []string
		for _, name := range sw.Stores {
			if name == "all" {
				for _, im := range stores {
					if !sweepContains(ims, im) {
						ims, urls = append(ims, im), append(urls, "")
					}
				}
				continue
			}
			j := sweepIndexOf(names, name)
			if j < 0 && s.overridden {
				return nil, fmt.Errorf("unknown store %q (bundled: %s, or all)", name, strings.Join(names, ", "))
			}
			if j < 0 {
				return nil, fmt.Errorf("%s:%d: sweep %d: unknown store %q (bundled: %s, or all)", s.Path, s.lines[i]["stores"], i+1, name, strings.Join(names, ", "))
			}
			if !sweepContains(ims, stores[j]) {
				ims, urls = append(ims, stores[j]), append(urls, "")
			}
		}
		for _, u := range sw.Targets {
			ims, urls = append(ims, nil), append(urls, u)
		}
		workloads := []string(sw.Workloads)
		if len(workloads) == 0 {
			workloads = []string{"fuzz"}
		}
		windows, faults := []int(sw.Window), []string(sw.Faults)
		if sw.Kind == "fuzz" {
			windows = []int{0}
		} else {
			faults = []string{""}
		}
		repeat := 1
		if sw.Repeat != nil {
			repeat = *sw.Repeat
		}
		for rep := 1; rep <= repeat; rep++ {
			for k, im := range ims {
				for _, wl := range workloads {
					for _, c := range sw.Clients {
						for _, w := range windows {
							for _, f := range faults {
								st := s.step(i, sw, im, urls[k], wl, c, w, f, rep)
								if st.Skip != "" {
									p.Skipped = append(p.Skipped, st)
								} else {
									p.Steps = append(p.Steps, st)
								}
							}
						}
					}
				}
			}
		}
	}
	return p, nil
}

func sweepIndexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func (s *Scenario) step(i int, sw scenarioSweep, im *impls.Impl, url, wl string, clients, window int, fault string, rep int) Step {
	target := Target{URL: url, ImplFlags: strings.Fields(sw.ImplFlags)}
	if url != "" {
		target.Serve, target.Fresh = s.serve, s.fresh
	}
	st := Step{Sweep: i + 1, Kind: sw.Kind, Store: url, Workload: wl, Clients: clients, Window: window, Fault: fault, Rep: rep}
	if im != nil {
		target.Impl, st.Store = im.Name, im.Name
		if sw.ImplFlags != "" {
			st.Store += " " + sw.ImplFlags
		}
		var missing []string
		for _, k := range scenarioKinds[wl] {
			if !im.Supports(k) {
				missing = append(missing, k.String())
			}
		}
		maxWin := max(im.MaxWindow, 1)
		switch {
		case len(missing) > 0:
			what := "workload " + wl
			if wl == "fuzz" {
				what = "the fuzz mix"
			}
			st.Skip = fmt.Sprintf("%s needs %s, which %s does not support", what, strings.Join(missing, ", "), im.Name)
		case window > maxWin:
			st.Skip = fmt.Sprintf("window %d is above %s's maximum of %d", window, im.Name, maxWin)
		}
	}
	seed := int64(rep - 1)
	if sw.Seed != nil {
		seed += *sw.Seed
	}
	tags := map[string]string{
		"scenario": s.Name, "sweep": strconv.Itoa(i + 1), "store": st.Store,
		"workload": wl, "clients": strconv.Itoa(clients), "rep": strconv.Itoa(rep),
	}
	out := Output{Tags: tags, Stdout: io.Discard, Quiet: true, CourseLogs: s.courseLogs}
	if sw.Kind == "fuzz" {
		tags["fault"] = fault
		o := FuzzOptions{Target: target, Clients: clients, Seed: seed, Output: out, FaultTarget: sweepDeref(sw.FaultTarget)}
		if s.faultTarget != "" {
			o.FaultTarget = s.faultTarget
		}
		for _, k := range strings.Split(fault, "+") {
			switch nemesis.Kind(k) {
			case nemesis.Crash:
				o.Crash = true
			case nemesis.Pause:
				o.Pause = true
			case nemesis.Partition:
				o.Partition = true
			case nemesis.Loss, nemesis.Delay, nemesis.Dup:
				o.Net = append(o.Net, k)
			}
		}
		if wl != "fuzz" {
			o.Workload = wl
		}
		if sw.Ops != nil {
			o.OpsPerClient = int(*sw.Ops)
		}
		o.Keys, o.ValueSize, o.Conflict = sweepDeref(sw.Keys), sweepDeref(sw.ValueSize), sweepDeref(sw.Conflict)
		o.FaultInterval, o.FaultDuration = time.Duration(sweepDeref(sw.FaultInterval)), time.Duration(sweepDeref(sw.FaultDuration))
		st.Fuzz = &o
		o.Output.Args = st.Args()
		return st
	}
	tags["window"] = strconv.Itoa(window)
	o := BenchOptions{Target: target, Workload: wl, Clients: clients, Window: window, Seed: seed,
		Ops: sweepDeref(sw.Ops), Duration: time.Duration(sweepDeref(sw.Duration)), Records: sweepDeref(sw.Records),
		Rate: sweepDeref(sw.Rate), Check: sweepDeref(sw.Check), Output: out}
	st.Bench = &o
	o.Output.Args = st.Args()
	return st
}

func sweepDeref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Args returns the kvbench command line equivalent to the step, recorded in
// run.json so a single run can be repeated by hand.
func (st Step) Args() []string {
	var a []string
	target := func(t Target) {
		if t.Impl != "" {
			a = append(a, "--impl", t.Impl)
		} else {
			a = append(a, "--target", t.URL)
		}
		for _, sc := range t.Serve {
			a = append(a, "--serve", sc.Name+"="+sc.Command)
		}
		for _, p := range t.Fresh {
			a = append(a, "--fresh", p)
		}
		if len(t.ImplFlags) > 0 {
			a = append(a, "--impl-flags", strings.Join(t.ImplFlags, " "))
		}
	}
	courseLogs := func(o Output) {
		if o.CourseLogs != "" {
			a = append(a, "--course-logs", o.CourseLogs)
		}
	}
	if o := st.Fuzz; o != nil {
		a = append(a, "kvbench", "fuzz")
		target(o.Target)
		a = append(a, "--clients", strconv.Itoa(o.Clients), "--seed", strconv.FormatInt(o.Seed, 10))
		if o.OpsPerClient > 0 {
			a = append(a, "--ops", strconv.Itoa(o.OpsPerClient))
		}
		if o.Keys > 0 {
			a = append(a, "--keys", strconv.Itoa(o.Keys))
		}
		if o.Workload != "" {
			a = append(a, "--workload", o.Workload)
		}
		if o.ValueSize > 0 {
			a = append(a, "--value-size", strconv.Itoa(o.ValueSize))
		}
		if o.Faults().Any() {
			if o.FaultInterval > 0 {
				a = append(a, "--fault-interval", o.FaultInterval.String())
			}
			if o.FaultDuration > 0 {
				a = append(a, "--fault-duration", o.FaultDuration.String())
			}
		}
		for _, f := range []struct {
			on   bool
			flag string
		}{{o.Conflict, "--conflict"}, {o.Crash, "--crash"}, {o.Pause, "--pause"}, {o.Partition, "--partition"}} {
			if f.on {
				a = append(a, f.flag)
			}
		}
		if len(o.Net) > 0 {
			a = append(a, "--net", strings.Join(o.Net, ","))
		}
		if o.FaultTarget != "" && o.FaultTarget != nemesis.TargetRandom {
			a = append(a, "--fault-target", o.FaultTarget)
		}
		courseLogs(o.Output)
		return a
	}
	o := st.Bench
	a = append(a, "kvbench", "run")
	target(o.Target)
	a = append(a, "--workload", o.Workload, "-n", strconv.Itoa(o.Clients), "-w", strconv.Itoa(o.Window))
	if o.Duration > 0 {
		a = append(a, "--duration", o.Duration.String())
	} else {
		a = append(a, "--ops", strconv.FormatInt(o.Ops, 10))
	}
	if o.Records > 0 {
		a = append(a, "--records", strconv.FormatInt(o.Records, 10))
	}
	if o.Rate > 0 {
		a = append(a, "--rate", strconv.FormatFloat(o.Rate, 'g', -1, 64))
	}
	a = append(a, "--seed", strconv.FormatInt(o.Seed, 10))
	if o.Check {
		a = append(a, "--check")
	}
	courseLogs(o.Output)
	return a
}

// Runner executes one run; Bench and Fuzz of this package by default.
// Tests substitute a fake.
type Runner interface {
	Bench(ctx context.Context, o BenchOptions) (dir string, run *results.Run, err error)
	Fuzz(ctx context.Context, o FuzzOptions) (dir string, run *results.Run, err error)
}

type packageRunner struct{}

func (packageRunner) Bench(ctx context.Context, o BenchOptions) (string, *results.Run, error) {
	return Bench(ctx, o)
}

func (packageRunner) Fuzz(ctx context.Context, o FuzzOptions) (string, *results.Run, error) {
	return Fuzz(ctx, o)
}

var _ Runner = packageRunner{}

// SweepOptions configures RunScenario.
type SweepOptions struct {
	// Out is the base results directory (default "runs").
	Out string
	// Stores are the bundled stores "all" expands to (default registry.All()).
	Stores []*impls.Impl
	// Runner executes the runs (default: Bench and Fuzz).
	Runner Runner
	// Progress receives a line per run and a final line; nil prints nothing.
	Progress io.Writer
	// Quiet prints only skip notes, failures and the final line.
	Quiet bool
}

// ErrRunsFailed is returned (wrapped) by RunScenario when some runs failed;
// the other runs were kept.
var ErrRunsFailed = errors.New("runs failed")

// RunScenario plans s and executes its runs one after another, printing
// progress. It returns the result directories of the finished runs. A failed
// run is reported and the sweep goes on; the error then wraps ErrRunsFailed.
// When ctx is cancelled the sweep stops after keeping the finished runs,
// which is not an error.
func RunScenario(ctx context.Context, s *Scenario, opts SweepOptions) ([]string, error) {
	plan, err := s.Plan(opts.Stores)
	if err != nil {
		return nil, err
	}
	runner, out, w := opts.Runner, opts.Out, opts.Progress
	if runner == nil {
		runner = packageRunner{}
	}
	if out == "" {
		out = "runs"
	}
	if w == nil {
		w = io.Discard
	}
	for _, n := range plan.Notes() {
		fmt.Fprintln(w, n)
	}
	var dirs []string
	var failed, failedWhy []string
	var firstErr error
	start := time.Now()
	n := len(plan.Steps)
	for i, st := range plan.Steps {
		if ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		var dir string
		var run *results.Run
		var err error
		if st.Fuzz != nil {
			o := *st.Fuzz
			o.Output.Dir = out
			dir, run, err = runner.Fuzz(ctx, o)
		} else {
			o := *st.Bench
			o.Output.Dir = out
			dir, run, err = runner.Bench(ctx, o)
		}
		if ctx.Err() != nil {
			if dir != "" {
				fmt.Fprintf(w, "[%d/%d] %s interrupted; its partial results are in %s\n", i+1, n, st, dir)
			}
			break
		}
		if err != nil {
			failed = append(failed, st.String())
			failedWhy = append(failedWhy, st.String()+": "+err.Error())
			if firstErr == nil {
				firstErr = err
			}
			fmt.Fprintf(w, "[%d/%d] %s FAILED: %v\n", i+1, n, st, err)
			continue
		}
		dirs = append(dirs, dir)
		if !opts.Quiet {
			left := time.Duration(0)
			if done := i + 1; done < n {
				left = time.Since(start) / time.Duration(done) * time.Duration(n-done)
			}
			fmt.Fprintf(w, "[%d/%d] %s: %s in %s, ~%s left (%s)\n", i+1, n, st, runOutcome(run),
				time.Since(t0).Round(100*time.Millisecond), left.Round(time.Second), dir)
		}
	}
	elapsed := time.Since(start).Round(time.Second)
	verb := "finished"
	if ctx.Err() != nil {
		verb = "interrupted"
	}
	fmt.Fprintf(w, "scenario %s %s: %d of %d runs done, %d failed, %d skipped in %s; results in %s (kvbench report %s)\n",
		s.Name, verb, len(dirs), n, len(failed), len(plan.Skipped), elapsed, out, out)
	// What left no run directory (skips, failures, the interruption) goes
	// in a sweep file beside the runs, for kvbench report.
	sw := &results.Sweep{Scenario: s.Name, Start: start, Planned: n, Done: len(dirs), Failed: failedWhy,
		Interrupted: ctx.Err() != nil}
	for _, st := range plan.Skipped {
		if why := st.Store + ": " + st.Skip; !slices.Contains(sw.Skipped, why) {
			sw.Skipped = append(sw.Skipped, why)
		}
	}
	if err := os.MkdirAll(out, 0o755); err == nil {
		if _, err := results.WriteSweep(out, sw); err != nil {
			fmt.Fprintf(w, "note: %v\n", err)
		}
	}
	if len(failed) > 0 {
		return dirs, fmt.Errorf("scenario %s: %d of %d %w (first: %s: %w)", s.Name, len(failed), n, ErrRunsFailed, failed[0], firstErr)
	}
	return dirs, nil
}

// runOutcome summarizes a finished run for its progress line.
func runOutcome(r *results.Run) string {
	if r == nil {
		return "done"
	}
	if r.Check != nil {
		return "verdict " + r.Check.Verdict
	}
	s := fmt.Sprintf("%.0f ops/s", r.Overall.OpsPerSec)
	if r.Overall.Errors > 0 {
		s += fmt.Sprintf(", %d errors", r.Overall.Errors)
	}
	return s
}
