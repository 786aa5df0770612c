package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kvbench/kvbench/checker"
	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/registry"
	"github.com/kvbench/kvbench/results"
	"github.com/spf13/cobra"
)

type checkOptions struct {
	timeout     time.Duration
	maxMemoryMB int64
}

func newCheckCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check RUN_DIR",
		Short: "Re-check a saved run's history for linearizability",
		Long: `check re-checks the history.jsonl of a run directory (written by kvbench fuzz, or
kvbench run --check) with Porcupine, per key; a SCAN counts as one read of each key
in its range. On a violation it writes check.html, Porcupine's visualization of the
offending keys with the run's fault windows, and it records the verdict in run.json.

A violation the bundled store's claims predict for the run's --impl-flags and faults
(e.g. a crash with --fsync never) is reported as expected. External targets claim
nothing: every violation counts.

Exit code: 0 ok or expected violation, 1 violation, 2 unknown (the time or memory
limit ran out first; unknown is never a pass).`,
		Example: `  kvbench check runs/20261121-130501-fuzz-memkv
  kvbench check --timeout 10m runs/20261121-130501-fuzz-memkv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return noVerdict(o.run(cmd.Context(), args[0], stdout, stderr))
		},
	}
	fs := cmd.Flags()
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "give up (verdict unknown) after this long; 0 for no limit")
	fs.Int64Var(&o.maxMemoryMB, "max-memory", checker.DefaultMaxHeap>>20,
		"give up (verdict unknown) when the search needs more than this many MiB of heap; 0 for no limit")
	return cmd
}

func (o *checkOptions) run(ctx context.Context, dir string, stdout, stderr io.Writer) error {
	run, err := results.ReadRun(dir)
	if err != nil {
		return err
	}
	opts := checker.Options{Timeout: o.timeout, Claim: claimFor(run, stderr), MaxHeap: o.maxMemoryMB << 20}
	if o.maxMemoryMB <= 0 {
		opts.MaxHeap = -1
	}
	r, err := checker.CheckDirResult(ctx, dir, opts)
	if err != nil {
		return err
	}
	html := filepath.Join(dir, r.HTML)
	switch r.Verdict {
	case results.VerdictOK:
		fmt.Fprintf(stdout, "check: ok — %s, %s, linearizable (%.2fs)\n",
			countOf(r.Ops, "op"), countOf(r.Keys, "key"), r.Elapsed.Seconds())
		return nil
	case results.VerdictExpected:
		fmt.Fprintf(stdout, "check: expected violation on key %q, predicted by the store's claims — see %s\n  %s\n",
			r.Key, html, r.Detail)
		return nil
	case results.VerdictViolation:
		fmt.Fprintf(stdout, "check: VIOLATION on key %q — see %s\n  %s\n", r.Key, html, r.Detail)
		return exitError{code: 1}
	default:
		fmt.Fprintf(stdout, "check: unknown — %s (%d ops, %.2fs)\n", r.Detail, r.Ops, r.Elapsed.Seconds())
		return exitError{code: 2}
	}
}

// claimFor is what the run's store claims for the run's server flags and
// faults (requested, or injected); nil for external targets, which must be
// linearizable.
func claimFor(run *results.Run, stderr io.Writer) *impls.Claim {
	im, err := registry.Lookup(run.Impl)
	if err != nil {
		if !strings.Contains(run.Impl, "://") && !strings.HasPrefix(run.Impl, "exec:") {
			fmt.Fprintf(stderr, "check: %v; checking it as a store that must be linearizable\n", err)
		}
		return nil
	}
	if im.Claims == nil {
		return nil
	}
	// The typed configuration; runs written before it existed kept the
	// same facts as option strings.
	var faults impls.Faults
	var kinds []string
	flags := strings.Fields(run.Options["impl_flags"])
	if cfg := run.Config; cfg != nil {
		flags = cfg.ImplFlags
		if cfg.Faults != nil {
			kinds, faults.Target = cfg.Faults.Kinds, cfg.Faults.Target
		}
	} else {
		for _, k := range []string{"crash", "pause", "partition"} {
			if run.Options[k] == "true" {
				kinds = append(kinds, k)
			}
		}
		faults.Target = run.Options["fault_target"]
	}
	for _, f := range run.Faults { // what was injected counts too
		kinds = append(kinds, f.Kind)
	}
	for _, k := range kinds {
		switch k {
		case "crash":
			faults.Crash = true
		case "pause":
			faults.Pause = true
		case "partition":
			faults.Partition = true
		default:
			if !slices.Contains(faults.Net, k) {
				faults.Net = append(faults.Net, k)
			}
		}
	}
	c := im.Claims(flags, faults)
	return &c
}

// countOf formats n with noun, adding an s unless n is 1: "1 key", "5 keys".
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
