package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kvbench/kvbench/internal/kvbenchtest"
	"github.com/kvbench/kvbench/results"
)

// kvbenchCancelled runs the command line in-process and cancels its context
// (as Ctrl-C does) once ready, polled every 10 ms with what the command has
// written to stderr so far, reports true: cancelling on an event, not after
// a fixed time, so a slow machine cannot move the interrupt into another
// phase. The command runs at most a minute before it is cancelled anyway.
func kvbenchCancelled(t *testing.T, ready func(stderr string) bool, args ...string) (string, string, error) {
	t.Helper()
	kvbenchtest.Binary(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	var errb kvbenchtest.Buffer
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer cancel()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		limit := time.After(time.Minute)
		for !ready(errb.String()) {
			select {
			case <-done:
				return
			case <-limit:
				return
			case <-tick.C:
			}
		}
	}()
	err := run(ctx, args, &out, &errb)
	return out.String(), errb.String(), err
}

// TestInterruptExits130: Ctrl-C in the measured phase exits 130, says so,
// and marks the partial run everywhere it goes (run.json, the summary).
func TestInterruptExits130(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	out := filepath.Join(t.TempDir(), "runs")
	// Interrupt once the measured phase has begun (its latency log exists)
	// and has run a little.
	var measuring time.Time
	inRun := func(string) bool {
		if measuring.IsZero() {
			if m, _ := filepath.Glob(filepath.Join(out, "*", "."+results.HlogFile+".tmp*")); len(m) > 0 {
				measuring = time.Now()
			}
			return false
		}
		return time.Since(measuring) > 300*time.Millisecond
	}
	stdout, stderr, err := kvbenchCancelled(t, inRun, "run", "--impl", "memkv", "--records", "100",
		"--duration", "60s", "--out", out, "-q")
	if exitCode(err) != 130 {
		t.Fatalf("exit %d (%v), want 130\n%s", exitCode(err), err, stderr)
	}
	if !strings.Contains(stderr, "kvbench: interrupted") {
		t.Errorf("stderr does not say interrupted: %q", stderr)
	}
	if !strings.Contains(stdout, "[OVERALL], Interrupted, true") {
		t.Errorf("summary not marked interrupted:\n%s", stdout)
	}
	_, r := onlyRun(t, out, "run-memkv")
	if !r.Interrupted || r.Seconds > 30 {
		t.Errorf("run.json: interrupted %v after %.1fs", r.Interrupted, r.Seconds)
	}
}

// TestInterruptDuringLoad: Ctrl-C while loading records exits 130 without
// a bogus "1 of N inserts failed (first: <nil>)" and leaves no results.
func TestInterruptDuringLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	out := filepath.Join(t.TempDir(), "runs")
	loading := func(stderr string) bool { return strings.Contains(stderr, "loading ") }
	_, stderr, err := kvbenchCancelled(t, loading, "run", "--impl", "memkv", "--records", "5000000",
		"--out", out)
	if exitCode(err) != 130 {
		t.Fatalf("exit %d (%v), want 130\n%s", exitCode(err), err, stderr)
	}
	if strings.Contains(stderr, "inserts failed") || !strings.Contains(stderr, "interrupted during the load phase") {
		t.Errorf("stderr:\n%s", stderr)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("left %d result dirs", len(entries))
	}
}

func TestInputErrorsNameTheFlag(t *testing.T) {
	out := filepath.Join(t.TempDir(), "runs")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--records", "-3"}, "--records -3: cannot be negative"},
		{[]string{"run", "--rate", "-1"}, "--rate -1: cannot be negative"},
		{[]string{"run", "--duration", "-2s"}, "--duration -2s: cannot be negative"},
		{[]string{"run", "-p", "readproprotion=0.9"}, `-p: unknown property "readproprotion": did you mean readproportion?`},
		{[]string{"run", "-p", "nosuchprop=1"}, `unknown property "nosuchprop" (the closest known property is`},
	} {
		_, _, err := kvbench(t, append(c.args, "--out", out)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want %q", c.args, err, c.want)
		}
	}
}

func TestFuzzInputErrorsNameTheFlag(t *testing.T) {
	out := filepath.Join(t.TempDir(), "runs")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"fuzz", "--keys", "-2"}, "--keys -2: must be at least 1"},
		{[]string{"fuzz", "--value-size", "0"}, "--value-size 0: must be at least 1"},
		{[]string{"fuzz", "--fault-duration", "-1s"}, "--fault-duration -1s: must be positive"},
	} {
		_, _, err := kvbench(t, append(c.args, "--out", out)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want %q", c.args, err, c.want)
		}
	}
}

// TestRunJSONRecordsConfigAndLoad: run.json holds the typed configuration
// and the machine's load; results are readable by others (umask, not 0600).
func TestRunJSONRecordsConfigAndLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	out := filepath.Join(t.TempDir(), "runs")
	if _, stderr, err := kvbench(t, "run", "--impl", "memkv", "--impl-flags", "--fsync never", "-n", "2",
		"--ops", "400", "--records", "50", "-p", "fieldlength=10", "--seed", "3", "--out", out, "-q"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	dir, r := onlyRun(t, out, "run-memkv")
	c := r.Config
	if c == nil || c.Impl != "memkv" || strings.Join(c.ImplFlags, " ") != "--fsync never" || c.Ops != 400 ||
		c.RecordCount != 50 || c.ValueSize != 100 || c.KeyDistribution != "zipfian" || c.Seed != 3 || c.Kvbench == "" ||
		c.Clients != 2 || c.Window != 1 || r.Interrupted {
		t.Errorf("config %+v", c)
	}
	if l := r.Load; l == nil || l.Cores < 1 || l.Threads != 3 || l.Oversubscribed != (3 > l.Cores) {
		t.Errorf("load %+v", l)
	}
	for _, name := range []string{results.RunFile, results.HlogFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v mode %v, want 0644", name, err, st.Mode().Perm())
		}
	}
}

// TestFuzzRunJSONRecordsFaults: a fuzz run's faults are typed in run.json.
func TestFuzzRunJSONRecordsFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and injects faults")
	}
	out := filepath.Join(t.TempDir(), "runs")
	_, stderr, err := kvbench(t, "fuzz", "--impl", "memkv", "--clients", "2", "--ops", "100", "--conflict", "--crash",
		"--fault-interval", "300ms", "--fault-duration", "100ms", "--value-size", "8", "--seed", "2", "--out", out, "-q")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	_, r := onlyRun(t, out, "fuzz-memkv")
	c := r.Config
	if c == nil || c.Command != "fuzz" || c.Ops != 100 || c.ValueSize != 8 || c.KeyDistribution != "conflict" ||
		c.Faults == nil || c.Faults.String() != "crash every 300ms for 100ms" || r.Load == nil {
		t.Errorf("config %+v faults %v load %v", c, c.Faults, r.Load)
	}
}
