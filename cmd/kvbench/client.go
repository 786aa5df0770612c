package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/kvbench/kvbench/impls/registry"
	"github.com/spf13/cobra"
)

func newClientCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "client NAME [the system's own arguments]",
		Short: "Run a bundled store's client in the foreground (MadKV stdin/stdout lines)",
		Long: `client runs one bundled store's own client with that system's command line.
For stores whose own client is not line-oriented it is a MadKV stdin/stdout
client: one request per line (PUT k v, SWAP k v, GET k, DELETE k, SCAN k1 k2,
STOP), one reply per request, so every bundled store can be driven through
--target exec:'kvbench client NAME ...'. A failed request is answered
"ERROR <class> <message>" (see kvbench client NAME --help).`,
		Example: `  kvbench client memkv 127.0.0.1:11311 < ops.txt
  kvbench run --target exec:'kvbench client memkv 127.0.0.1:11311' --workload a -n 4`,
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
			if im.Client == nil {
				return fmt.Errorf("%s has no client (stores with one: %s)", im.Name, clientNames())
			}
			return storeExit(im.Client(cmd.Context(), args[1:], cmd.InOrStdin(), stdout, stderr), stderr)
		},
	}
	cmd.Long += "\n\nStores with a client:\n" + clientList()
	return cmd
}

// clientList lists the bundled stores that have a client, one per line.
func clientList() string {
	var b strings.Builder
	for _, im := range registry.All() {
		if im.Client != nil {
			fmt.Fprintf(&b, "  %-8s %s\n", im.Name, im.Summary)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// clientNames names the bundled stores that have a client.
func clientNames() string {
	var names []string
	for _, im := range registry.All() {
		if im.Client != nil {
			names = append(names, im.Name)
		}
	}
	return strings.Join(names, ", ")
}

// storeExit maps the error of a store's own server or client to kvbench's
// exit: an error with ExitCode() sets the code the original would exit with,
// and is printed unless it says it was already Reported() (byte-exact
// stderr, as dkvs's tests compare).
func storeExit(err error, stderr io.Writer) error {
	var coded interface{ ExitCode() int }
	if !errors.As(err, &coded) {
		return err
	}
	var rep interface{ Reported() bool }
	if !errors.As(err, &rep) || !rep.Reported() {
		fmt.Fprintln(stderr, "kvbench:", err)
	}
	return exitError{code: coded.ExitCode()}
}
