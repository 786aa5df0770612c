package scenarios

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/kvbench/kvbench/results"
)

// The MadKV course's report scripts (sumgen/projN.py) read the logs its
// just recipes tee under /tmp/madkv-pN:
//
//	fuzz/fuzz-<a>-<b>.log              the fuzzer's output; the script takes the
//	                                   last word of the "Fuzz testing result:" line
//	                                   (kvbench adds its verdict line after it)
//	bench/bench-<clients>-<wl>[-<n>].log  the bencher's block (results.WriteMadKVBench)
//
// kvbench derives the names from the run's configuration the way the
// course's recipes name them:
//
//   - stage 1 (one server: --impl madkv without --partitions or --rf, or an
//     external target without server nodes named s0, s1, ...):
//     fuzz-<clients>-<conflict yes|no>.log and bench-<clients>-<wl>.log;
//   - stage 2 (--impl-flags '--partitions P', or --serve s0=... s1=... for P
//     server nodes): fuzz-<P>-<crash yes|no>.log and bench-<clients>-<wl>-<P>.log;
//   - stage 3 (--impl-flags '--rf R'): fuzz-<R>-<crash yes|no>.log and
//     bench-<clients>-<wl>-<R>.log.

// courseNodeRE matches the --serve names of a MadKV service's server nodes
// (the course's `just p2::service s0`).
var courseNodeRE = regexp.MustCompile(`^s[0-9]+$`)

// courseSize returns the partition count (stage 2) or replication factor
// (stage 3) the course's log names carry, or 0 for stage 1.
func courseSize(t Target) int {
	// A --serve'd service has as many servers as it has s<i> nodes,
	// whatever a scenario's impl_flags (for bundled stores) say.
	n := 0
	for _, sc := range t.Serve {
		if courseNodeRE.MatchString(sc.Name) {
			n++
		}
	}
	if t.URL != "" {
		return n
	}
	flags := map[string]int{}
	for i := 0; i < len(t.ImplFlags); i++ {
		name, val, ok := strings.Cut(t.ImplFlags[i], "=")
		if !ok && i+1 < len(t.ImplFlags) {
			val = t.ImplFlags[i+1]
		}
		if n, err := strconv.Atoi(val); err == nil {
			flags[strings.TrimLeft(name, "-")] = n
		}
	}
	if rf := flags["rf"]; rf > 0 {
		return rf
	}
	return flags["partitions"]
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// CourseFuzzLog returns the course's log path for a fuzz run under dir.
func CourseFuzzLog(dir string, o FuzzOptions) string {
	a, b := strconv.Itoa(o.Clients), yesNo(o.Conflict)
	if n := courseSize(o.Target); n > 0 {
		a, b = strconv.Itoa(n), yesNo(o.Crash)
	}
	return filepath.Join(dir, "fuzz", "fuzz-"+a+"-"+b+".log")
}

// CourseBenchLog returns the course's log path for a benchmark under dir,
// or an error when the run is not one of YCSB's core workloads.
func CourseBenchLog(dir string, o BenchOptions) (string, error) {
	wl := strings.ToLower(o.Workload)
	if wl == "" && len(o.PropertyFiles) == 0 && o.Input == "" {
		wl = "a"
	}
	if len(wl) != 1 || wl[0] < 'a' || wl[0] > 'f' || o.Input != "" {
		return "", fmt.Errorf("--course-logs names bench logs by YCSB core workload: give --workload a..f")
	}
	name := fmt.Sprintf("bench-%d-%s", o.Clients, wl)
	if n := courseSize(o.Target); n > 0 {
		name += "-" + strconv.Itoa(n)
	}
	return filepath.Join(dir, "bench", name+".log"), nil
}

// writeCourseLog writes text to path, making its directory.
func writeCourseLog(path string, text []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("--course-logs: %w", err)
	}
	if err := os.WriteFile(path, text, 0o644); err != nil {
		return fmt.Errorf("--course-logs: %w", err)
	}
	return nil
}

// writeCourseFuzz writes the fuzz run's course log as the course's fuzzer
// prints it (its configuration, "  Ops stats:" and the result line, plain),
// then kvbench's verdict line with the witness's place.
func writeCourseFuzz(o FuzzOptions, run *results.Run, dir string) error {
	if o.Output.CourseLogs == "" || run == nil {
		return nil
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "Fuzz testing configuration: num_clis %d  num_keys %d  num_ops %d  conflict %t  (kvbench fuzz, results in %s)\n",
		o.Clients, o.Keys, o.OpsPerClient, o.Conflict, dir)
	calls := map[string]int64{}
	for _, op := range run.Ops {
		calls[op.Op] += op.Count + op.Errors + op.Unknown
	}
	fmt.Fprintf(&b, "  Ops stats:  Put %d  Swap %d  Get %d  Scan %d  Delete %d\n",
		calls["UPDATE"]+calls["INSERT"]+calls["PUT"], calls["SWAP"], calls["READ"]+calls["GET"], calls["SCAN"], calls["DELETE"])
	b.WriteString(results.FuzzResultLine(run.Check, false))
	printVerdict(Output{Stdout: &b}, o, run, dir)
	return writeCourseLog(CourseFuzzLog(o.Output.CourseLogs, o), b.Bytes())
}

// writeCourseBench writes the benchmark's course log: the bencher's block.
func writeCourseBench(o BenchOptions, run *results.Run) error {
	if o.Output.CourseLogs == "" || run == nil {
		return nil
	}
	path, err := CourseBenchLog(o.Output.CourseLogs, o)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := results.WriteMadKVBench(&b, run); err != nil {
		return err
	}
	return writeCourseLog(path, b.Bytes())
}
