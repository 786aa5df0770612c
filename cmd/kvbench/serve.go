package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/kvbench/kvbench/impls/registry"
	"github.com/spf13/cobra"
)

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "serve NAME [the system's own arguments]",
		Short: "Run a bundled store's server in the foreground",
		Long: `serve runs one bundled store's server with that system's own command line
until interrupted. kvbench run and fuzz start servers this way.
` + storeList() + `
kvbench serve NAME -h shows a store's own arguments.`,
		Example: `  kvbench serve memkv --addr 127.0.0.1:11311 --data ./memkv-data --fsync always
  kvbench serve shm -n 2 -s 1000`,
		Args:               cobra.MinimumNArgs(1),
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "-h" || args[0] == "--help" {
				return cmd.Help()
			}
			im, err := registry.Lookup(args[0])
			if err != nil {
				return err
			}
			if im.Serve == nil {
				return fmt.Errorf("%s has no server", im.Name)
			}
			return im.Serve(cmd.Context(), args[1:], stdout, stderr)
		},
	}
}

// storeList lists the bundled stores with their summaries, for help texts.
func storeList() string {
	var b strings.Builder
	b.WriteString("\nBundled stores:\n")
	for _, im := range registry.All() {
		fmt.Fprintf(&b, "  %-7s %s\n", im.Name, im.Summary)
	}
	return b.String()
}
