package results

import (
	"fmt"
	"io"
	"math"
	"strconv"
)

// WriteYCSB writes r's summary in YCSB's text format, so scripts that parse
// YCSB output parse kvbench's:
//
//	[OVERALL], RunTime(ms), 10003
//	[OVERALL], Throughput(ops/sec), 41250.12
//	[READ], Operations, 206283
//	[READ], AverageLatency(us), 45.91
//	[READ], 99thPercentileLatency(us), 120
//	[READ], Return=OK, 206283
//
// Percentiles are whole microseconds as YCSB prints them from 100 µs up,
// and three significant digits below (0.351 for 351 ns: HdrHistogram's
// precision, where a whole number would print 0). Failed operations
// appear as Return=ERROR, operations with an unknown outcome (timeout,
// connection lost) as Return=UNKNOWN. In open loop the uncorrected
// latencies follow under [<OP>-UNCORRECTED]. A run cut short by a signal
// says so in an [OVERALL], Interrupted, true line (and a failed -c
// validation in [OVERALL], ValidationFailed, true).
func WriteYCSB(w io.Writer, r *Run) error {
	p := &printer{w: w}
	p.line("OVERALL", "RunTime(ms)", strconv.FormatInt(int64(math.Round(r.Seconds*1000)), 10))
	p.line("OVERALL", "Throughput(ops/sec)", strconv.FormatFloat(r.Overall.OpsPerSec, 'f', 2, 64))
	if r.Interrupted {
		// Cut short by a signal: the numbers cover part of the run.
		p.line("OVERALL", "Interrupted", "true")
	}
	if r.ValidationFailed {
		p.line("OVERALL", "ValidationFailed", "true")
	}
	if r.Clamped > 0 {
		p.line("OVERALL", "ClampedLatencies", strconv.FormatInt(r.Clamped, 10))
	}
	for _, op := range r.Ops {
		writeLatency(p, op.Op, op.Count, op.Latency)
		if op.Count > 0 || op.Errors == 0 && op.Unknown == 0 {
			p.line(op.Op, "Return=OK", strconv.FormatInt(op.Count, 10))
		}
		if op.Errors > 0 {
			p.line(op.Op, "Return=ERROR", strconv.FormatInt(op.Errors, 10))
		}
		if op.Unknown > 0 {
			p.line(op.Op, "Return=UNKNOWN", strconv.FormatInt(op.Unknown, 10))
		}
		if op.Uncorrected != nil {
			writeLatency(p, op.Op+"-UNCORRECTED", op.Count, *op.Uncorrected)
		}
	}
	return p.err
}

func writeLatency(p *printer, op string, n int64, l Latency) {
	us := FormatMicros
	p.line(op, "Operations", strconv.FormatInt(n, 10))
	p.line(op, "AverageLatency(us)", strconv.FormatFloat(l.Mean, 'f', 2, 64))
	p.line(op, "MinLatency(us)", us(l.Min))
	p.line(op, "MaxLatency(us)", us(l.Max))
	p.line(op, "50thPercentileLatency(us)", us(l.P50))
	p.line(op, "90thPercentileLatency(us)", us(l.P90))
	p.line(op, "95thPercentileLatency(us)", us(l.P95))
	p.line(op, "99thPercentileLatency(us)", us(l.P99))
	p.line(op, "99.9PercentileLatency(us)", us(l.P999))
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(section, metric, value string) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, "[%s], %s, %s\n", section, metric, value)
	}
}

// FormatMicros formats a latency in microseconds with the precision the
// histograms have: whole microseconds from 100 µs, else three significant
// digits (40.4, 1.02, 0.351); 0 and values that are not finite print as is.
func FormatMicros(v float64) string {
	a := math.Abs(v)
	if a >= 100 || a == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		if a >= 1e18 || math.IsNaN(v) || math.IsInf(v, 0) {
			return strconv.FormatFloat(v, 'g', 4, 64)
		}
		return strconv.FormatInt(int64(math.Round(v)), 10)
	}
	dec := 2 - int(math.Floor(math.Log10(a)))
	dec = max(0, min(dec, 3))
	return strconv.FormatFloat(v, 'f', dec, 64)
}
