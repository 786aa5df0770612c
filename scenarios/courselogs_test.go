package scenarios

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/kvbench/kvbench/impls"
)

func TestCheckFreshRefusesDangerousPaths(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory")
	}
	wd, _ := os.Getwd()
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	link := filepath.Join(base, "link")
	fifo := filepath.Join(base, "fifo")
	if err := os.MkdirAll(filepath.Join(repo, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(base, link); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "", home, wd, filepath.Dir(wd), repo, link, fifo} {
		if _, _, err := checkFresh(p); !errors.Is(err, ErrUnsafeFresh) {
			t.Errorf("checkFresh(%q) = %v, want ErrUnsafeFresh", p, err)
		}
	}
	if os.Getuid() != 0 {
		if _, _, err := checkFresh("/etc/passwd"); !errors.Is(err, ErrUnsafeFresh) {
			t.Errorf("checkFresh(/etc/passwd) = %v, want ErrUnsafeFresh (not the user's)", err)
		}
	}
	if a, ok, err := checkFresh(filepath.Join(base, "absent")); err != nil || ok || a == "" {
		t.Errorf("absent path: %q %v %v, want exists=false and no error", a, ok, err)
	}
}

func TestEmptyFresh(t *testing.T) {
	base := t.TempDir()
	backer := filepath.Join(base, "backer.s0")
	file := filepath.Join(base, "state.db")
	for _, p := range []string{filepath.Join(backer, "000001.log"), filepath.Join(backer, "sub", "MANIFEST"), file} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var log strings.Builder
	if err := emptyFresh([]string{backer, file, filepath.Join(base, "absent")}, &log); err != nil {
		t.Fatal(err)
	}
	if ents, err := os.ReadDir(backer); err != nil || len(ents) != 0 {
		t.Errorf("backer dir after --fresh: %v entries, %v; want it kept and empty", len(ents), err)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file after --fresh: %v, want removed", err)
	}
	for _, want := range []string{"emptied directory " + backer + " (removed 2 entries: 000001.log sub)", "removed file " + file, "absent does not exist"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log %q lacks %q", log.String(), want)
		}
	}
	// One refused path removes nothing at all.
	os.WriteFile(filepath.Join(backer, "keep"), []byte("x"), 0o644)
	if err := emptyFresh([]string{backer, "/"}, &log); !errors.Is(err, ErrUnsafeFresh) {
		t.Fatalf("err = %v, want ErrUnsafeFresh", err)
	}
	if _, err := os.Stat(filepath.Join(backer, "keep")); err != nil {
		t.Errorf("a refused --fresh list removed %s: %v", backer, err)
	}
}

// TestRunEmptiesFreshBeforeStartAndWritesCourseLogs: a fuzz run and a
// benchmark empty the --fresh paths before the service starts, say so in
// server.log, and write the course's logs under their configuration's names.
func TestRunEmptiesFreshBeforeStartAndWritesCourseLogs(t *testing.T) {
	addr := startMemkv(t)
	base := t.TempDir()
	backer := filepath.Join(base, "backer.s0")
	os.MkdirAll(backer, 0o755)
	course := filepath.Join(base, "madkv-p1")
	target := Target{URL: "memcached://" + addr, Fresh: []string{backer}}

	os.WriteFile(filepath.Join(backer, "data"), []byte("x"), 0o644)
	dir, run, err := Fuzz(context.Background(), FuzzOptions{
		Target: target, Clients: 3, Keys: 5, OpsPerClient: 200, Conflict: true, Seed: 1,
		Output: Output{Dir: filepath.Join(base, "runs"), CourseLogs: course},
	})
	if err != nil || run.Check == nil {
		t.Fatalf("fuzz: %v", err)
	}
	if _, err := os.Stat(filepath.Join(backer, "data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--fresh left %s/data: %v", backer, err)
	}
	slog, _ := os.ReadFile(filepath.Join(dir, "server.log"))
	if !strings.Contains(string(slog), "emptied directory "+backer+" (removed 1 entries: data)") {
		t.Errorf("server.log = %q, want what --fresh removed", slog)
	}
	flog, err := os.ReadFile(filepath.Join(course, "fuzz", "fuzz-3-yes.log"))
	if err != nil {
		t.Fatal(err)
	}
	// The course's script: the last word of the line holding "Fuzz testing result:".
	fl := strings.Split(string(flog), "\n")
	if len(fl) < 4 || fl[2] != "Fuzz testing result: PASSED" || !strings.HasPrefix(fl[3], "fuzz: ok — 3 clients × 200 ops") ||
		!regexp.MustCompile(`^  Ops stats:  Put \d+  Swap \d+  Get \d+  Scan \d+  Delete \d+$`).MatchString(fl[1]) {
		t.Errorf("fuzz log:\n%s", flog)
	}

	os.WriteFile(filepath.Join(backer, "data2"), []byte("x"), 0o644)
	_, _, err = Bench(context.Background(), BenchOptions{
		Target: target, Workload: "c", Clients: 2, Window: 1, Ops: 200, Records: 50, Seed: 1,
		Output: Output{Dir: filepath.Join(base, "runs"), CourseLogs: course, Quiet: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(backer, "data2")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--fresh left %s/data2: %v", backer, err)
	}
	blog, err := os.ReadFile(filepath.Join(course, "bench", "bench-2-c.log"))
	if err != nil {
		t.Fatal(err)
	}
	// The course's parser: "[Run]" section, Throughput's second-last word,
	// per-op lines ending in " us" with the op 12 words from the end.
	lines := strings.Split(string(blog), "\n")
	if !strings.HasPrefix(lines[0], "Benchmarking results:  YCSB-c  2 clients") || !strings.Contains(string(blog), "[Run]") ||
		!strings.Contains(string(blog), "READ    ops    200") {
		t.Errorf("bench log:\n%s", blog)
	}
}

func TestCourseLogNames(t *testing.T) {
	serve := func(names ...string) (out []impls.ServeCommand) {
		for _, n := range names {
			out = append(out, impls.ServeCommand{Name: n, Command: "x"})
		}
		return out
	}
	for _, c := range []struct {
		target          Target
		clients         int
		conflict, crash bool
		wl              string
		fuzz, bench     string
	}{
		{Target{Impl: "madkv"}, 3, true, false, "a", "fuzz-3-yes.log", "bench-3-a.log"},
		{Target{Impl: "madkv"}, 1, false, false, "e", "fuzz-1-no.log", "bench-1-e.log"},
		{Target{Impl: "madkv", ImplFlags: []string{"--partitions", "3"}}, 5, true, true, "b", "fuzz-3-yes.log", "bench-5-b-3.log"},
		{Target{Impl: "madkv", ImplFlags: []string{"--partitions=5"}}, 5, true, false, "a", "fuzz-5-no.log", "bench-5-a-5.log"},
		{Target{Impl: "madkv", ImplFlags: []string{"--partitions", "1", "--rf", "5"}}, 10, true, true, "a", "fuzz-5-yes.log", "bench-10-a-5.log"},
		{Target{URL: "exec:./client", Serve: serve("server")}, 3, false, false, "c", "fuzz-3-no.log", "bench-3-c.log"},
		{Target{URL: "exec:./client", Serve: serve("m0", "s0", "s1", "s2")}, 5, true, true, "f", "fuzz-3-yes.log", "bench-5-f-3.log"},
		// A scenario's impl_flags do not change a --serve'd service.
		{Target{URL: "exec:./client", Serve: serve("m", "s0", "s1", "s2", "s3", "s4"), ImplFlags: []string{"--partitions", "3"}}, 5, true, true, "a", "fuzz-5-yes.log", "bench-5-a-5.log"},
		{Target{URL: "exec:./client", Serve: serve("server"), ImplFlags: []string{"--partitions", "3"}}, 3, true, false, "a", "fuzz-3-yes.log", "bench-3-a.log"},
	} {
		f := filepath.Base(CourseFuzzLog("/x", FuzzOptions{Target: c.target, Clients: c.clients, Conflict: c.conflict, Crash: c.crash}))
		b, err := CourseBenchLog("/x", BenchOptions{Target: c.target, Clients: c.clients, Workload: c.wl})
		if f != c.fuzz || err != nil || filepath.Base(b) != c.bench {
			t.Errorf("%+v: fuzz %s bench %s %v, want %s %s", c.target, f, filepath.Base(b), err, c.fuzz, c.bench)
		}
	}
	if _, err := CourseBenchLog("/x", BenchOptions{Input: "ops.txt"}); err == nil {
		t.Error("a replayed file got a course bench log name")
	}
}

func TestScenarioPlumbsFreshAndCourseLogs(t *testing.T) {
	s, err := ParseScenario("x.yaml", []byte(`sweeps:
  - kind: fuzz
    targets: ["exec:./client"]
    clients: 5
  - workloads: [a]
    targets: ["exec:./client"]
    clients: 10
    ops: 100
`))
	if err != nil {
		t.Fatal(err)
	}
	s.SetServe([]impls.ServeCommand{{Name: "s0", Command: "./server 0"}})
	s.SetFresh([]string{"./backer.s0"})
	s.SetCourseLogs("/tmp/madkv-p2")
	s.SetFaultTarget("s1,s2")
	p, err := s.Plan(nil)
	if err != nil || len(p.Steps) != 2 {
		t.Fatalf("plan: %v, %d steps", err, len(p.Steps))
	}
	if f := p.Steps[0].Fuzz; f == nil || strings.Join(f.Target.Fresh, ",") != "./backer.s0" || f.Output.CourseLogs != "/tmp/madkv-p2" || f.FaultTarget != "s1,s2" {
		t.Errorf("fuzz step: %+v", f)
	}
	if b := p.Steps[1].Bench; b == nil || strings.Join(b.Target.Fresh, ",") != "./backer.s0" || b.Output.CourseLogs != "/tmp/madkv-p2" {
		t.Errorf("bench step: %+v", b)
	}
	for _, st := range p.Steps {
		got := strings.Join(st.Args(), " ")
		if !strings.Contains(got, "--serve s0=./server 0 --fresh ./backer.s0") || !strings.HasSuffix(got, "--course-logs /tmp/madkv-p2") ||
			(st.Fuzz != nil) != strings.Contains(got, "--fault-target s1,s2") {
			t.Errorf("Args() = %s", got)
		}
	}
}
