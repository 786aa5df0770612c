package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/kvbench/kvbench/impls/registry"
	"github.com/spf13/cobra"
)

func newTargetsCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "targets",
		Short: "List the external systems kvbench can drive (--target schemes) and the bundled stores (--impl)",
		Long: `targets lists every --target scheme with what it drives and an example, then
every bundled store. --serve 'CMD' (repeatable, NAME='CMD' per node) lets kvbench
start an external target's servers so the nemesis can crash and restart them.`,
		Example: `  kvbench targets
  kvbench run --target memcached://127.0.0.1:11211 --workload a -n 16 -w 4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SCHEME\tDRIVES\tEXAMPLE")
			for _, t := range registry.Targets() {
				fmt.Fprintf(w, "%s:\t%s\t--target %s\n", t.Scheme, t.Summary, t.Example)
			}
			fmt.Fprintln(w, "\nSTORE\tBUNDLED\tEXAMPLE")
			for _, im := range registry.All() {
				fmt.Fprintf(w, "%s\t%s\t--impl %s\n", im.Name, im.Summary, im.Name)
			}
			return w.Flush()
		},
	}
}
