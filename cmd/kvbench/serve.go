package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
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
  kvbench serve shm -n 2 -s 1000
  kvbench serve --cpuprofile memkv.prof memkv --fsync never`,
		Args:               cobra.MinimumNArgs(1),
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "-h" || args[0] == "--help" {
				return cmd.Help()
			}
			// Flags are the store's own, so cobra parses none; kvbench's
			// --cpuprofile may come before the store's name, to profile a
			// server as shipped.
			profile, args, err := cutCPUProfile(args)
			if err != nil {
				return err
			}
			im, err := registry.Lookup(args[0])
			if err != nil {
				return err
			}
			if im.Serve == nil {
				return fmt.Errorf("%s has no server", im.Name)
			}
			if profile != "" {
				f, err := os.Create(profile)
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					f.Close()
					return err
				}
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
			return storeExit(im.Serve(cmd.Context(), args[1:], stdout, stderr), stderr)
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

// cutCPUProfile takes a leading --cpuprofile FILE (or --cpuprofile=FILE) off
// serve's arguments and returns the file and the rest, which must still name
// a store.
func cutCPUProfile(args []string) (string, []string, error) {
	file := ""
	switch {
	case args[0] == "--cpuprofile":
		if len(args) < 2 {
			return "", nil, fmt.Errorf("--cpuprofile needs a file")
		}
		file, args = args[1], args[2:]
	case strings.HasPrefix(args[0], "--cpuprofile="):
		file, args = strings.TrimPrefix(args[0], "--cpuprofile="), args[1:]
	default:
		return "", args, nil
	}
	if file == "" || len(args) == 0 {
		return "", nil, fmt.Errorf("usage: kvbench serve [--cpuprofile FILE] NAME [the system's own arguments]")
	}
	return file, args, nil
}
