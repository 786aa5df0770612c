package scenarios

import (
	"fmt"
	"os"
	"strconv"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
	"github.com/kvbench/kvbench/workload"
)

// SolutionMismatch is a GET whose result differs from the expected-results
// file, reported as the CS537 client reports it.
type SolutionMismatch struct {
	Key           string
	Want, Got     string
	Req, Expected int // index of the request in the workload, of the line in the solution
}

func (m *SolutionMismatch) Error() string {
	return fmt.Sprintf("Get(%s) should return %s, but got %s", m.Key, m.Want, m.Got)
}

// Report is the course client's two-line failure report.
func (m *SolutionMismatch) Report() string {
	return fmt.Sprintf("Get(%s) should return %s, but got %s\nIndices: req=%d exp=%d\n", m.Key, m.Want, m.Got, m.Req, m.Expected)
}

// readSolution reads a CS537 expected-results file (workload.ReadSolution).
func readSolution(path string) ([]uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sol, err := workload.ReadSolution(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sol, nil
}

// validateSolution compares the GETs of a sequential history, in order,
// with the expected values, as numbers (a missing key reads as 0, as in the
// course; "007" is 7).
func validateSolution(events []results.Event, want []uint32) error {
	g := 0
	for i, e := range events {
		if e.Req.Kind != impls.Get {
			continue
		}
		if g >= len(want) {
			return fmt.Errorf("the workload has more GETs than the solution file has lines (%d)", len(want))
		}
		got, ok := "0", true
		switch {
		case e.Outcome != results.OK:
			got, ok = "error: "+e.Err, false
		case e.Resp.Found == impls.Present:
			got = e.Resp.Value
		}
		if v, err := strconv.ParseUint(got, 10, 32); !ok || err != nil || uint32(v) != want[g] {
			return &SolutionMismatch{Key: e.Req.Key, Want: strconv.FormatUint(uint64(want[g]), 10), Got: got, Req: i, Expected: g}
		}
		g++
	}
	if g != len(want) {
		return fmt.Errorf("the solution file has %d lines but the workload ran %d GETs", len(want), g)
	}
	return nil
}
