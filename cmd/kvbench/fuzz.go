package main

import (
	"fmt"
	"io"
	"time"

	"github.com/kvbench/kvbench/nemesis"
	"github.com/kvbench/kvbench/results"
	"github.com/kvbench/kvbench/scenarios"
	"github.com/spf13/cobra"
)

type fuzzOptions struct {
	target        targetFlags
	clients, keys int
	ops           int
	conflict      bool
	valueSize     int
	workload      string
	seed          int64
	crash, pause  bool
	partition     bool
	net           []string
	faultTarget   string
	faultInterval time.Duration
	faultDuration time.Duration
	out           string
	json, quiet   bool
	subscribe     bool
}

func newFuzzCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &fuzzOptions{}
	cmd := &cobra.Command{
		Use:   "fuzz",
		Short: "Fuzz a store with concurrent clients and faults, then check linearizability",
		Long: `fuzz reproduces the MadKV runner's fuzzer: each client keeps one request in flight
and sends PUT 2, SWAP 2, GET 3, SCAN 2, DELETE 1 (of 10) over 8-character keys and
16-character values, under a fresh per-run key prefix so data already in the store
is never touched. --crash SIGKILLs a server process and restarts it on the same
data; --pause SIGSTOPs and SIGCONTs it. The history is checked with Porcupine.

Verdict and exit code: ok (0); a violation the store's claims predict, e.g. a crash
with --fsync never (0, reported as expected); violation (1); unknown (2).`,
		Example: `  kvbench fuzz --impl memkv
  kvbench fuzz --impl memkv --clients 5 --conflict --crash
  kvbench fuzz --impl memkv --crash --impl-flags '--fsync never'
  kvbench fuzz --impl shm --clients 3 --conflict --pause
  kvbench fuzz --impl memkv --workload f --clients 4 --keys 10 --crash
  kvbench fuzz --target memcached://127.0.0.1:11211 --clients 5 --conflict
  kvbench fuzz --target memcached://127.0.0.1:22122 --serve './myserver --port 22122' --crash
  kvbench fuzz --impl madkv --impl-flags '--partitions 3' --clients 5 --conflict --crash --fault-target server
  kvbench fuzz --impl istkvs --clients 5 --conflict --crash --subscribe`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return noVerdict(o.run(cmd, stdout, stderr))
		},
	}
	fs := cmd.Flags()
	o.target.register(fs, "memkv")
	fs.IntVar(&o.clients, "clients", scenarios.DefaultFuzzClients, "concurrent clients, one request in flight each")
	fs.IntVar(&o.keys, "keys", scenarios.DefaultFuzzKeys, "keys per client (shared by all clients with --conflict)")
	fs.IntVar(&o.ops, "ops", scenarios.DefaultFuzzOps, "operations per client")
	fs.BoolVar(&o.conflict, "conflict", false, "all clients use the same keys")
	fs.IntVar(&o.valueSize, "value-size", scenarios.DefaultFuzzValueSize, "value length in characters")
	fs.StringVar(&o.workload, "workload", "", "send YCSB core workload a..f instead of the MadKV mix (--keys records, shared by all clients)")
	fs.Int64Var(&o.seed, "seed", 0, "random seed (default: random, recorded in run.json)")
	fs.BoolVar(&o.crash, "crash", false, "SIGKILL a server process every --fault-interval and restart it")
	fs.BoolVar(&o.pause, "pause", false, "SIGSTOP a server process every --fault-interval, SIGCONT after --fault-duration")
	fs.BoolVar(&o.partition, "partition", false, "cut a node's links through kvbench's proxy every --fault-interval (stores whose nodes have one)")
	fs.StringSliceVar(&o.net, "net", nil, "degrade a node's links through kvbench's proxy: loss, delay, dup (comma-separated)")
	fs.StringVar(&o.faultTarget, "fault-target", "random", "which nodes a fault hits: random, leader, follower, minority, majority, a role or node name, or node names s1,s2 faulted together")
	fs.DurationVar(&o.faultInterval, "fault-interval", scenarios.DefaultFaultInterval, "mean time between faults")
	fs.DurationVar(&o.faultDuration, "fault-duration", scenarios.DefaultFaultDuration, "how long a process stays down or paused")
	fs.StringVar(&o.out, "out", "runs", "results directory")
	fs.BoolVar(&o.json, "json", false, "print run.json instead of the verdict line")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress output")
	fs.BoolVar(&o.subscribe, "subscribe", false, "istkvs: sessions subscribe to the keys; every change must be notified once, in order")
	return cmd
}

func (o *fuzzOptions) run(cmd *cobra.Command, stdout, stderr io.Writer) error {
	fs := cmd.Flags()
	target, err := o.target.resolve(fs)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"clients", o.clients}, {"keys", o.keys}, {"ops", o.ops}, {"value-size", o.valueSize}} {
		if f.v < 1 {
			return fmt.Errorf("--%s %d: must be at least 1", f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"fault-interval", o.faultInterval}, {"fault-duration", o.faultDuration}} {
		if f.v <= 0 {
			return fmt.Errorf("--%s %s: must be positive", f.name, f.v)
		}
	}
	for _, n := range o.net {
		if k, err := nemesis.ParseKind(n); err != nil || (k != nemesis.Loss && k != nemesis.Delay && k != nemesis.Dup) {
			return fmt.Errorf("--net %q: want loss, delay or dup", n)
		}
	}
	seed := o.seed
	if !fs.Changed("seed") {
		seed = randomSeed()
	}
	fo := scenarios.FuzzOptions{
		Target: target, Clients: o.clients, Keys: o.keys, OpsPerClient: o.ops, Conflict: o.conflict,
		ValueSize: o.valueSize, Workload: o.workload, Seed: seed, Crash: o.crash, Pause: o.pause,
		Partition: o.partition, Net: o.net, FaultTarget: o.faultTarget,
		FaultInterval: o.faultInterval, FaultDuration: o.faultDuration, Subscribe: o.subscribe,
		Output: scenarios.Output{Dir: o.out, Args: commandLine(), Stdout: stdout, Status: stderr, Quiet: o.quiet, JSON: o.json,
			CourseLogs: o.target.courseLogs},
	}
	_, run, err := scenarios.Fuzz(cmd.Context(), fo)
	if err != nil {
		return err
	}
	if !o.json {
		// The MadKV runner's last line, which the course's scripts parse.
		fmt.Fprint(stdout, results.FuzzResultLine(run.Check, scenarios.IsTerminal(stdout)))
	}
	return checkExit(run)
}
