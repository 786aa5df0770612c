package results

import (
	"bytes"
	"strings"
	"testing"
)

// TestWriteMadKVBench reproduces the spec's example block byte for byte.
func TestWriteMadKVBench(t *testing.T) {
	load := &Phase{Seconds: 8.282, Overall: Overall{OpsPerSec: 1220.07},
		Ops: []OpSummary{{Op: "INSERT", Count: 10000, Latency: Latency{Mean: 8141.06, Min: 4, Max: 115135, P99: 84287}}}}
	run := &Run{Workload: "a", Clients: 10, Seconds: 51.394, Overall: Overall{OpsPerSec: 2006.42},
		Ops: []OpSummary{
			{Op: "UPDATE", Count: 50129, Latency: Latency{Mean: 6197.66, Min: 0, Max: 536063, P99: 401919}},
			{Op: "READ", Count: 100000, Latency: Latency{Mean: 1828.13, Min: 0.4, Max: 544255, P99: 55}},
		}, LoadPhase: load}
	want := `Benchmarking results:  YCSB-a  10 clients
  [Load]    8282 ms
    Throughput:    1220.07 ops/sec
    Latency:    INSERT  ops  10000  avg   8141.06  min      4  max 115135  p99  84287  us
  [Run]    51394 ms
    Throughput:    2006.42 ops/sec
    Latency:    UPDATE  ops  50129  avg   6197.66  min      0  max 536063  p99 401919  us
                READ    ops 100000  avg   1828.13  min      0  max 544255  p99     55  us
`
	var b bytes.Buffer
	if err := WriteMadKVBench(&b, run); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	// Without a load phase, the run phase alone follows the header.
	b.Reset()
	run.LoadPhase = nil
	if err := WriteMadKVBench(&b, run); err != nil {
		t.Fatal(err)
	}
	if want := "Benchmarking results:  YCSB-a  10 clients\n" + want[strings.Index(want, "  [Run]"):]; b.String() != want {
		t.Errorf("without load: got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestFuzzResultLine(t *testing.T) {
	for _, tc := range []struct {
		check *Check
		color bool
		want  string
	}{
		{&Check{Verdict: VerdictOK}, false, "Fuzz testing result: PASSED\n"},
		{&Check{Verdict: VerdictViolation}, false, "Fuzz testing result: FAILED\n"},
		{&Check{Verdict: VerdictExpected}, false, "Fuzz testing result: FAILED\n"},
		{&Check{Verdict: VerdictUnknown}, false, "Fuzz testing result: UNFAIR\n"},
		{nil, false, "Fuzz testing result: UNFAIR\n"},
		{&Check{Verdict: VerdictOK}, true, "Fuzz testing result: \x1b[1;32mPASSED\x1b[0m\n"},
		{&Check{Verdict: VerdictViolation}, true, "Fuzz testing result: \x1b[1;31mFAILED\x1b[0m\n"},
	} {
		if got := FuzzResultLine(tc.check, tc.color); got != tc.want {
			t.Errorf("FuzzResultLine(%+v, %v) = %q, want %q", tc.check, tc.color, got, tc.want)
		}
	}
}
