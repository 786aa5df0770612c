package scenarios

import (
	"context"
	"fmt"
	"github.com/kvbench/kvbench/driver"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/nemesis"
	"github.com/kvbench/kvbench/results"
	"github.com/kvbench/kvbench/workload"
)

// Fuzz defaults: MadKV's runner configuration.
const (
	DefaultFuzzClients   = 1
	DefaultFuzzKeys      = 5
	DefaultFuzzOps       = 5000
	DefaultFuzzValueSize = 16
	DefaultFaultInterval = 2 * time.Second
	DefaultFaultDuration = 500 * time.Millisecond
	recoveryTimeout      = 15 * time.Second
	opTimeoutBeyondFault = 2 * time.Second
	fuzzCheckTimeout     = 60 * time.Second
	// minFaults: a fuzz run with faults goes on past its ops until this
	// many faults have been injected and healed, so a fast store cannot
	// finish before the nemesis acts; maxFaultRun bounds that extension.
	minFaults   = 2
	maxFaultRun = 2 * time.Minute
	// failBackoff spaces a client's requests after a failure, so a server
	// that is down is not hammered by (and the history not flooded with)
	// instantly refused connections.
	failBackoff              = 20 * time.Millisecond
	fuzzStatusLabel          = "fuzz"
	recoveryProbeKeyFallback = "kvbenchprobe"
)

// Fuzz runs one fuzz test: clients with one request in flight each send the
// MadKV op mix (or a YCSB workload) under a per-run key namespace, the
// nemesis injects the requested faults, and the recorded history is checked
// for linearizability. It writes history.jsonl, run.json and, on a
// violation, check.html, and prints a one-line verdict.
func Fuzz(ctx context.Context, o FuzzOptions) (dir string, run *results.Run, err error) {
	applyFuzzDefaults(&o)
	out := o.Output
	status := statusWriter(out)
	// The namespace is fresh on every run, whatever the seed: a replayed
	// seed must not collide with the keys an earlier run left behind.
	ns := workload.RandomNamespace(rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid()))))
	mix, err := newFuzzMix(o, ns)
	if err != nil {
		return "", nil, err
	}
	dir, tgt, err := startRun(ctx, out, "fuzz", o.Target, o.Clients, 1)
	if err != nil {
		return "", nil, err
	}
	defer tgt.close()
	defer func() {
		if werr := writeCourseFuzz(o, run, dir); err == nil {
			err = werr
		}
	}()
	faults := o.Faults()
	epoch := time.Now()
	cfg := driver.Config{
		Clients: o.Clients, Window: 1, Ops: int64(o.Clients) * int64(o.OpsPerClient),
		Record: true, Epoch: epoch, OpTimeout: o.FaultDuration + opTimeoutBeyondFault,
		FailBackoff: failBackoff,
	}
	st := newStatusLine(status, fuzzStatusLabel)
	cfg.Progress = st.update
	var nem *nemesis.Nemesis
	nemDone := make(chan struct{})
	nemCtx, stopNemesis := context.WithCancel(ctx)
	defer stopNemesis()
	if faults.Any() {
		nem, err = nemesis.New(tgt.cluster, nemesis.Config{
			Kinds: faultKinds(faults), Target: faults.Target, Interval: o.FaultInterval, Duration: o.FaultDuration,
			Epoch: epoch, Seed: o.Seed, MinFaults: minFaults, Log: status,
		})
		if err != nil {
			return dir, nil, err
		}
		// Pace the clients so the requested ops span about minFaults+1
		// fault intervals: the faults land inside the run and the history
		// stays the size the user asked for. Continue covers a store too
		// slow or too fast for the estimate.
		span := time.Duration(minFaults+1) * (o.FaultInterval + o.FaultDuration)
		cfg.Rate = float64(cfg.Ops) / span.Seconds()
		cfg.Continue = nem.Enough()
		cfg.Duration = maxFaultRun
		go func() { nem.Run(nemCtx); close(nemDone) }()
	} else {
		close(nemDone)
	}
	stopObserving, err := observeNotifications(o, tgt.cluster, mix.keys, epoch)
	if err != nil {
		return dir, nil, err
	}
	streams := func(i int) workload.Stream { return adaptStream(mix.streams(i), tgt.impl) }
	probe := results.BeginLoad(o.Clients + serverThreads(tgt))
	res, err := driver.Run(ctx, cfg, tgt.cluster.NewClient, streams)
	load := probe.End()
	st.done()
	stopNemesis()
	<-nemDone
	if err != nil {
		return dir, nil, err
	}
	// The history as events, sorted by call time; they share the recorders'
	// strings, and the recorders' records go once res.History is dropped.
	events := res.History.Events()
	res.History = nil
	var windows []results.Fault
	if nem != nil {
		windows = nem.Windows()
	}
	var notifSummary string
	var notifProblems []string
	if stopObserving != nil {
		notifSummary, notifProblems = stopObserving(events, windows)
	}

	run = &results.Run{
		ID: filepath.Base(dir), Command: "fuzz", Args: out.Args, Impl: o.Target.Name(), Workload: mix.name,
		Tags: out.Tags, Seed: o.Seed, Clients: o.Clients, Window: 1, Start: epoch,
		Versions: results.ThisVersion(), Machine: results.ThisMachine(), Faults: windows,
		Config: fuzzConfig(o, mix.name, faults), Interrupted: ctx.Err() != nil, Load: load,
		Options: map[string]string{
			"keys": strconv.Itoa(o.Keys), "ops_per_client": strconv.Itoa(o.OpsPerClient),
			"conflict": strconv.FormatBool(o.Conflict), "value_size": strconv.Itoa(o.ValueSize),
			"namespace": ns, "crash": strconv.FormatBool(o.Crash), "pause": strconv.FormatBool(o.Pause),
			"fault_interval": o.FaultInterval.String(), "fault_duration": o.FaultDuration.String(),
			"partition": strconv.FormatBool(o.Partition), "net": strings.Join(o.Net, ","), "fault_target": o.FaultTarget,
		},
	}
	if len(o.Target.ImplFlags) > 0 {
		run.Options["impl_flags"] = strings.Join(o.Target.ImplFlags, " ")
	}
	summarize(run, res)
	if err := results.WriteHistory(dir, events); err != nil {
		return dir, nil, err
	}
	// After the last fault the store must serve again.
	var recoveryErr error
	if len(windows) > 0 && ctx.Err() == nil {
		recoveryErr = probeRecovery(ctx, tgt.cluster, mix.keys)
	}
	check, err := checkHistory(ctx, dir, events, windows, tgt.impl, o.Target.ImplFlags, faults)
	if err != nil {
		return dir, nil, err
	}
	run.Check = check
	if stopObserving != nil {
		foldNotifications(dir, run, notifSummary, notifProblems)
	}
	if err := results.WriteRun(dir, run); err != nil {
		return dir, nil, err
	}
	printVerdict(out, o, run, dir)
	if recoveryErr != nil {
		return dir, run, fmt.Errorf("the store did not serve again after the last fault: %w", recoveryErr)
	}
	return dir, run, nil
}

func applyFuzzDefaults(o *FuzzOptions) {
	if o.Clients <= 0 {
		o.Clients = DefaultFuzzClients
	}
	if o.Keys <= 0 {
		o.Keys = DefaultFuzzKeys
	}
	if o.OpsPerClient <= 0 {
		o.OpsPerClient = DefaultFuzzOps
	}
	if o.ValueSize <= 0 {
		o.ValueSize = DefaultFuzzValueSize
	}
	if o.FaultInterval <= 0 {
		o.FaultInterval = DefaultFaultInterval
	}
	if o.FaultDuration <= 0 {
		o.FaultDuration = DefaultFaultDuration
	}
}

// probeRecovery reads one key until the store answers or recoveryTimeout.
func probeRecovery(ctx context.Context, c impls.Cluster, keys []string) error {
	key := recoveryProbeKeyFallback
	if len(keys) > 0 {
		key = keys[0]
	}
	ctx, cancel := context.WithTimeout(ctx, recoveryTimeout)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		cl, err := c.NewClient(ctx, 0)
		if err == nil {
			opCtx, opCancel := context.WithTimeout(ctx, time.Second)
			_, err = cl.Do(opCtx, impls.Request{Kind: impls.Get, Key: key})
			opCancel()
			cl.Close()
			if err == nil {
				return nil
			}
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no answer within %v: %w", recoveryTimeout, last)
}

// printVerdict prints the fuzz run's one-line verdict on stdout.
func printVerdict(out Output, o FuzzOptions, run *results.Run, dir string) {
	if out.Stdout == nil {
		return
	}
	if out.JSON {
		_ = printSummary(out, run)
		return
	}
	c := run.Check
	faults := ""
	if n := len(run.Faults); n > 0 {
		faults = fmt.Sprintf(", %d faults", n)
	}
	what := fmt.Sprintf("%d clients × %d ops%s, %d ok, %d failed, %d unknown", o.Clients, o.OpsPerClient, faults,
		run.Overall.Ops, run.Overall.Errors-countUnknown(run), countUnknown(run))
	switch c.Verdict {
	case results.VerdictOK:
		fmt.Fprintf(out.Stdout, "fuzz: ok — %s; linearizable (checked %d ops in %v) — %s\n", what, c.Ops, checkTime(c.Seconds), dir)
	case results.VerdictExpected:
		fmt.Fprintf(out.Stdout, "fuzz: expected violation — %s; %s — see %s\n", what, c.Detail, filepath.Join(dir, c.HTML))
	case results.VerdictViolation:
		fmt.Fprintf(out.Stdout, "fuzz: VIOLATION — %s; %s — see %s\n", what, c.Detail, filepath.Join(dir, c.HTML))
	default:
		fmt.Fprintf(out.Stdout, "fuzz: unknown — %s; %s — %s\n", what, c.Detail, dir)
	}
}

func countUnknown(run *results.Run) (n int64) {
	for _, op := range run.Ops {
		n += op.Unknown
	}
	return n
}

// faultKinds lists the nemesis kinds f asks for, in a fixed order.
func faultKinds(f impls.Faults) []nemesis.Kind {
	var ks []nemesis.Kind
	for _, k := range []struct {
		on   bool
		kind nemesis.Kind
	}{{f.Crash, nemesis.Crash}, {f.Pause, nemesis.Pause}, {f.Partition, nemesis.Partition}} {
		if k.on {
			ks = append(ks, k.kind)
		}
	}
	for _, n := range f.Net {
		ks = append(ks, nemesis.Kind(n))
	}
	return ks
}

// checkTime formats a check's duration in seconds to 3 significant
// digits: a 4 ms check does not read as "0.00s".
func checkTime(secs float64) time.Duration {
	d := time.Duration(secs * float64(time.Second))
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// fuzzConfig is run.json's typed configuration of a fuzz run.
func fuzzConfig(o FuzzOptions, workloadName string, faults impls.Faults) *results.Config {
	c := &results.Config{
		Command: "fuzz", Impl: o.Target.Impl, Target: o.Target.URL, Serve: serveArgs(o.Target.Serve),
		ImplFlags: o.Target.ImplFlags, Workload: workloadName, Clients: o.Clients, Window: 1,
		Ops: int64(o.OpsPerClient), RecordCount: int64(o.Keys), ValueSize: o.ValueSize,
		KeyDistribution: "disjoint", Seed: o.Seed, Kvbench: results.ThisVersion().Kvbench,
	}
	if o.Conflict {
		c.KeyDistribution = "conflict"
	}
	if faults.Any() {
		fc := &results.FaultConfig{Target: o.FaultTarget, Interval: results.Duration(o.FaultInterval),
			Duration: results.Duration(o.FaultDuration)}
		for _, k := range faultKinds(faults) {
			fc.Kinds = append(fc.Kinds, string(k))
		}
		c.Faults = fc
	}
	return c
}
