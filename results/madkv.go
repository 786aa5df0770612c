package results

import (
	"fmt"
	"io"
)

// WriteMadKVBench writes the MadKV course runner's bencher block for a run
// (its [Load] section from run.LoadPhase, when the run had one), byte for
// byte in the runner's format, so the course's report script parses
// kvbench's output:
//
//	Benchmarking results:  YCSB-a  10 clients
//	  [Load]    8282 ms
//	    Throughput:    1220.07 ops/sec
//	    Latency:    INSERT  ops  10000  avg   8141.06  min      4  max 115135  p99  84287  us
//	  [Run]    51394 ms
//	    Throughput:    2006.42 ops/sec
//	    Latency:    UPDATE  ops  50129  avg   6197.66  min      0  max 536063  p99 401919  us
//	                READ    ops 100000  avg   1828.13  min      0  max 544255  p99     55  us
//
// Unlike the runner, the figures come from histograms merged losslessly
// across clients (the runner averages per-client averages and takes the max
// of per-client p99s), latency is the client's round trip, and op lines
// come in kvbench's fixed order. ops counts the successful operations.
func WriteMadKVBench(w io.Writer, run *Run) error {
	if _, err := fmt.Fprintf(w, "Benchmarking results:  YCSB-%s  %d clients\n", run.Workload, run.Clients); err != nil {
		return err
	}
	if l := run.LoadPhase; l != nil {
		if err := writeMadKVPhase(w, "[Load]", l.Seconds, l.Overall, l.Ops); err != nil {
			return err
		}
	}
	return writeMadKVPhase(w, "[Run]", run.Seconds, run.Overall, run.Ops)
}

func writeMadKVPhase(w io.Writer, label string, seconds float64, overall Overall, ops []OpSummary) error {
	if _, err := fmt.Fprintf(w, "  %-6s  %6.0f ms\n    Throughput:  %9.2f ops/sec\n", label, seconds*1000, overall.OpsPerSec); err != nil {
		return err
	}
	for i, op := range ops {
		lead := "    Latency:"
		if i > 0 {
			lead = "            "
		}
		l := op.Latency
		if _, err := fmt.Fprintf(w, "%s    %-6s  ops %6d  avg %9.2f  min %6.0f  max %6.0f  p99 %6.0f  us\n",
			lead, op.Op, op.Count, l.Mean, l.Min, l.Max, l.P99); err != nil {
			return err
		}
	}
	return nil
}

// The course runner's fuzz outcomes.
const (
	FuzzPassed = "PASSED"
	FuzzFailed = "FAILED"
	// FuzzUnfair is the runner's word for "could not decide" (its checks
	// were still queued); kvbench says it when the checker timed out.
	FuzzUnfair = "UNFAIR"
)

// FuzzOutcome maps a check verdict to the runner's word: ok passes; a
// violation fails, also one the store's claims predict (the history is
// still not linearizable); unknown is unfair. A missing check is unfair.
func FuzzOutcome(c *Check) string {
	switch {
	case c == nil:
		return FuzzUnfair
	case c.Verdict == VerdictOK:
		return FuzzPassed
	case c.Verdict == VerdictViolation || c.Verdict == VerdictExpected:
		return FuzzFailed
	default:
		return FuzzUnfair
	}
}

// FuzzResultLine is the runner's last line, `Fuzz testing result: PASSED`
// (or FAILED, UNFAIR), with the outcome in ANSI colour (green, red, yellow)
// when color is set, as the runner prints it on a terminal; plain
// otherwise, so scripts reading a pipe or a log file get the bare words.
func FuzzResultLine(c *Check, color bool) string {
	out := FuzzOutcome(c)
	if color {
		code := map[string]string{FuzzPassed: "32", FuzzFailed: "31", FuzzUnfair: "33"}[out]
		out = "\x1b[1;" + code + "m" + out + "\x1b[0m"
	}
	return "Fuzz testing result: " + out + "\n"
}
