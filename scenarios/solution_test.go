package scenarios

import (
	"errors"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

func TestValidateSolutionComparesNumbers(t *testing.T) {
	get := func(key, value string, found impls.Found) results.Event {
		return results.Event{Req: impls.Request{Kind: impls.Get, Key: key}, Outcome: results.OK,
			Resp: impls.Response{Found: found, Value: value}}
	}
	put := results.Event{Req: impls.Request{Kind: impls.Put, Key: "1", Value: "7"}, Outcome: results.OK}
	events := []results.Event{put, get("1", "007", impls.Present), get("2", "", impls.Absent)}
	if err := validateSolution(events, []uint32{7, 0}); err != nil {
		t.Fatalf("007 for 7 and absent for 0: %v", err)
	}
	err := validateSolution(events, []uint32{8, 0})
	var m *SolutionMismatch
	if !errors.As(err, &m) || m.Key != "1" || m.Want != "8" || m.Got != "007" || m.Req != 1 || m.Expected != 0 {
		t.Fatalf("err = %#v", err)
	}
	if got := m.Report(); got != "Get(1) should return 8, but got 007\nIndices: req=1 exp=0\n" {
		t.Errorf("report %q", got)
	}
	failed := []results.Event{{Req: impls.Request{Kind: impls.Get, Key: "3"}, Outcome: results.Fail, Err: "boom"}}
	if err := validateSolution(failed, []uint32{0}); !errors.As(err, &m) || !strings.Contains(m.Got, "error: boom") {
		t.Errorf("a failed GET must not validate as 0: %v", err)
	}
	if err := validateSolution(events, []uint32{7}); err == nil || !strings.Contains(err.Error(), "more GETs") {
		t.Errorf("short solution: %v", err)
	}
}
