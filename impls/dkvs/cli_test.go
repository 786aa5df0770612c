package dkvs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runClient runs the CLI against servers.txt text in a temp dir and returns
// stdout, stderr and the exit status.
func runClient(t *testing.T, serversTxt string, args ...string) (string, string, int) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "servers.txt")
	if serversTxt != "" {
		if err := os.WriteFile(path, []byte(serversTxt), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	err := runCLI(context.Background(), cliOptions{servers: path, timeout: time.Second}, args, &out, &errb)
	code := 0
	if err != nil {
		ec, ok := err.(interface{ ExitCode() int })
		if !ok {
			t.Fatalf("%q: error %v carries no exit code", args, err)
		}
		code = ec.ExitCode()
	}
	return out.String(), errb.String(), code
}

const help = HelpText

func TestCLICommands(t *testing.T) {
	_, txt := startServers(t, 3, "abc", "def", "ex", "example", "empty", "")
	for _, tc := range []struct {
		args           []string
		stdout, stderr string
		exit           int
	}{
		{[]string{"help"}, help, "", 0},
		{[]string{"help", "-n", "0", "--", "x"}, help, "", 0},
		{nil, help, "ERROR: Invalid command\n", 134},
		{[]string{"frobnicate"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"get", "--", "abc"}, "OK def\n", "", 0},
		{[]string{"get", "-r", "1", "-n", "3", "--", "abc"}, "OK def\n", "", 0},
		{[]string{"get", "-r", "3", "--", "abc"}, "OK def\n", "", 0},
		{[]string{"get", "--", "empty"}, "OK \n", "", 0},
		{[]string{"get", "--", "nope"}, "FAIL\n" + help, "ERROR: Not found\n", 137},
		{[]string{"get", "--", ""}, "FAIL\n" + help, "ERROR: Invalid argument (internal error)\n", 135},
		{[]string{"get"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"get", "--"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"get", "--", "a", "b"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"get", "abc"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"get", "-x", "5", "--", "abc"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"get", "-n", "0", "--", "abc"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"get", "-n", "-1", "--", "abc"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"get", "-n", "12abc", "--", "abc"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"get", "-n"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"get", "-n", "2", "-r", "3", "--", "abc"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"get", "-r", "255", "--", "abc"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"get", "-w", "0", "--", "abc"}, help, "ERROR: Invalid command\n", 134},
		// -w is ignored by get: N stays 3, R 2.
		{[]string{"get", "-w", "9", "--", "abc"}, "OK def\n", "", 0},
		{[]string{"put", "--", "k", "v"}, "OK\n", "", 0},
		{[]string{"put", "-w", "1", "--", "k1", "v1"}, "OK\n", "", 0},
		{[]string{"put", "--", "k"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"put", "-n", "2", "-w", "3", "--", "k", "v"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"find", "--", "ex", "abc"}, "OK -1\n", "", 0},
		{[]string{"find", "--", "abc", "abc"}, "OK 0\n", "", 0},
		{[]string{"find", "--", "ex", "nope"}, "FAIL\n" + help, "ERROR: Not found\n", 137},
		{[]string{"find", "--", "ex"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"cat", "--", "abc"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"cat", "--", "abc", "nope", "d"}, "FAIL\n" + help, "ERROR: Not found\n", 137},
		{[]string{"substr", "--", "ex", "1", "2"}, help, "ERROR: Invalid command\n", 134},
		{[]string{"substr", "--", "nope", "0", "1", "d"}, "FAIL\n" + help, "ERROR: Not found\n", 137},
		{[]string{"substr", "--", "ex", "x", "1", "d"}, "FAIL\n" + help, "ERROR: Invalid command\n", 134},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errs, code := runClient(t, txt, tc.args...)
			if out != tc.stdout || errs != tc.stderr || code != tc.exit {
				t.Errorf("stdout %q\nstderr %q\nexit %d\nwant stdout %q\nstderr %q\nexit %d", out, errs, code, tc.stdout, tc.stderr, tc.exit)
			}
		})
	}
}

func TestCLIDerivedCommands(t *testing.T) {
	_, txt := startServers(t, 3, "ex", "example", "a", "x", "b", "yz")
	ok := func(args ...string) {
		t.Helper()
		if out, errs, code := runClient(t, txt, args...); code != 0 || errs != "" {
			t.Fatalf("%q: %q %q %d", args, out, errs, code)
		}
	}
	get := func(k string) string {
		t.Helper()
		out, _, _ := runClient(t, txt, "get", "--", k)
		return out
	}
	ok("cat", "--", "a", "b", "ex", "dest")
	if g := get("dest"); g != "OK xyzexample\n" {
		t.Errorf("cat a b ex: %q", g)
	}
	ok("cat", "--", "ex", "copy")
	if g := get("copy"); g != "OK example\n" {
		t.Errorf("cat with one source copies: %q", g)
	}
	for _, tc := range []struct{ pos, n, want string }{
		{"0", "2", "ex"}, {"1", "1", "x"}, {"4", "3", "ple"}, {"-1", "1", "e"},
		{"-2", "2", "le"}, {"2", "0", ""}, {"7", "0", ""},
		{"5", "3", "FAIL"}, {"-1", "2", "FAIL"}, {"5", "-3", "FAIL"}, {"8", "0", "FAIL"}, {"-8", "1", "FAIL"},
	} {
		out, errs, code := runClient(t, txt, "substr", "--", "ex", tc.pos, tc.n, "sub")
		if tc.want == "FAIL" {
			if out != "FAIL\n"+help || errs != "ERROR: Invalid command\n" || code != 134 {
				t.Errorf("substr %s %s: %q %q %d, want FAIL / invalid command", tc.pos, tc.n, out, errs, code)
			}
			continue
		}
		if out != "OK\n" || code != 0 {
			t.Errorf("substr %s %s: %q %d", tc.pos, tc.n, out, code)
		}
		if g := get("sub"); g != "OK "+tc.want+"\n" {
			t.Errorf("substr %s %s stored %q, want %q", tc.pos, tc.n, g, tc.want)
		}
	}
	out, _, _ := runClient(t, txt, "find", "--", "ex", "sub")
	if out != "OK 0\n" { // sub holds "" after the last successful substr (7 0)
		t.Errorf("find of the empty value: %q", out)
	}
	ok("put", "--", "needle", "mpl")
	if out, _, _ := runClient(t, txt, "find", "--", "ex", "needle"); out != "OK 3\n" {
		t.Errorf("find mpl in example: %q", out)
	}
}

// TestCLIServersFile: each bad servers.txt class, before the argument count.
func TestCLIServersFile(t *testing.T) {
	for _, tc := range []struct {
		name, txt, stderr string
		exit              int
	}{
		{"missing", "", "ERROR: I/O Error\n", 129},
		{"bad count", "127.0.0.1 1234 -1\n", "ERROR: Invalid config\n", 133},
		{"zero count", "127.0.0.1 1234 0\n", "ERROR: Invalid config\n", 133},
		{"bad port", "127.0.0.1 -1234 1\n", "ERROR: Invalid config\n", 133},
		{"port too big", "127.0.0.1 70000 1\n", "ERROR: Invalid config\n", 133},
		{"garbage line", "coucou\n", "ERROR: Invalid config\n", 133},
		{"bad ip", "127.0.001 1234 1\n", "ERROR: Invalid address\n", 136},
		{"ip out of range", "256.0.0.1 1234 1\n", "ERROR: Invalid address\n", 136},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := runClient(t, tc.txt, "get", "--")
			if out != help || errs != tc.stderr || code != tc.exit {
				t.Errorf("stdout %q stderr %q exit %d; want help, %q, %d", out, errs, code, tc.stderr, tc.exit)
			}
		})
	}
}

func TestCLIServersDown(t *testing.T) {
	txt := deadAddrs(t, 3)
	for _, tc := range []struct {
		args   []string
		stderr string
		exit   int
	}{
		{[]string{"get", "--", "abc"}, "ERROR: Not found\n", 137},
		{[]string{"put", "--", "abc", "def"}, "ERROR: Network error\n", 132},
		{[]string{"cat", "--", "a", "b"}, "ERROR: Not found\n", 137},
	} {
		out, errs, code := runClient(t, txt, tc.args...)
		if out != "FAIL\n"+help || errs != tc.stderr || code != tc.exit {
			t.Errorf("%q with every server down: %q %q %d", tc.args, out, errs, code)
		}
	}
	// One server of three up: R=1 reads, R=2 does not reach its quorum.
	_, up := startServers(t, 1, "abc", "def")
	txt = up + deadAddrs(t, 2)
	if out, _, code := runClient(t, txt, "get", "-r", "1", "-n", "3", "--", "abc"); out != "OK def\n" || code != 0 {
		t.Errorf("R=1 with one server up: %q %d", out, code)
	}
	if out, errs, code := runClient(t, txt, "get", "-r", "2", "-n", "3", "--", "abc"); out != "FAIL\n"+help || code != 137 || errs != "ERROR: Not found\n" {
		t.Errorf("R=2 with one server up: %q %q %d", out, errs, code)
	}
}

func TestDumpRing(t *testing.T) {
	srv, txt := startServers(t, 2, "abc", "def")
	// A second node for the first server, and a third server that is down.
	var first string
	for _, l := range strings.Split(strings.TrimSpace(txt), "\n") {
		if first == "" {
			first = strings.TrimSuffix(l, " 1") + " 2"
		}
	}
	lines := strings.Split(strings.TrimSpace(txt), "\n")
	dead := strings.TrimSpace(deadAddrs(t, 1))
	file := first + "\n" + lines[1] + "\n" + dead + "\n"
	ring := mustRing(t, file)
	var want strings.Builder
	want.WriteString("Ring nodes:\n")
	for _, n := range ring.Nodes {
		fmt.Fprintf(&want, "%x (%s %d)\n", n.Pos, n.Addr.Addr(), n.Addr.Port())
	}
	want.WriteString("\n")
	seen := map[string]int{}
	for i, n := range ring.Nodes {
		hp := hostPort(n.Addr)
		if j, ok := seen[hp]; ok {
			fmt.Fprintf(&want, "%s: node %d has same server as node %d\n\n", hp, i, j)
			continue
		}
		seen[hp] = i
		fmt.Fprintf(&want, "%s:\n", hp)
		if hp == srv[0].addr || hp == srv[1].addr {
			want.WriteString("storing 1 key-value pairs:\nabc --> def\n\n")
		}
	}
	out, errs, code := runClient(t, file, "dump-ring")
	if out != want.String() || errs != "" || code != 0 {
		t.Errorf("dump-ring:\n%s\nwant:\n%s\n(stderr %q, exit %d)", out, want.String(), errs, code)
	}
	if !strings.Contains(out, "has same server as node") {
		t.Error("no virtual node repeated a server")
	}
}

// TestDumpRingLargeValues: five 30 000-byte values come back in several
// datagrams, each printed followed by a newline, and together hold every pair.
func TestDumpRingLargeValues(t *testing.T) {
	val := strings.Repeat("0", 30000)
	_, txt := startServers(t, 1)
	ctx := context.Background()
	qc := &QuorumClient{Ring: mustRing(t, txt), Q: Quorum{N: 1, W: 1, R: 1}}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if err := qc.Put(ctx, k, val); err != nil {
			t.Fatal(err)
		}
	}
	out, _, code := runClient(t, txt, "dump-ring")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	_, dump, _ := strings.Cut(out, ":\nstoring 5 key-value pairs:\n")
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if !strings.Contains(dump, k+" --> "+val+"\n") {
			t.Errorf("pair %s missing from the dump", k)
		}
	}
	if n := strings.Count(out, val+"\n\n"); n != 3 {
		t.Errorf("%d datagram ends after a value, want 3 datagrams", n)
	}
}
