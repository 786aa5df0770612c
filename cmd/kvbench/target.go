package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/registry"

	"github.com/kvbench/kvbench/impls/proc"
	"github.com/kvbench/kvbench/scenarios"
	"github.com/spf13/pflag"
)

// targetFlags are the flags that choose what a command drives; run and fuzz
// share them.
type targetFlags struct {
	impl, url, implFlags string
	serve                []string
	opTimeout            time.Duration
	// fresh are --fresh paths; courseLogs is --course-logs.
	fresh      []string
	courseLogs string
	// shorthands holds the value of each store's shorthand flag, by flag.
	shorthands map[string]*string
}

func (t *targetFlags) register(fs *pflag.FlagSet, defaultImpl string) {
	fs.StringVar(&t.impl, "impl", defaultImpl, "bundled store to start and drive: "+strings.Join(implNames(), ", "))
	fs.StringVar(&t.url, "target", "", "external system instead of --impl: "+strings.Join(targetExamples(), ", ")+" (kvbench targets lists them)")
	fs.StringArrayVar(&t.serve, "serve", nil, "a server command kvbench starts for --target and may fault; repeat it, as NAME='cmd', once per node")
	fs.StringArrayVar(&t.fresh, "fresh", nil, "empty this path (the --serve'd service's durable state, e.g. a backer dir) before each run starts the service (repeatable)")
	fs.StringVar(&t.courseLogs, "course-logs", "", "also write the MadKV course's log layout under DIR (fuzz/fuzz-<a>-<b>.log, bench/bench-<clients>-<wl>[-<n>].log)")
	fs.DurationVar(&t.opTimeout, "op-timeout", 0, "bound on one request for targets that cannot tell by themselves (exec: clients; default 10s)")
	fs.StringVar(&t.implFlags, "impl-flags", "", "extra flags for the bundled store's server, in its own syntax, e.g. '--fsync never'")
	t.shorthands = map[string]*string{}
	for _, im := range registry.All() {
		for _, sh := range im.Shorthands {
			t.shorthands[sh.Flag] = fs.String(sh.Flag, "", im.Name+": "+sh.Usage)
		}
	}
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
	if len(t.serve) > 0 && out.URL == "" {
		return out, fmt.Errorf("--serve needs --target (the address kvbench connects to)")
	}
	serve, err := parseServe(t.serve)
	if err != nil {
		return out, err
	}
	out.Serve = serve
	if len(t.fresh) > 0 && len(serve) == 0 {
		return out, fmt.Errorf("--fresh empties the state of a service kvbench starts: use it with --serve (bundled stores start on a fresh temp dir)")
	}
	out.Fresh = t.fresh
	if t.opTimeout < 0 {
		return out, fmt.Errorf("--op-timeout must not be negative")
	}
	out.OpTimeout = t.opTimeout
	flags, err := proc.SplitArgs(t.implFlags)
	if err != nil {
		return out, fmt.Errorf("--impl-flags: %w", err)
	}
	for _, im := range registry.All() {
		for _, sh := range im.Shorthands {
			if !fs.Changed(sh.Flag) {
				continue
			}
			if out.Impl != im.Name {
				return out, fmt.Errorf("--%s is %s's flag; use --impl-flags for %s", sh.Flag, im.Name, out.Impl+out.URL)
			}
			flags = append(flags, sh.Server, *t.shorthands[sh.Flag])
		}
	}
	if out.URL != "" && len(flags) > 0 {
		return out, fmt.Errorf("--impl-flags applies to bundled stores; pass an external server's flags in --serve")
	}
	out.ImplFlags = flags
	return out, nil
}

// commandLine is what run.json records as the command line.
func commandLine() []string { return append([]string(nil), os.Args...) }

// serveNameRE matches the NAME= prefix of a named --serve.
var serveNameRE = regexp.MustCompile(`^([A-Za-z0-9_.-]+)=(.*)$`)

// parseServe turns --serve values into named commands: NAME='cmd' names a
// node; otherwise the name is the command's first word, made unique. (To set
// an environment variable, write `env VAR=value cmd`.)
func parseServe(values []string) ([]impls.ServeCommand, error) {
	var out []impls.ServeCommand
	seen := map[string]int{}
	for _, v := range values {
		name, cmd := "", strings.TrimSpace(v)
		if m := serveNameRE.FindStringSubmatch(cmd); m != nil {
			name, cmd = m[1], strings.TrimSpace(m[2])
		}
		if cmd == "" {
			return nil, fmt.Errorf("--serve %q: empty command", v)
		}
		if name == "" {
			name = filepath.Base(strings.Fields(cmd)[0])
			if n := seen[name]; n > 0 {
				name = fmt.Sprintf("%s-%d", name, n+1)
			}
		} else if seen[name] > 0 {
			return nil, fmt.Errorf("--serve %s=...: the name %s is given twice", name, name)
		}
		seen[name]++
		out = append(out, impls.ServeCommand{Name: name, Command: cmd})
	}
	return out, nil
}

// implNames lists the bundled stores for help texts.
func implNames() []string {
	var names []string
	for _, im := range registry.All() {
		names = append(names, im.Name)
	}
	return names
}

// targetExamples lists one example per target scheme for help texts.
func targetExamples() []string {
	var ex []string
	for _, t := range registry.Targets() {
		ex = append(ex, t.Example)
	}
	return ex
}
