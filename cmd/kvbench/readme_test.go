package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/impls/proc"
)

// readmeCommands returns every `kvbench ...` line of the README's code
// blocks, without its trailing comment, with its line number.
func readmeCommands(t *testing.T, path string) map[int]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmds := map[int]string{}
	sc := bufio.NewScanner(f)
	in := false
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "```") {
			in = !in
			continue
		}
		if !in {
			continue
		}
		line = strings.TrimPrefix(line, "$ ")
		line = strings.TrimPrefix(line, "bin/")
		if !strings.HasPrefix(line, "kvbench ") && line != "kvbench" {
			continue
		}
		// A comment starts at " #" outside quotes.
		quote := byte(0)
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case quote != 0 && c == quote:
				quote = 0
			case quote == 0 && (c == '\'' || c == '"'):
				quote = c
			case quote == 0 && c == '#' && i > 0 && line[i-1] == ' ':
				line = strings.TrimSpace(line[:i])
				i = len(line)
			}
		}
		line, _, _ = strings.Cut(line, " > ") // a redirection
		line, _, _ = strings.Cut(line, " < ")
		line, _, _ = strings.Cut(line, " | ")
		cmds[n] = line
	}
	return cmds
}

// TestReadmeCommandsParse: every kvbench command line in the README's code
// blocks names an existing command and flags that exist, with values they
// accept, so the README cannot drift from the binary.
func TestReadmeCommandsParse(t *testing.T) {
	cmds := readmeCommands(t, "../../README.md")
	if len(cmds) < 10 {
		t.Fatalf("found only %d kvbench commands in README.md", len(cmds))
	}
	for _, e := range badCommands(cmds) {
		t.Errorf("README.md:%s", e)
	}
}

// TestReadmeCheckCatchesDrift: the check above finds a removed flag, a bad
// value and an unknown command.
func TestReadmeCheckCatchesDrift(t *testing.T) {
	path := t.TempDir() + "/README.md"
	os.WriteFile(path, []byte("text\n```sh\nkvbench run --workload a -n 2   # fine\n"+
		"kvbench run --bogus 1\nkvbench run -n many\nkvbench frobnicate\nkvbench report runs -o r.md\n```\n"), 0o644)
	errs := badCommands(readmeCommands(t, path))
	if len(errs) != 3 {
		t.Errorf("%d errors, want 3: %q", len(errs), errs)
	}
}

// badCommands parses each command line without running it and returns one
// "LINE: command: error" per line that does not parse.
func badCommands(cmds map[int]string) []string {
	var out []string
	lines := make([]int, 0, len(cmds))
	for n := range cmds {
		lines = append(lines, n)
	}
	sort.Ints(lines)
	for _, n := range lines {
		line := cmds[n]
		fail := func(err error) { out = append(out, fmt.Sprintf("%d: %q: %v", n, line, err)) }
		args, err := proc.SplitArgs(line)
		if err != nil {
			fail(err)
			continue
		}
		root := newRootCmd(io.Discard, io.Discard)
		cmd, rest, err := root.Find(args[1:])
		if err != nil {
			fail(err)
			continue
		}
		if cmd == root && len(rest) > 0 {
			fail(fmt.Errorf("unknown command %q", rest[0]))
			continue
		}
		if cmd.DisableFlagParsing {
			continue // serve and client pass their arguments to the store
		}
		if err := cmd.ParseFlags(rest); err != nil {
			fail(err)
			continue
		}
		if cmd.Args != nil {
			if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
				fail(err)
			}
		}
	}
	return out
}
