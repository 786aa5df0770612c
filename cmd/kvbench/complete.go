package main

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kvbench/kvbench/impls/registry"
	"github.com/kvbench/kvbench/scenarios"
	"github.com/kvbench/kvbench/workload"
)

// addCompletions registers shell completion (kvbench completion bash|zsh|
// fish|powershell) for every name a user types: --impl and the store names
// of serve and client, --target schemes, --workload letters, -p property
// names, --fault-target policies, scenario names and files, figure and
// summary formats, and run directories for report and check.
func addCompletions(root *cobra.Command) {
	walk(root, func(c *cobra.Command) {
		for flag, fn := range map[string]cobra.CompletionFunc{
			"impl":         completeStores,
			"store":        completeStoresOrAll,
			"target":       completeTargets,
			"workload":     fixed(workloadChoices()...),
			"prop":         completeProps,
			"fault-target": fixed("random", "leader", "follower", "minority", "majority"),
		} {
			if c.Flags().Lookup(flag) != nil {
				_ = c.RegisterFlagCompletionFunc(flag, fn)
			}
		}
		switch c.CommandPath() {
		case "kvbench serve", "kvbench client":
			c.ValidArgsFunction = firstArg(completeStores)
		case "kvbench scenario run", "kvbench scenario list":
			c.ValidArgsFunction = firstArg(completeScenarios)
		case "kvbench report":
			c.ValidArgsFunction = dirs
		case "kvbench check":
			c.ValidArgsFunction = firstArg(dirs)
		}
		if f := c.Flags().Lookup("format"); f != nil {
			switch c.CommandPath() {
			case "kvbench report":
				_ = c.RegisterFlagCompletionFunc("format", fixed("png", "svg"))
			case "kvbench run":
				_ = c.RegisterFlagCompletionFunc("format", fixed("ycsb", "madkv"))
			case "kvbench gen":
				_ = c.RegisterFlagCompletionFunc("format", fixed("genworkload", "ycsb", "madkv"))
			}
		}
	})
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// fixed completes one of the given words (each may carry a "\tdescription").
func fixed(words ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return words, cobra.ShellCompDirectiveNoFileComp
	}
}

// firstArg completes the first positional argument with fn and nothing
// after it (serve and client pass the rest to the store).
func firstArg(fn cobra.CompletionFunc) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return fn(c, args, toComplete)
	}
}

func completeStores(_ *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, im := range registry.All() {
		out = append(out, cobra.CompletionWithDesc(im.Name, im.Summary))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func completeStoresOrAll(c *cobra.Command, args []string, s string) ([]cobra.Completion, cobra.ShellCompDirective) {
	out, d := completeStores(c, args, s)
	return append(out, cobra.CompletionWithDesc("all", "every bundled store")), d
}

// completeTargets completes a target's scheme ("memcached://", "exec:");
// the rest (an address, a command) is the user's.
func completeTargets(_ *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, t := range registry.Targets() {
		prefix := t.Scheme + ":"
		if strings.HasPrefix(t.Example, prefix+"//") {
			prefix += "//"
		}
		out = append(out, cobra.CompletionWithDesc(prefix, t.Summary))
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

func workloadChoices() []string {
	desc := map[string]string{
		"a": "update heavy: 50% reads, 50% updates", "b": "read mostly: 95% reads, 5% updates",
		"c": "read only", "d": "read latest: 95% reads, 5% inserts", "e": "short ranges: 95% scans, 5% inserts",
		"f": "read-modify-write: 50% reads, 50% read-modify-writes",
	}
	var out []string
	for _, l := range workload.CoreWorkloads {
		out = append(out, cobra.CompletionWithDesc(string(l), desc[string(l)]))
	}
	return out
}

// completeProps completes "-p NAME=": the properties kvbench acts on.
func completeProps(_ *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, p := range workload.UsedProperties() {
		out = append(out, p+"=")
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// completeScenarios completes the built-in scenarios' names and the YAML
// files under the directory being typed.
func completeScenarios(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	out := append([]string(nil), scenarios.BundledScenarios()...)
	dir := filepath.Dir(toComplete)
	if !strings.Contains(toComplete, "/") {
		dir = "."
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		name := e.Name()
		if dir != "." {
			name = filepath.Join(dir, name)
		}
		switch {
		case e.IsDir() && !strings.HasPrefix(e.Name(), "."):
			out = append(out, name+"/")
		case strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml"):
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

func dirs(_ *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// bundledStores says how many course stores kvbench bundles, and which, as
// the registry has them: "kvbench bundles 5 course key-value stores (memkv,
// shm, ...)".
func bundledStores() string {
	names := implNames()
	return "kvbench bundles " + strconv.Itoa(len(names)) + " course key-value stores (" + strings.Join(names, ", ") + ")"
}
