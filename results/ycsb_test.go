package results

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestWriteYCSBGolden(t *testing.T) {
	r := &Run{
		Seconds: 10.0034,
		Overall: Overall{Ops: 412501, Errors: 3, OpsPerSec: 41237.077},
		Clamped: 2,
		Ops: []OpSummary{
			{Op: "READ", Count: 206283, OpsPerSec: 20621.3,
				Latency: Latency{Min: 12.031, Mean: 45.912, P50: 40.4, P90: 70.1, P95: 80.2, P99: 120.6, P999: 900, Max: 10240}},
			{Op: "UPDATE", Count: 206218, Errors: 2, Unknown: 1, OpsPerSec: 20615.7,
				Latency:     Latency{Min: 20, Mean: 60.5, P50: 55, P90: 90, P95: 100, P99: 150, P999: 1000, Max: 20000},
				Uncorrected: &Latency{Min: 19, Mean: 58.25, P50: 54, P90: 88, P95: 99, P99: 140, P999: 900, Max: 19000}},
			{Op: "DELETE", Errors: 5},
		},
	}
	var buf bytes.Buffer
	if err := WriteYCSB(&buf, r); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "ycsb.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("output differs from %s:\n%s", golden, buf.String())
	}
}

func TestFormatMicros(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0, "0"}, {0.351, "0.351"}, {0.012, "0.012"}, {1.024, "1.02"}, {40.44, "40.4"},
		{99.94, "99.9"}, {120.6, "121"}, {1e7, "10000000"}, {1e20, "1e+20"},
	} {
		if got := FormatMicros(c.in); got != c.want {
			t.Errorf("FormatMicros(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestWriteYCSBMarksInterrupted(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteYCSB(&buf, &Run{Seconds: 0.07, Interrupted: true, ValidationFailed: true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[OVERALL], Interrupted, true\n", "[OVERALL], ValidationFailed, true\n"} {
		if !bytes.Contains(buf.Bytes(), []byte(want)) {
			t.Errorf("summary lacks %q:\n%s", want, buf.String())
		}
	}
}
