package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/kvbench/kvbench/impls/proc"
	"github.com/kvbench/kvbench/scenarios"
	"github.com/spf13/pflag"
)

// targetFlags are the flags that choose what a command drives; run and fuzz
// share them.
type targetFlags struct {
	impl, url, serve, implFlags string
	serverThreads, tableSize    int
}

func (t *targetFlags) register(fs *pflag.FlagSet, defaultImpl string) {
	fs.StringVar(&t.impl, "impl", defaultImpl, "bundled store to start and drive (see `kvbench serve --help` for the list)")
	fs.StringVar(&t.url, "target", "", "external store instead of --impl: memcached://host:port")
	fs.StringVar(&t.serve, "serve", "", "server command kvbench starts for --target (so faults can crash it), e.g. './myserver --port 22122'")
	fs.StringVar(&t.implFlags, "impl-flags", "", "extra flags for the bundled store's server, in its own syntax, e.g. '--fsync never'")
	fs.IntVar(&t.serverThreads, "server-threads", 0, "shm: server threads (the course server's -n)")
	fs.IntVar(&t.tableSize, "table-size", 0, "shm: initial hash table size (the course server's -s)")
}

// resolve turns the flags into a scenarios.Target. --target wins over the
// default --impl unless --impl was given explicitly.
func (t *targetFlags) resolve(fs *pflag.FlagSet) (scenarios.Target, error) {
	var out scenarios.Target
	switch {
	case t.url != "" && fs.Changed("impl"):
		return out, fmt.Errorf("give --impl or --target, not both")
	case t.url != "":
		out.URL = t.url
	default:
		out.Impl = t.impl
	}
	if t.serve != "" && out.URL == "" {
		return out, fmt.Errorf("--serve needs --target (the address kvbench connects to)")
	}
	out.Serve = t.serve
	flags, err := proc.SplitArgs(t.implFlags)
	if err != nil {
		return out, fmt.Errorf("--impl-flags: %w", err)
	}
	if (t.serverThreads != 0 || t.tableSize != 0) && out.Impl != "shm" {
		return out, fmt.Errorf("--server-threads and --table-size are shm's flags; use --impl-flags for %s", out.Impl+out.URL)
	}
	if t.serverThreads < 0 || t.tableSize < 0 {
		return out, fmt.Errorf("--server-threads and --table-size must be positive")
	}
	if t.serverThreads > 0 {
		flags = append(flags, "-n", strconv.Itoa(t.serverThreads))
	}
	if t.tableSize > 0 {
		flags = append(flags, "-s", strconv.Itoa(t.tableSize))
	}
	if out.URL != "" && len(flags) > 0 {
		return out, fmt.Errorf("--impl-flags applies to bundled stores; pass an external server's flags in --serve")
	}
	out.ImplFlags = flags
	return out, nil
}

// commandLine is what run.json records as the command line.
func commandLine() []string { return append([]string(nil), os.Args...) }
