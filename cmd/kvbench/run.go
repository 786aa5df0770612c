package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/registry"
	"github.com/kvbench/kvbench/results"
	"github.com/kvbench/kvbench/scenarios"
	"github.com/kvbench/kvbench/workload"
	"github.com/spf13/cobra"
)

type runOptions struct {
	target    targetFlags
	workload  string
	propFiles []string
	props     []string
	input     string
	solution  string
	clients   int
	window    int
	ops       int64
	duration  time.Duration
	records   int64
	rate      float64
	seed      int64
	out       string
	json      bool
	format    string
	check     bool
	quiet     bool
	jobs      string
}

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Benchmark a store with a YCSB workload or a workload file",
		Long: `run starts a bundled store (or connects to --target), loads YCSB records, drives
the measured phase with -n clients and -w requests in flight per client, and prints
a YCSB-format summary. Results go to runs/<id>/ (run.json, latency.hlog).

With no flags: memkv, YCSB workload A, 1000 records, a 5 s run. Latencies are
HdrHistograms in µs; with --rate the loop is open and latency counts from each
request's intended start (coordinated-omission corrected; uncorrected beside it).`,
		Example: `  kvbench run
  kvbench run --impl memkv --workload b -n 8 --ops 200000 --records 10000
  kvbench run --impl memkv -P workloada -p readproportion=0.9 --duration 30s --rate 20000
  kvbench run --target memcached://127.0.0.1:11211 --workload a -n 16 -w 4
  kvbench run --impl shm -n 1 -w 1 -i workload.txt -c solution.txt
  kvbench run --impl shm -n 3 -w 2 -i workload.txt --check
  kvbench run --impl madkv --impl-flags '--partitions 3' --workload e -n 10 --format madkv
  kvbench run --impl istkvs --jobs ./jobs --impl-flags '--threads 4 --backups 2'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			err := o.run(cmd, stdout, stderr)
			if o.check {
				return noVerdict(err)
			}
			return err
		},
	}
	fs := cmd.Flags()
	o.target.register(fs, "memkv")
	fs.StringVar(&o.workload, "workload", "", "YCSB core workload a..f (default a unless -P is given)")
	fs.StringArrayVarP(&o.propFiles, "property-file", "P", nil, "YCSB property file (repeatable; later files override)")
	fs.StringArrayVarP(&o.props, "prop", "p", nil, "YCSB property key=value (repeatable; overrides -P)")
	fs.StringVarP(&o.input, "input", "i", "", "replay a workload file (CS537 put/get lines or MadKV lines) split among clients")
	fs.StringVarP(&o.solution, "solution", "c", "", "validate GET results against this expected-results file (needs -n 1 -w 1 and -i)")
	fs.IntVarP(&o.clients, "clients", "n", 1, "clients (threads)")
	fs.IntVarP(&o.window, "window", "w", 1, "requests in flight per client")
	fs.Int64Var(&o.ops, "ops", 0, "operations in the measured phase (default: operationcount from -P/-p, else --duration 5s)")
	fs.DurationVar(&o.duration, "duration", 0, "length of the measured phase, e.g. 30s")
	fs.Int64Var(&o.records, "records", 0, "YCSB recordcount: records inserted in the load phase")
	fs.Float64Var(&o.rate, "rate", 0, "open loop at this many ops/s in total (coordinated-omission corrected)")
	fs.Int64Var(&o.seed, "seed", 0, "random seed; worker i draws from seed+i (default: random, recorded in run.json)")
	fs.StringVar(&o.out, "out", "runs", "results directory")
	fs.BoolVar(&o.json, "json", false, "print run.json instead of the YCSB-format summary")
	fs.StringVar(&o.format, "format", "ycsb", "summary format: ycsb, or madkv (the MadKV course runner's bencher block)")
	fs.BoolVar(&o.check, "check", false, "record the history and check it for linearizability")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress output")
	fs.StringVar(&o.jobs, "jobs", "", "istkvs batch mode: run every .job file of DIR to completion, report jobs/s and commands/s, check every .out and .bck")
	return cmd
}

func (o *runOptions) run(cmd *cobra.Command, stdout, stderr io.Writer) error {
	fs := cmd.Flags()
	target, err := o.target.resolve(fs)
	if err != nil {
		return err
	}
	if o.jobs != "" {
		im, err := registry.Lookup(target.Impl)
		if err != nil || im.Batch == nil {
			return fmt.Errorf("--jobs runs a directory of a store's own batch input (IST-KVS .job files): use it with --impl istkvs")
		}
		err = im.Batch(cmd.Context(), o.jobs, target.ImplFlags, stdout)
		if errors.Is(err, impls.ErrInvalid) {
			return exitError{code: 1, err: err}
		}
		return err
	}
	props := map[string]string{}
	for _, kv := range o.props {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("-p %q: want key=value", kv)
		}
		props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	warns, err := workload.CheckNames(props)
	for _, w := range warns {
		fmt.Fprintf(stderr, "warning: -p: %s\n", w)
	}
	if err != nil {
		return fmt.Errorf("-p: %w", err)
	}
	if err := negativeFlag(fs, "ops", "records", "rate", "duration", "clients", "window"); err != nil {
		return err
	}
	switch {
	case fs.Changed("ops") && fs.Changed("duration"):
		return fmt.Errorf("give --ops or --duration, not both")
	}
	if o.format != "ycsb" && o.format != "madkv" || o.format == "madkv" && o.json {
		return fmt.Errorf("--format %q: want ycsb or madkv (and not with --json)", o.format)
	}
	seed := o.seed
	if !fs.Changed("seed") {
		seed = randomSeed()
	}
	bo := scenarios.BenchOptions{
		Target: target, Workload: o.workload, PropertyFiles: o.propFiles, Props: props, Input: o.input,
		Solution: o.solution, Clients: o.clients, Window: o.window, Ops: o.ops, Duration: o.duration,
		Records: o.records, Rate: o.rate, Seed: seed, Check: o.check,
		Output: scenarios.Output{Dir: o.out, Args: commandLine(), Stdout: stdout, Status: stderr, Quiet: o.quiet, JSON: o.json,
			CourseLogs: o.target.courseLogs},
	}
	if o.format == "madkv" {
		bo.Output.Stdout = nil // the block below replaces the YCSB summary
	}
	dir, run, err := scenarios.Bench(cmd.Context(), bo)
	if err == nil && o.format == "madkv" {
		err = results.WriteMadKVBench(stdout, run)
	}
	var mismatch *scenarios.SolutionMismatch
	if errors.As(err, &mismatch) {
		// The course client's exact failure report, on stderr, exit 1.
		fmt.Fprint(stderr, mismatch.Report())
		return exitError{code: 1}
	}
	if err != nil {
		return err
	}
	if c := run.Check; c != nil {
		line := fmt.Sprintf("check: %s — %d ops checked in %v", c.Verdict, c.Ops, time.Duration(c.Seconds*float64(time.Second)).Round(time.Microsecond))
		if c.Detail != "" && c.Verdict != results.VerdictOK {
			line += "; " + c.Detail
		}
		if c.HTML != "" {
			line += " — see " + filepath.Join(dir, c.HTML)
		}
		fmt.Fprintln(stdout, line)
	}
	if !o.quiet {
		fmt.Fprintf(stderr, "results: %s\n", dir)
	}
	return checkExit(run)
}
