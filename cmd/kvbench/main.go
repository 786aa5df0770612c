// Command kvbench benchmarks key-value stores and checks them for consistency
// bugs. See README.md and `kvbench --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/kvbench/kvbench/results"
	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintln(os.Stderr, "kvbench:", ee.err)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "kvbench:", err)
		os.Exit(1)
	}
}

// exitError carries an exit code: a check that found a violation exits 1,
// an unknown verdict 2 (the command has already printed its verdict; err is
// nil), and an error that kept a checking command from reaching a verdict
// exits exitNoVerdict with err printed, so a script never reads a server
// that failed to start as a caught bug.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit status %d", e.code)
}

func (e exitError) Unwrap() error { return e.err }

// exitNoVerdict is the exit code of a checking command (fuzz, check,
// run --check, scenario run) that failed before it could give a verdict.
const exitNoVerdict = 3

// noVerdict maps an error of a checking command to exitNoVerdict, keeping
// verdict codes as they are.
func noVerdict(err error) error {
	var ee exitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	return exitError{code: exitNoVerdict, err: err}
}

// run builds the command tree and executes it with args.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	return interrupted(ctx, cmd, err, stderr)
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "kvbench",
		Short: "Benchmark key-value stores and check them for consistency bugs",
		Long: bundledStores() + `, generates YCSB and course
workloads, drives bundled stores, real memcached or your own client with honest
HdrHistogram latency measurement, injects crashes and pauses, checks histories for
linearizability with Porcupine, and renders markdown reports.`,
		Example: `  kvbench run --impl memkv --workload a -n 8 --ops 100000
  kvbench fuzz --impl memkv --clients 5 --conflict --crash
  kvbench report`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       results.ThisVersion().Kvbench,
	}
	var cpuprofile string
	root.PersistentFlags().StringVar(&cpuprofile, "cpuprofile", "", "write a Go CPU profile of kvbench itself to this file (go tool pprof)")
	var profile *os.File
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if cpuprofile == "" {
			return nil
		}
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		profile = f
		return pprof.StartCPUProfile(f)
	}
	root.PersistentPostRunE = func(cmd *cobra.Command, args []string) error {
		if profile == nil {
			return nil
		}
		pprof.StopCPUProfile()
		return profile.Close()
	}
	root.AddCommand(
		newGenCmd(stdout, stderr),
		newRunCmd(stdout, stderr),
		newFuzzCmd(stdout, stderr),
		newCheckCmd(stdout, stderr),
		newReportCmd(stdout, stderr),
		newScenarioCmd(stdout, stderr),
		newServeCmd(stdout, stderr),
		newClientCmd(stdout, stderr),
		newTargetsCmd(stdout),
		newVersionCmd(stdout),
	)
	addCompletions(root)
	return root
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print kvbench's version",
		Example: "  kvbench version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := results.ThisVersion()
			fmt.Fprintf(stdout, "kvbench %s (%s)\n", v.Kvbench, v.Go)
			return nil
		},
	}
}
