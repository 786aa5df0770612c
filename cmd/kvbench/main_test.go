package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/internal/kvbenchtest"
	"github.com/kvbench/kvbench/results"
)

// kvbench runs the command line in-process (servers are started from the
// freshly built binary) and returns stdout, stderr and the error.
func kvbench(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	kvbenchtest.Binary(t)
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func exitCode(err error) int {
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		return 1
	}
}

func TestBadInputGivesOneClearError(t *testing.T) {
	dir := t.TempDir()
	badProps := filepath.Join(dir, "bad.properties")
	os.WriteFile(badProps, []byte("recordcount=10\n=novalue\n"), 0o644)
	badOps := filepath.Join(dir, "bad.txt")
	os.WriteFile(badOps, []byte("PUT k1 v1\nSWAP onlykey\n"), 0o644)
	goodOps := filepath.Join(dir, "good.txt")
	os.WriteFile(goodOps, []byte("put 1 5\nget 1\n"), 0o644)
	out := filepath.Join(dir, "runs")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown impl", []string{"run", "--impl", "nosuch", "--out", out}, `unknown impl "nosuch"`},
		{"bad target", []string{"run", "--target", "http://127.0.0.1:1", "--out", out}, "unknown scheme (known: memcached:"},
		{"unreachable target", []string{"run", "--target", "memcached://127.0.0.1:1", "--out", out}, "unreachable"},
		{"malformed property file", []string{"run", "-P", badProps, "--out", out}, "line 2"},
		{"missing property file", []string{"run", "-P", filepath.Join(dir, "nope"), "--out", out}, "no such file"},
		{"malformed workload line", []string{"run", "-i", badOps, "--out", out}, "line 2"},
		{"window above the store's limit", []string{"run", "--impl", "memkv", "-w", "100000", "--out", out}, "at most"},
		{"bad -p", []string{"run", "-p", "novalue", "--out", out}, "want key=value"},
		{"ops and duration", []string{"run", "--ops", "5", "--duration", "1s", "--out", out}, "not both"},
		{"-c needs one client", []string{"run", "--impl", "shm", "-n", "2", "-i", goodOps, "-c", goodOps, "--out", out}, "-n 1 -w 1"},
		{"unknown workload", []string{"run", "--workload", "z", "--out", out}, "workload"},
		{"shm flags on memkv", []string{"run", "--server-threads", "2", "--out", out}, "--server-threads is shm's flag"},
		{"serve without target", []string{"fuzz", "--serve", "true", "--out", out}, "--serve needs --target"},
		{"crash without a managed server", []string{"fuzz", "--target", "memcached://127.0.0.1:1", "--crash", "--out", out}, "unreachable"},
		{"unknown flag", []string{"run", "--bogus"}, "unknown flag"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := kvbench(t, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "goroutine ") || strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
	// Failed runs leave no half-written result directories behind.
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if _, err := results.ReadRun(filepath.Join(out, e.Name())); err != nil {
			t.Errorf("failed command left %s without run.json", e.Name())
		}
	}
}

func TestRunWritesResultsAndYCSBSummary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	out := filepath.Join(t.TempDir(), "runs")
	stdout, stderr, err := kvbench(t, "run", "--impl", "memkv", "--impl-flags", "--fsync never", "-n", "2", "-w", "2",
		"--ops", "3000", "--records", "200", "--seed", "5", "--out", out, "-q")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, line := range []string{"[OVERALL], RunTime(ms), ", "[OVERALL], Throughput(ops/sec), ", "[READ], 99thPercentileLatency(us), ", "[UPDATE], Return=OK, "} {
		if !strings.Contains(stdout, line) {
			t.Errorf("summary lacks %q:\n%s", line, stdout)
		}
	}
	dir, r := onlyRun(t, out, "run-memkv")
	if r.Overall.Ops != 3000 || r.Overall.Errors != 0 || r.Seed != 5 || r.Clients != 2 || r.Window != 2 {
		t.Errorf("run.json: ops %d errors %d seed %d -n %d -w %d", r.Overall.Ops, r.Overall.Errors, r.Seed, r.Clients, r.Window)
	}
	ivs, err := results.ReadHlog(dir)
	if err != nil {
		t.Fatal(err)
	}
	var logged int64
	for _, iv := range ivs {
		logged += iv.Hist.TotalCount()
	}
	if logged != 3000 {
		t.Errorf("latency.hlog holds %d ops, want 3000", logged)
	}

	// --json prints run.json.
	stdout, _, err = kvbench(t, "run", "--impl", "memkv", "--ops", "500", "--records", "100", "--out", out, "-q", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var j results.Run
	if err := json.Unmarshal([]byte(stdout), &j); err != nil || j.Overall.Ops != 500 {
		t.Fatalf("--json output: %v, ops %d", err, j.Overall.Ops)
	}
}

func TestFuzzVerdicts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and injects faults")
	}
	out := filepath.Join(t.TempDir(), "runs")
	for _, c := range []struct {
		name    string
		args    []string
		verdict string
		code    int
	}{
		{"memkv with crashes", []string{"--impl", "memkv", "--clients", "3", "--conflict", "--crash", "--ops", "400", "--fault-interval", "500ms", "--fault-duration", "100ms"}, results.VerdictOK, 0},
		{"shm with pauses", []string{"--impl", "shm", "--clients", "3", "--conflict", "--pause", "--ops", "400", "--fault-interval", "500ms", "--fault-duration", "100ms"}, results.VerdictOK, 0},
		{"shm with crashes loses its table", []string{"--impl", "shm", "--clients", "2", "--conflict", "--crash", "--ops", "400", "--fault-interval", "500ms", "--fault-duration", "100ms"}, results.VerdictExpected, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"fuzz", "--out", out, "-q", "--json", "--seed", "3"}, c.args...)
			stdout, stderr, err := kvbench(t, args...)
			if exitCode(err) != c.code {
				t.Fatalf("exit %d (%v), want %d\n%s", exitCode(err), err, c.code, stderr)
			}
			var r results.Run
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatalf("%v: %s", err, stdout)
			}
			if r.Check == nil || r.Check.Verdict != c.verdict {
				t.Fatalf("verdict %+v, want %s", r.Check, c.verdict)
			}
			if len(r.Faults) < 2 {
				t.Errorf("%d faults recorded, want at least 2", len(r.Faults))
			}
			for _, f := range r.Faults {
				if f.Error != "" || f.End <= f.Start {
					t.Errorf("fault %+v", f)
				}
			}
		})
	}
}

// onlyRun returns the one run directory under out whose name ends in
// -suffix ("run-memkv", "fuzz-memkv") and its run.json.
func onlyRun(t *testing.T, out, suffix string) (string, *results.Run) {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(out, "*-"+suffix))
	if len(dirs) != 1 {
		t.Fatalf("want one %s run dir, got %v", suffix, dirs)
	}
	r, err := results.ReadRun(dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	return dirs[0], r
}
