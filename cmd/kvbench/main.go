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
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "kvbench:", err)
		os.Exit(1)
	}
}

// exitError carries an exit code for outcomes that are not failures of
// kvbench itself (a check that found a violation exits 1, an unknown verdict
// 2); the command has already printed what it needs to.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run builds the command tree and executes it with args.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "kvbench",
		Short: "Benchmark key-value stores and check them for consistency bugs",
		Long: `kvbench bundles five course key-value stores, generates YCSB and course
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
		newVersionCmd(stdout),
	)
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
