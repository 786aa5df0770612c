package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kvbench/kvbench/report"
)

// reportOptions are the flags of `kvbench report`.
type reportOptions struct {
	output string
	format string
	prune  bool
}

func newReportCmd(stdout, stderr io.Writer) *cobra.Command {
	o := reportOptions{}
	cmd := &cobra.Command{
		Use:   "report [RUN_DIR...]",
		Short: "Write a markdown report with figures from result directories",
		Long: `report reads run directories (run.json and latency.hlog, as kvbench run, fuzz
and scenario run write them) and writes a markdown report: the environment, a
summary table per store and workload, throughput and p99 against clients, the
stores compared per YCSB workload, latency percentile spectra, throughput and
p99 over time with fault windows shaded, and a consistency matrix of fuzz
verdicts linking each check.html. Figures go in a folder beside the report
(report.md -> report-figures/).

A RUN_DIR may be a run directory or a directory of them; the default is runs/.
Runs are repetitions only when their whole configuration (run.json's config:
store, impl flags, workload and properties, clients, window, rate, length,
faults, kvbench version) matches but for the seed; repetitions merge, their
histograms losslessly, their throughput as mean and range. Interrupted runs and
runs that failed -c validation are listed but left out. A run whose run.json or
latency.hlog is corrupt is skipped with a warning; so are run directories a
killed kvbench left without run.json, which --prune removes.`,
		Example: `  kvbench report
  kvbench report runs/20261121-* -o out/report.md
  kvbench report runs --format svg
  kvbench report --prune`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"runs"}
			}
			if o.prune {
				removed, err := report.Prune(args)
				for _, d := range removed {
					fmt.Fprintf(stderr, "removed partial run directory %s\n", d)
				}
				if err != nil {
					return err
				}
			}
			sum, err := report.Generate(args, o.output, report.Options{Format: o.format})
			if err != nil {
				return err
			}
			for _, w := range sum.Warnings {
				fmt.Fprintf(stderr, "warning: %s\n", w)
			}
			fmt.Fprintf(stdout, "wrote %s: %d runs, %d figures in %s\n", sum.Report, sum.Runs, len(sum.Figures), sum.FiguresDir)
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.prune, "prune", false, "first remove run directories a killed kvbench left without run.json")
	cmd.Flags().StringVarP(&o.output, "output", "o", "report.md", "markdown file to write; figures go in <name>-figures/ beside it")
	cmd.Flags().StringVar(&o.format, "format", "png", "figure format: png or svg")
	return cmd
}
