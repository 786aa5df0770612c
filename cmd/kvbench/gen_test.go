package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/workload"
)

// The -update flag rewrites golden files. It is registered in an init
// function, after every package-level variable of the package is
// initialized, and only if no other test file of package main registered
// it already, so test files can share it. Read it with updateGolden.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func updateGolden() bool {
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	v, _ := strconv.ParseBool(f.Value.String())
	return v
}

// runGen runs `kvbench gen args...` and returns its stdout.
func runGen(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newGenCmd(&out, &errb)
	cmd.SetArgs(args)
	cmd.SetOut(&errb)
	cmd.SetErr(&errb)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestGenGolden(t *testing.T) {
	got, err := runGen(t, "20", "--seed", "7")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "gen-20-seed7.golden")
	if updateGolden() {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if got != string(want) {
		t.Errorf("gen 20 --seed 7 output changed:\n%s\nwant:\n%s", got, want)
	}
	// The default seed is 1, so the default output is reproducible too.
	a, _ := runGen(t, "20")
	b, _ := runGen(t, "20", "--seed", "1")
	if a != b || a == got {
		t.Error("default seed is not 1")
	}
}

func TestGenSolutionFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "solution.txt")
	out, err := runGen(t, "500", "-s", "1.5", "-r", "0.3", "--seed", "4", "--solution", path)
	if err != nil {
		t.Fatal(err)
	}
	ops, sol, _ := workload.GenCS537(500, 1.5, 0.3, 4)
	var want bytes.Buffer
	workload.WriteCS537(&want, ops)
	if out != want.String() {
		t.Error("stdout differs from GenCS537's ops")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := workload.ReadSolution(f)
	if err != nil || len(got) != len(sol) || len(sol) != 350 {
		t.Fatalf("solution file: %d values (%v), want %d", len(got), err, len(sol))
	}
	for i := range sol {
		if got[i] != sol[i] {
			t.Fatalf("solution line %d: %d, want %d", i+1, got[i], sol[i])
		}
	}
}

func TestGenMadKV(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		lines int
		kinds string // request words that must appear
	}{
		{[]string{"300", "--format", "madkv", "--workload", "a"}, 300, "GET SWAP"},
		{[]string{"300", "--format", "madkv", "--workload", "e", "--load"}, 1300, "PUT SCAN"},
		{[]string{"300", "--format", "madkv", "--workload", "f", "-p", "fieldlength=3"}, 300, "GET SWAP"},
	} {
		out, err := runGen(t, tc.args...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		tr, err := workload.ReadTrace(strings.NewReader(out))
		if err != nil || tr.Format != workload.FormatMadKV || len(tr.Ops) != tc.lines {
			t.Fatalf("%v: %d MadKV ops (%v), want %d", tc.args, len(tr.Ops), err, tc.lines)
		}
		for _, word := range strings.Fields(tc.kinds) {
			if !strings.Contains(out, word+" ") {
				t.Errorf("%v: no %s line", tc.args, word)
			}
		}
		if strings.Contains(out, "UPDATE") || strings.Contains(out, "put ") {
			t.Errorf("%v: output is not MadKV", tc.args)
		}
	}
	// A workload A update is a SWAP, with a 1000-byte value by default.
	out, _ := runGen(t, "50", "--format", "madkv")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); f[0] == "SWAP" && len(f[2]) != 1000 {
			t.Fatalf("SWAP value of %d bytes", len(f[2]))
		}
	}
}

func TestGenYCSBTrace(t *testing.T) {
	out, err := runGen(t, "100", "--format", "ycsb", "--workload", "b", "-p", "fieldcount=1", "-p", "fieldlength=4", "--seed", "3")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 100 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, line := range lines {
		f := strings.Fields(line)
		switch {
		case f[0] == "READ" && len(f) == 3 && f[1] == "usertable" && strings.HasPrefix(f[2], "user"):
		case f[0] == "UPDATE" && len(f) == 4 && len(f[3]) == 4:
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
	again, _ := runGen(t, "100", "--format", "ycsb", "--workload", "b", "-p", "fieldcount=1", "-p", "fieldlength=4", "--seed", "3")
	if again != out {
		t.Error("same seed, different trace")
	}
}

func TestGenPropertyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w")
	os.WriteFile(path, []byte("recordcount=10\nreadproportion=1\nupdateproportion=0\ninsertorder=ordered\n"), 0o600)
	out, err := runGen(t, "40", "--format", "ycsb", "-P", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		n, err := strconv.Atoi(strings.TrimPrefix(f[2], "user"))
		if f[0] != "READ" || err != nil || n < 0 || n >= 10 {
			t.Fatalf("line %q: want a READ of user0..user9", line)
		}
	}
}

func TestGenRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"0"}, "positive integer"},
		{[]string{"--", "-5"}, "positive integer"},
		{[]string{"-5"}, "unknown shorthand flag"},
		{[]string{"ten"}, "positive integer"},
		{[]string{"1.5"}, "positive integer"},
		{[]string{}, "arg"},
		{[]string{"10", "-r", "1.5"}, "[0, 1]"},
		{[]string{"10", "-r", "-0.1"}, "[0, 1]"},
		{[]string{"10", "-r", "NaN"}, "[0, 1]"},
		{[]string{"10", "-s", "-1"}, "skew"},
		{[]string{"10", "--format", "csv"}, "unknown --format"},
		{[]string{"10", "--format", "madkv", "--workload", "g"}, "unknown YCSB core workload"},
		{[]string{"10", "--format", "madkv", "-p", "requestdistribution=pareto"}, "requestdistribution"},
		{[]string{"10", "--format", "madkv", "-p", "novalue"}, "key=value"},
		{[]string{"10", "--format", "madkv", "-P", "/nonexistent/file"}, "no such file"},
		{[]string{"10", "--format", "madkv", "-r", "0.5"}, "--put-ratio applies only"},
		{[]string{"10", "--format", "ycsb", "--solution", "x"}, "--solution applies only"},
		{[]string{"10", "--workload", "a"}, "--workload applies only"},
		{[]string{"10", "--format", "madkv", "-p", "operationcount=5"}, "operation count"},
		{[]string{"10", "--seed", "x"}, "invalid argument"},
	} {
		out, err := runGen(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("gen %v: error %v, want one containing %q", tc.args, err, tc.want)
		}
		if out != "" {
			t.Errorf("gen %v wrote output despite the error", tc.args)
		}
	}
}

func TestGenHelp(t *testing.T) {
	var out bytes.Buffer
	cmd := newGenCmd(&out, &out)
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Examples:", "kvbench gen 1000", "--solution", "--format"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
