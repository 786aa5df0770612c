package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kvbench/kvbench/scenarios"
)

// scenarioOptions are the flags of `kvbench scenario run` and `list`.
type scenarioOptions struct {
	out     string
	quiet   bool
	stores  []string
	targets []string
	serve   []string
	// fresh are --fresh paths; courseLogs is --course-logs (scenario run).
	fresh       []string
	courseLogs  string
	faultTarget string
}

func newScenarioCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scenario",
		Short: "Run a sweep of benchmarks and fuzz tests described in a YAML file",
		Long: `A scenario file lists stores, workloads, client counts, in-flight windows,
durations or op counts, faults and repetitions; kvbench runs one benchmark or
fuzz test per combination and tags each run so kvbench report can group them.
See scenarios/quick.yaml for the format. The scenarios quick (the demo, about two
minutes), madkv-p1 (MadKV's stage 1 report) and full are built in: give their
name instead of a file.`,
		Example: `  kvbench scenario run scenarios/quick.yaml --out runs
  kvbench scenario list scenarios/madkv-p1.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newScenarioRunCmd(stdout), newScenarioListCmd(stdout))
	return cmd
}

func (o *scenarioOptions) storeFlags(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&o.stores, "store", nil, "run these bundled stores instead of the file's (repeatable, or comma-separated; all = every store)")
	cmd.Flags().StringSliceVar(&o.stores, "impl", nil, "the same as --store, as run and fuzz spell it")
	cmd.Flags().StringArrayVar(&o.targets, "target", nil, "run this external target instead of the file's stores (repeatable), e.g. memcached://127.0.0.1:11211 or exec:'./client 127.0.0.1:3777'")
	cmd.Flags().StringVar(&o.faultTarget, "fault-target", "", "fault these nodes in every fuzz run instead of the file's fault_target, e.g. s1,s2 (--serve names)")
	cmd.Flags().StringArrayVar(&o.fresh, "fresh", nil, "empty this path (the --serve'd service's durable state) before each run starts the service (repeatable)")
	cmd.Flags().StringArrayVar(&o.serve, "serve", nil, "a server command kvbench starts for every --target run (repeatable, NAME='cmd' per node), so faults can reach it")
}

// load reads the scenario and applies --store and --target.
func (o *scenarioOptions) load(path string) (*scenarios.Scenario, error) {
	s, err := scenarios.LoadScenario(path)
	if err != nil {
		return nil, err
	}
	if len(o.stores) > 0 || len(o.targets) > 0 {
		if err := s.SetStores(o.stores, o.targets); err != nil {
			return nil, err
		}
	}
	if len(o.serve) > 0 {
		if len(o.targets) == 0 {
			return nil, fmt.Errorf("--serve needs --target (the address kvbench connects to)")
		}
		serve, err := parseServe(o.serve)
		if err != nil {
			return nil, err
		}
		s.SetServe(serve)
	}
	if len(o.fresh) > 0 {
		if len(o.serve) == 0 {
			return nil, fmt.Errorf("--fresh empties the state of a service kvbench starts: use it with --serve")
		}
		s.SetFresh(o.fresh)
	}
	s.SetCourseLogs(o.courseLogs)
	s.SetFaultTarget(o.faultTarget)
	return s, nil
}

func newScenarioRunCmd(stdout io.Writer) *cobra.Command {
	o := scenarioOptions{}
	cmd := &cobra.Command{
		Use:   "run FILE.yaml|NAME",
		Short: "Run every combination of a scenario file",
		Long: `run executes the scenario's runs one after another, printing a progress line per
run. Stores that cannot run a combination (a workload needing scans on a store
without them, a window above the store's maximum) skip it with a note. A failed
run is reported and the sweep goes on; Ctrl-C stops it and keeps the finished
runs. Then: kvbench report OUT.`,
		Example: `  kvbench scenario run scenarios/quick.yaml --out runs
  kvbench scenario run quick
  kvbench scenario run scenarios/madkv-p1.yaml --store memkv
  kvbench scenario run scenarios/madkv-p1.yaml --target memcached://127.0.0.1:11211
  kvbench scenario run madkv-p1 --target exec:'./client 127.0.0.1:3777' --serve './server 0.0.0.0:3777'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := o.load(args[0])
			if err != nil {
				return err
			}
			_, err = scenarios.RunScenario(cmd.Context(), s, scenarios.SweepOptions{
				Out: o.out, Progress: stdout, Quiet: o.quiet,
			})
			return err
		},
	}
	cmd.Flags().StringVar(&o.out, "out", "runs", "base results directory; each run writes OUT/<id>/")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print only skips, failures and the final line")
	cmd.Flags().StringVar(&o.courseLogs, "course-logs", "", "also write the MadKV course's log layout under DIR (fuzz/, bench/), for its report script")
	o.storeFlags(cmd)
	return cmd
}

func newScenarioListCmd(stdout io.Writer) *cobra.Command {
	o := scenarioOptions{}
	cmd := &cobra.Command{
		Use:   "list FILE.yaml|NAME",
		Short: "Print the runs a scenario file plans, without running them",
		Example: `  kvbench scenario list scenarios/quick.yaml
  kvbench scenario list scenarios/full.yaml --store memkv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := o.load(args[0])
			if err != nil {
				return err
			}
			p, err := s.Plan(nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "scenario %s: %s\n", s.Name, strings.TrimSpace(s.Description))
			for _, n := range p.Notes() {
				fmt.Fprintln(stdout, n)
			}
			for i, st := range p.Steps {
				fmt.Fprintf(stdout, "[%d/%d] %s: %s\n", i+1, len(p.Steps), st, shellJoin(st.Args()))
			}
			fmt.Fprintf(stdout, "%d runs, %d skipped", len(p.Steps), len(p.Skipped))
			if d := p.MeasuredTime(); d > 0 {
				fmt.Fprintf(stdout, "; at least %s of measured time", d)
			}
			fmt.Fprintln(stdout)
			return nil
		},
	}
	o.storeFlags(cmd)
	return cmd
}

// shellJoin joins argv so a shell splits it back the same way: words with
// spaces or shell metacharacters are single-quoted.
func shellJoin(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
