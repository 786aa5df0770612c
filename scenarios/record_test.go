package scenarios

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvbench/kvbench/results"
)

// TestRunScenarioWritesSweepFile: what a sweep skipped and what failed are
// recorded beside its runs.
func TestRunScenarioWritesSweepFile(t *testing.T) {
	s, err := ParseScenario("demo.yaml", []byte(planYAML))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "runs")
	fr := &fakeRunner{fail: func(n int) error {
		if n == 3 {
			return errors.New("boom")
		}
		return nil
	}}
	RunScenario(context.Background(), s, SweepOptions{Out: out, Stores: sweepStores(), Runner: fr, Quiet: true})
	sws, err := results.ReadSweeps(out)
	if err != nil || len(sws) != 1 {
		t.Fatalf("sweeps %v, %v", sws, err)
	}
	sw := sws[0]
	if sw.Scenario != "demo" || sw.Planned != 23 || sw.Done != 22 || sw.Interrupted ||
		len(sw.Failed) != 1 || !strings.HasSuffix(sw.Failed[0], ": boom") ||
		len(sw.Skipped) == 0 || !strings.Contains(strings.Join(sw.Skipped, "\n"), "beta: workload e needs SCAN") {
		t.Errorf("sweep %+v", sw)
	}
}

func TestBenchConfigIsTyped(t *testing.T) {
	o := BenchOptions{Target: Target{Impl: "memkv", ImplFlags: []string{"--fsync", "never"}}, Workload: "a",
		Clients: 4, Window: 2, Records: 500, Seed: 9, Duration: 3 * time.Second}
	plan, err := planWorkload(&o)
	if err != nil {
		t.Fatal(err)
	}
	c := benchConfig(o, plan)
	if c.Command != "run" || c.Impl != "memkv" || strings.Join(c.ImplFlags, " ") != "--fsync never" || c.Workload != "a" ||
		c.Clients != 4 || c.Window != 2 || c.RecordCount != 500 || c.ValueSize != 1000 || c.KeyDistribution != "zipfian" ||
		time.Duration(c.Duration) != 3*time.Second || c.Seed != 9 || c.Kvbench == "" || c.Properties["readproportion"] != "0.5" {
		t.Errorf("config %+v", c)
	}
	o.Props = map[string]string{"readproportion": "0.9"}
	plan, err = planWorkload(&o)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.notes) != 1 || !strings.Contains(plan.notes[0], "used as readproportion=0.643, updateproportion=0.357") {
		t.Errorf("notes %q", plan.notes)
	}
}

// TestMalformedCS537LinesCounted: a replayed CS537 file's malformed lines
// are skipped as the course client skips them, and counted aloud.
func TestMalformedCS537LinesCounted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.txt")
	if err := os.WriteFile(path, []byte("put 1 5\nput x y\nget 1\nget 99999999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := BenchOptions{Target: Target{Impl: "shm"}, Input: path, Clients: 1, Window: 1}
	plan, err := planWorkload(&o)
	if err != nil {
		t.Fatal(err)
	}
	want := path + ": skipped 2 malformed CS537 line(s) (the first at line 2); replaying 2 operations"
	if len(plan.notes) != 1 || plan.notes[0] != want {
		t.Errorf("notes %q, want %q", plan.notes, want)
	}
	if c := benchConfig(o, plan); c.Ops != 2 || c.Workload != "w.txt" || c.Input != path {
		t.Errorf("config %+v", c)
	}
}
