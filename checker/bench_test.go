package checker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kvbench/kvbench/results"
)

// BenchmarkCheck checks conflicting MadKV-mix histories recorded from a
// real concurrent execution (see genHistory). Targets: 5 clients × 5000 ops
// on 5 keys under 5 s; 100 000 ops over 1 000 keys under 10 s; 85 clients
// on 5 keys under 60 s and a few GB. An unknown verdict (the 60 s or 4 GiB
// limit ran out, as it can for 85 clients on one key) is counted in the
// "unknown" metric, not failed. Run with
//
//	go test -run '^$' -bench Check -benchtime 3x ./checker/
func BenchmarkCheck(b *testing.B) {
	for _, o := range []genOpts{
		{clients: 5, ops: 5000, keys: 5, jitter: true},
		{clients: 50, ops: 500, keys: 5, jitter: true},
		{clients: 85, ops: 500, keys: 5, jitter: true},
		{clients: 85, ops: 500, keys: 5, jitter: true, unknown: 0.005, fail: 0.02},
		{clients: 85, ops: 60, keys: 1, jitter: true}, // at the fast search's limit: see the package doc
		{clients: 10, ops: 10000, keys: 1000, scanWidth: 10, jitter: true},
		{clients: 50, ops: 2000, keys: 1000, scanWidth: 10, jitter: true},
		{clients: 10, ops: 10000, keys: 1000, scanWidth: 100, jitter: true},
		{clients: 10, ops: 10000, keys: 1000, jitter: true}, // MadKV's scans: ~333 keys each
	} {
		name := o.String()
		if o.scanWidth > 0 {
			name += fmt.Sprintf("/scan%d", o.scanWidth)
		}
		b.Run(name, func(b *testing.B) {
			o.seed = 1
			events := genHistory(o)
			b.ReportAllocs()
			b.ResetTimer()
			var r Result
			undecided := 0
			for b.Loop() {
				// The defaults of kvbench check: 60 s, 4 GiB.
				r = Check(context.Background(), events, Options{Timeout: time.Minute})
				switch r.Verdict {
				case results.VerdictOK:
				case results.VerdictUnknown:
					undecided++
					b.Logf("%s: %s", r.Verdict, r.Detail)
				default:
					b.Fatalf("false alarm: %s: %s", r.Verdict, r.Detail)
				}
			}
			b.ReportMetric(float64(r.Ops), "ops")
			b.ReportMetric(float64(undecided), "unknown")
		})
	}
}

// BenchmarkCheckViolation measures a violating 5×5000 history: the check,
// the witness search and the verbose check behind check.html.
func BenchmarkCheckViolation(b *testing.B) {
	o := genOpts{clients: 5, ops: 5000, keys: 5, jitter: true, seed: 1}
	events := genHistory(o)
	for i := len(events) / 2; i < len(events); i++ {
		if events[i].Req.Kind == 0 && events[i].Outcome == results.OK { // a Get
			events[i].Resp.Found, events[i].Resp.Value = 1, "corrupt"
			break
		}
	}
	path := b.TempDir() + "/check.html"
	b.ResetTimer()
	for b.Loop() {
		r := Check(context.Background(), events, Options{Timeout: time.Minute})
		if r.Verdict != results.VerdictViolation {
			b.Fatalf("%s: %s", r.Verdict, r.Detail)
		}
		if err := WriteHTML(context.Background(), path, events, Options{Timeout: time.Minute}); err != nil {
			b.Fatal(err)
		}
	}
}
