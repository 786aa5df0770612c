package scenarios

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
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

// readSolution reads one expected value per line.
func readSolution(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if _, err := strconv.ParseUint(line, 10, 32); err != nil {
			return nil, fmt.Errorf("%s line %d: %q is not a u32 value", path, n, line)
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

// validateSolution compares the GETs of a sequential history, in order,
// with the expected values (a missing key reads as 0, as in the course).
func validateSolution(events []results.Event, want []string) error {
	g := 0
	for i, e := range events {
		if e.Req.Kind != impls.Get {
			continue
		}
		if g >= len(want) {
			return fmt.Errorf("the workload has more GETs than the solution file has lines (%d)", len(want))
		}
		got := "0"
		switch {
		case e.Outcome != results.OK:
			got = "error: " + e.Err
		case e.Resp.Found == impls.Present:
			got = e.Resp.Value
		}
		if got != want[g] {
			return &SolutionMismatch{Key: e.Req.Key, Want: want[g], Got: got, Req: i, Expected: g}
		}
		g++
	}
	if g != len(want) {
		return fmt.Errorf("the solution file has %d lines but the workload ran %d GETs", len(want), g)
	}
	return nil
}
