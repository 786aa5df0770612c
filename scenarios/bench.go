package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/kvbench/kvbench/driver"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
	"github.com/kvbench/kvbench/workload"
)

// defaultDuration bounds a run given neither --ops, --duration nor an
// operationcount property.
const defaultDuration = 5 * time.Second

// Bench runs one benchmark and writes its results directory: it starts the
// target, loads YCSB records, drives the measured phase, writes run.json,
// latency.hlog (and history.jsonl with Check), prints the summary, and tears
// everything down. A cancelled ctx ends the phase early; the partial run is
// still written.
func Bench(ctx context.Context, o BenchOptions) (dir string, run *results.Run, err error) {
	if o.Clients < 1 || o.Window < 1 {
		return "", nil, fmt.Errorf("-n and -w must be at least 1 (got -n %d -w %d)", o.Clients, o.Window)
	}
	plan, err := planWorkload(&o)
	if err != nil {
		return "", nil, err
	}
	for _, n := range plan.notes {
		fmt.Fprintf(statusWriter(o.Output), "note: %s\n", n)
	}
	var solution []uint32
	if o.Solution != "" {
		if o.Clients != 1 || o.Window != 1 || o.Input == "" {
			return "", nil, fmt.Errorf("-c validates GETs in order, which only makes sense replaying a file (-i) with -n 1 -w 1; with more clients use --check")
		}
		if solution, err = readSolution(o.Solution); err != nil {
			return "", nil, err
		}
	}
	if o.Output.CourseLogs != "" {
		if _, err := CourseBenchLog(o.Output.CourseLogs, o); err != nil {
			return "", nil, err
		}
	}
	out := o.Output
	dir, tgt, err := startRun(ctx, out, "run", o.Target, o.Clients, o.Window)
	if err != nil {
		return "", nil, err
	}
	defer tgt.close()
	if tgt.impl != nil {
		for _, k := range plan.kinds {
			if !tgt.impl.Supports(k) {
				fmt.Fprintf(statusWriter(out), "note: %s does not support %s; those operations will fail and count as errors\n", tgt.impl.Name, k)
			}
		}
	}

	// With --check, the history must hold every write the run's reads can
	// see: the load phase is recorded too, and written values take the
	// form the store stores (shm and istkvs hash what they cannot hold;
	// with -c the course's own values are compared as they are).
	if o.Check && solution == nil && tgt.impl != nil && tgt.impl.Canonical != nil {
		plan.load = canonicalStreams(plan.load, tgt.impl.Canonical)
		plan.run = canonicalStreams(plan.run, tgt.impl.Canonical)
	}
	var loadHistory *results.History
	var loadStart time.Time
	var loadPhase *results.Phase // the MadKV bencher block prints it
	if plan.load != nil {
		st := newStatusLine(statusWriter(out), "load")
		fmt.Fprintf(statusWriter(out), "loading %d records into %s with %d clients\n", plan.records, o.Target.Name(), o.Clients)
		loadStart = time.Now()
		res, err := driver.Run(ctx, driver.Config{Clients: o.Clients, Window: o.Window, Ops: plan.records, Progress: st.update,
			Record: o.Check, Epoch: loadStart},
			tgt.cluster.NewClient, plan.load)
		st.done()
		if err != nil {
			return dir, nil, fmt.Errorf("load phase: %w", err)
		}
		if ctx.Err() != nil {
			// Inserts cut short by the interrupt are not the store's failures.
			os.RemoveAll(dir) // nothing was measured
			return "", nil, fmt.Errorf("interrupted during the load phase; no results written")
		}
		if n := sumErrors(res); n > 0 {
			fmt.Fprintf(statusWriter(out), "load phase: %d of %d inserts failed (first: %v)\n", n, plan.records, res.FirstErr)
		}
		loadHistory = res.History
		var lr results.Run
		summarize(&lr, res)
		loadPhase = &results.Phase{Seconds: lr.Seconds, Overall: lr.Overall, Ops: lr.Ops}
	}

	hlogFile, err := results.CreateTemp(dir, "."+results.HlogFile+".tmp*")
	if err != nil {
		return dir, nil, err
	}
	defer os.Remove(hlogFile.Name()) // after the rename below, a no-op
	defer hlogFile.Close()           // closes it on the early returns; a second Close is harmless
	// The measured phase starts on a collected heap, as testing.B does: the
	// garbage of reading the workload and of the load phase is not
	// collected during it (a collection must stop every worker, and an shm
	// waiter in sched_yield is slow to stop).
	runtime.GC()
	start := time.Now()
	hlog, err := results.NewHlogWriter(hlogFile, start)
	if err != nil {
		return dir, nil, err
	}
	cfg := driver.Config{
		Clients: o.Clients, Window: o.Window, Ops: plan.ops, Duration: plan.duration,
		Rate: o.Rate, Record: o.Check || solution != nil, Hlog: hlog, Epoch: start,
	}
	st := newStatusLine(statusWriter(out), "run")
	cfg.Progress = st.update
	probe := results.BeginLoad(o.Clients + serverThreads(tgt))
	res, err := driver.Run(ctx, cfg, tgt.cluster.NewClient, plan.run)
	load := probe.End()
	st.done()
	if err != nil {
		return dir, nil, err
	}
	if err := hlogFile.Sync(); err != nil {
		return dir, nil, err
	}
	hlogFile.Close()
	if err := os.Rename(hlogFile.Name(), filepath.Join(dir, results.HlogFile)); err != nil {
		return dir, nil, err
	}

	run = &results.Run{
		ID: filepath.Base(dir), Command: "run", Args: out.Args, Impl: o.Target.Name(), Workload: plan.name,
		Tags: out.Tags, Options: plan.options, Seed: o.Seed, Clients: o.Clients, Window: o.Window, Rate: o.Rate,
		Start: start, Versions: results.ThisVersion(), Machine: results.ThisMachine(),
		Config: benchConfig(o, plan), Interrupted: ctx.Err() != nil, Load: load,
	}
	summarize(run, res)
	run.LoadPhase = loadPhase
	if o.Rate > 0 && run.Overall.OpsPerSec < 0.9*o.Rate {
		fmt.Fprintf(statusWriter(out), "note: the store kept up with %.0f of the %.0f ops/s asked for; requests queued behind their intended start, and the corrected latencies include that wait (more clients, -n, would raise the achievable rate)\n",
			run.Overall.OpsPerSec, o.Rate)
	}
	if res.FirstErr != nil {
		fmt.Fprintf(statusWriter(out), "note: %d operations failed; first error: %v\n", run.Overall.Errors, res.FirstErr)
	}
	if o.Check {
		events := withLoadPhase(loadHistory, loadStart, res.History, start)
		if err := results.WriteHistory(dir, events); err != nil {
			return dir, nil, err
		}
		check, err := checkHistory(ctx, dir, events, nil, tgt.impl, o.Target.ImplFlags, impls.Faults{})
		if err != nil {
			return dir, nil, err
		}
		run.Check = check
	}
	var invalid error
	if solution != nil {
		if invalid = validateSolution(res.History.Events(), solution); invalid != nil {
			run.ValidationFailed, run.ValidationError = true, invalid.Error()
		}
	}
	if err := results.WriteRun(dir, run); err != nil {
		return dir, nil, err
	}
	if invalid != nil {
		return dir, run, invalid
	}
	if err := printSummary(out, run); err != nil {
		return dir, run, err
	}
	if im := tgt.impl; im != nil && im.Epilogue != nil && out.Stdout != nil && !out.JSON {
		im.Epilogue(out.Stdout, run.Overall.Ops, res.Elapsed)
	}
	return dir, run, writeCourseBench(o, run)
}

// withLoadPhase lists the load phase's events (times from loadStart) before
// the run phase's (times from runStart) on one clock that starts at the
// load phase, so the checker sees every write a read could return.
func withLoadPhase(load *results.History, loadStart time.Time, run *results.History, runStart time.Time) []results.Event {
	if load.Len() == 0 {
		return run.Events()
	}
	out := make([]results.Event, 0, load.Len()+run.Len())
	out = load.AppendEvents(out, 0)
	return run.AppendEvents(out, int64(runStart.Sub(loadStart)))
}

// canonicalStreams rewrites every written value of the streams into the
// store's stored form, keeping every op (unlike adaptStream, a benchmark
// counts the kinds a store lacks as errors).
func canonicalStreams(streams func(int) workload.Stream, canonical func(string) string) func(int) workload.Stream {
	if streams == nil {
		return nil
	}
	return func(i int) workload.Stream {
		a := &storeStream{s: streams(i), canonical: canonical}
		for k := range a.supported {
			a.supported[k] = true
		}
		return a
	}
}

// summarize fills run's measured fields from a driver result.
func summarize(run *results.Run, res *driver.Result) {
	run.Seconds = res.Elapsed.Seconds()
	run.Clamped = res.Clamped
	for k := workload.OpType(0); k < workload.NumOpTypes; k++ {
		h := res.Hist[k]
		if h.TotalCount() == 0 && res.Errors[k] == 0 && res.Unknown[k] == 0 {
			continue
		}
		s := results.OpSummary{
			Op: k.String(), Count: h.TotalCount(), Errors: res.Errors[k], Unknown: res.Unknown[k],
			Latency: results.Summarize(h),
		}
		if run.Seconds > 0 {
			s.OpsPerSec = float64(s.Count) / run.Seconds
		}
		if run.Rate > 0 {
			l := results.Summarize(res.Uncorrected[k])
			s.Uncorrected = &l
		}
		run.Ops = append(run.Ops, s)
		// A read-modify-write is also counted as its READ and UPDATE, so
		// the overall count leaves it out, as YCSB's overall throughput does.
		if k != workload.ReadModifyWrite {
			run.Overall.Ops += s.Count
			run.Overall.Errors += s.Errors + s.Unknown
		}
	}
	if run.Seconds > 0 {
		run.Overall.OpsPerSec = float64(run.Overall.Ops) / run.Seconds
	}
}

func sumErrors(res *driver.Result) (n int64) {
	for k := range res.Errors {
		n += res.Errors[k] + res.Unknown[k]
	}
	return n
}

// printSummary writes the YCSB-format summary, or run.json with JSON.
func printSummary(out Output, run *results.Run) error {
	if out.Stdout == nil {
		return nil
	}
	if out.JSON {
		enc := json.NewEncoder(out.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(run)
	}
	return results.WriteYCSB(out.Stdout, run)
}

func outDir(o Output) string {
	if o.Dir == "" {
		return "runs"
	}
	return o.Dir
}

// statusWriter returns where progress goes, or io.Discard when quiet.
func statusWriter(o Output) io.Writer {
	if o.Quiet || o.Status == nil {
		return io.Discard
	}
	return o.Status
}

// workloadPlan is a resolved workload: the streams of the load and run
// phases and the bounds of the run phase.
type workloadPlan struct {
	name     string
	options  map[string]string
	kinds    []impls.Kind
	records  int64
	load     func(worker int) workload.Stream // nil: no load phase
	run      func(worker int) workload.Stream
	ops      int64
	duration time.Duration
	// For run.json's typed config: the resolved YCSB properties, the
	// value size and key distribution; notes to print before the run
	// (renormalised proportions, skipped CS537 lines).
	props     map[string]string
	valueSize int
	dist      string
	notes     []string
	fileOps   int64 // -i: the operations in the file
}

func planWorkload(o *BenchOptions) (*workloadPlan, error) {
	workers := o.Clients * o.Window
	p := &workloadPlan{options: map[string]string{
		"clients": strconv.Itoa(o.Clients), "window": strconv.Itoa(o.Window),
	}}
	if len(o.Target.ImplFlags) > 0 {
		p.options["impl_flags"] = strings.Join(o.Target.ImplFlags, " ")
	}
	p.ops, p.duration = o.Ops, o.Duration
	if o.Input != "" {
		if o.Workload != "" || len(o.PropertyFiles) > 0 || len(o.Props) > 0 {
			return nil, fmt.Errorf("-i replays a file; it cannot be combined with --workload, -P or -p")
		}
		f, err := os.Open(o.Input)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		trace, err := workload.ReadTrace(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Input, err)
		}
		ops := trace.Ops
		if trace.Skipped > 0 {
			// The course client skips malformed lines; say how many.
			p.notes = append(p.notes, fmt.Sprintf("%s: skipped %d malformed CS537 line(s) (the first at line %d); replaying %d operations",
				o.Input, trace.Skipped, trace.FirstSkipped, len(ops)))
		}
		if len(ops) == 0 {
			return nil, fmt.Errorf("%s: no operations", o.Input)
		}
		p.fileOps = int64(len(ops))
		p.name = filepath.Base(o.Input)
		p.options["input"] = o.Input
		p.kinds = kindsOf(ops)
		blocks := workload.Split(ops, workers)
		p.run = func(w int) workload.Stream { return &workload.SliceStream{Ops: blocks[w]} }
		return p, nil
	}
	props, explicitCount, err := resolveProperties(o)
	if err != nil {
		return nil, err
	}
	y, err := workload.NewYCSB(props)
	if err != nil {
		return nil, err
	}
	for k, v := range props {
		p.options[k] = v
	}
	p.name = o.Workload
	if p.name == "" {
		p.name = props["workload.name"]
	}
	if p.name == "" && len(o.PropertyFiles) > 0 {
		p.name = filepath.Base(o.PropertyFiles[len(o.PropertyFiles)-1])
	}
	p.kinds = ycsbKinds(props)
	p.records = y.RecordCount()
	p.props, p.valueSize, p.dist = props, y.ValueSize(), y.Distribution()
	if n := y.ProportionNote(); n != "" {
		p.notes = append(p.notes, n)
	}
	p.load = func(w int) workload.Stream { return y.LoadStream(w, workers, o.Seed) }
	p.run = func(w int) workload.Stream { return y.RunStream(w, o.Seed) }
	if p.ops == 0 && p.duration == 0 {
		if explicitCount > 0 {
			p.ops = explicitCount
		} else {
			p.duration = defaultDuration
		}
	}
	return p, nil
}

// benchConfig is run.json's typed configuration of a benchmark.
func benchConfig(o BenchOptions, plan *workloadPlan) *results.Config {
	c := &results.Config{
		Command: "run", Impl: o.Target.Impl, Target: o.Target.URL, Serve: serveArgs(o.Target.Serve),
		ImplFlags: o.Target.ImplFlags, Workload: plan.name, Properties: plan.props, Input: o.Input,
		Solution: o.Solution, Clients: o.Clients, Window: o.Window, Ops: plan.ops,
		Duration: results.Duration(plan.duration), RecordCount: plan.records, ValueSize: plan.valueSize,
		KeyDistribution: plan.dist, Rate: o.Rate, Check: o.Check, Seed: o.Seed, Kvbench: results.ThisVersion().Kvbench,
	}
	if o.Input != "" {
		c.Workload = filepath.Base(o.Input)
		if c.Ops == 0 {
			c.Ops = plan.fileOps
		}
	}
	return c
}

// serveArgs lists --serve commands as NAME=command.
func serveArgs(sc []impls.ServeCommand) []string {
	var out []string
	for _, c := range sc {
		out = append(out, c.Name+"="+c.Command)
	}
	return out
}

// serverThreads is how many threads the target's servers want on a core
// at least: one per node kvbench runs.
func serverThreads(tgt *opened) int {
	return len(tgt.cluster.Nodes())
}
