package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// exitInterrupted is the exit status after Ctrl-C (SIGINT) or SIGTERM, as a
// shell reports a process that a SIGINT ended: 128+2.
const exitInterrupted = 130

// interruptible lists the commands whose work a signal cuts short: their
// partial results are marked interrupted and they exit 130.
var interruptible = []string{"kvbench run", "kvbench fuzz", "kvbench scenario run", "kvbench check"}

// interrupted turns the end of a command that ctx's signal cut short into
// exit status 130 with a line saying so (whatever the command returned:
// an error caused by the cancellation is not the news).
func interrupted(ctx context.Context, cmd *cobra.Command, err error, stderr io.Writer) error {
	if ctx.Err() == nil || cmd == nil {
		return err
	}
	path := cmd.CommandPath()
	for _, c := range interruptible {
		if path == c {
			msg := "kvbench: interrupted"
			if err != nil {
				msg += ": " + err.Error()
			}
			if !strings.Contains(msg, "no results written") {
				msg += " (partial results, if any, are marked interrupted in run.json and left out of reports)"
			}
			fmt.Fprintln(stderr, msg)
			return exitError{code: exitInterrupted}
		}
	}
	return err
}

// negativeFlag returns an error naming the first of the given numeric flags
// that was set to a negative value.
func negativeFlag(fs *pflag.FlagSet, names ...string) error {
	for _, n := range names {
		f := fs.Lookup(n)
		if f == nil || !f.Changed {
			continue
		}
		if v := f.Value.String(); strings.HasPrefix(v, "-") {
			return fmt.Errorf("--%s %s: cannot be negative", n, v)
		}
	}
	return nil
}
