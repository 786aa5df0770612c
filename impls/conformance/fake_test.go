package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/conformance"
)

// fakeStore is an in-memory store with every kind and an optional bug, to
// show that the suite passes a correct store (Scan and a revealing PUT
// included, which no bundled store has yet) and catches each bug.
type fakeStore struct {
	bug string
	mu  sync.Mutex
	m   map[string]string
}

type fakeCluster struct{ s *fakeStore }

var _ impls.Cluster = (*fakeCluster)(nil)

func (c *fakeCluster) NewClient(context.Context, int) (impls.Client, error) {
	return &fakeClient{s: c.s}, nil
}
func (c *fakeCluster) Nodes() []impls.Node { return nil }
func (c *fakeCluster) Close() error        { return nil }

type fakeClient struct {
	s        *fakeStore
	closed   atomic.Int32
	inFlight atomic.Int32
}

var _ impls.Client = (*fakeClient)(nil)

func (c *fakeClient) Close() error {
	if c.closed.Add(1) > 1 && c.s.bug == "close-panics" {
		panic("closed twice")
	}
	return nil
}

func (c *fakeClient) Do(ctx context.Context, req impls.Request) (impls.Response, error) {
	s := c.s
	if c.closed.Load() > 0 && s.bug != "do-after-close" {
		return impls.Response{}, errors.New("fake: closed")
	}
	if s.bug == "crossed-answers" {
		c.inFlight.Add(1)
		defer c.inFlight.Add(-1)
		time.Sleep(200 * time.Microsecond) // let concurrent calls overlap
	}
	if req.Kind == impls.Scan && s.bug == "no-scan" {
		return impls.Response{}, errors.New("fake: no scan")
	}
	if req.Kind == impls.Scan && s.bug == "no-scan-unsupported" {
		return impls.Response{}, fmt.Errorf("fake: %w", impls.ErrUnsupported)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.m[req.Key]
	switch req.Kind {
	case impls.Get:
		if s.bug == "crossed-answers" && c.inFlight.Load() > 1 && strings.HasPrefix(req.Key, "win/fixed") {
			old, had = s.m["win/fixed0"]
		}
		if !had {
			return impls.Response{Found: impls.Absent}, nil
		}
		return impls.Response{Found: impls.Present, Value: old}, nil
	case impls.Put:
		v := req.Value
		if s.bug == "truncate-large" && len(v) > 60000 {
			v = v[:60000]
		}
		s.m[req.Key] = v
		if s.bug == "put-always-present" {
			return impls.Response{Found: impls.Present}, nil
		}
		return impls.Response{Found: impls.FoundOf(had)}, nil
	case impls.Delete:
		if s.bug != "delete-noop" {
			delete(s.m, req.Key)
		}
		return impls.Response{Found: impls.FoundOf(had)}, nil
	case impls.Swap:
		s.m[req.Key] = req.Value
		if s.bug == "swap-returns-new" {
			old = req.Value
		}
		if !had {
			return impls.Response{Found: impls.Absent}, nil
		}
		return impls.Response{Found: impls.Present, Value: old}, nil
	case impls.Scan:
		var res impls.Response
		for k, v := range s.m {
			if k >= req.Key && (k < req.End || k == req.End && s.bug != "scan-exclusive-end") {
				res.Pairs = append(res.Pairs, impls.Pair{Key: k, Value: v})
			}
		}
		if s.bug != "scan-unsorted" {
			sort.Slice(res.Pairs, func(i, j int) bool { return res.Pairs[i].Key < res.Pairs[j].Key })
		} else {
			sort.Slice(res.Pairs, func(i, j int) bool { return res.Pairs[i].Key > res.Pairs[j].Key })
		}
		return res, nil
	}
	return impls.Response{}, fmt.Errorf("fake %v: %w", req.Kind, impls.ErrUnsupported)
}

// fakeSubject is the fake store with bug (none when "").
func fakeSubject(bug string) conformance.Subject {
	im := &impls.Impl{Name: "fake", Kinds: []impls.Kind{impls.Get, impls.Put, impls.Delete, impls.Swap, impls.Scan}, MaxWindow: 8}
	if bug == "no-scan-unsupported" {
		im.Kinds = im.Kinds[:4] // correct: a store without Scan that says so
	}
	return conformance.Subject{
		Name: "fake/" + bug, Impl: im,
		Start: func(context.Context, impls.StartEnv) (impls.Cluster, error) {
			return &fakeCluster{s: &fakeStore{bug: bug, m: map[string]string{}}}, nil
		},
	}
}

// TestFakeCorrect: a correct store of every kind passes every case.
func TestFakeCorrect(t *testing.T) {
	for _, bug := range []string{"", "no-scan-unsupported"} {
		t.Run("bug="+bug, func(t *testing.T) { conformance.Run(t, fakeSubject(bug)) })
	}
}

// fakeBugEnv selects the bug TestFakeBuggy runs the suite against, in a
// child process (a failing subtest cannot be expected in-process).
const fakeBugEnv = "CONFORMANCE_FAKE_BUG"

// TestFakeBuggy runs the suite against a buggy fake; only as the child of
// TestSuiteCatchesBugs.
func TestFakeBuggy(t *testing.T) {
	bug := os.Getenv(fakeBugEnv)
	if bug == "" {
		t.Skip("run by TestSuiteCatchesBugs")
	}
	conformance.Run(t, fakeSubject(bug))
}

// TestSuiteCatchesBugs: for each bug, the suite fails, and in exactly the
// cases that should notice it.
func TestSuiteCatchesBugs(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		bug       string
		wantFails []string
	}{
		{"swap-returns-new", []string{conformance.CaseSwap, conformance.CaseValues}},
		{"scan-exclusive-end", []string{conformance.CaseScan}},
		{"scan-unsorted", []string{conformance.CaseScan}},
		{"put-always-present", []string{conformance.CaseGetAfterPut, conformance.CaseGetAbsent, conformance.CaseFound,
			conformance.CaseDelete, conformance.CaseScan, conformance.CaseUnsupported,
			conformance.CaseValues, conformance.CaseKeys, conformance.CaseWindow, conformance.CaseClose}},
		{"delete-noop", []string{conformance.CaseFound, conformance.CaseSwap, conformance.CaseDelete, conformance.CaseScan}},
		{"no-scan", []string{conformance.CaseScan, conformance.CaseUnsupported}},
		{"truncate-large", []string{conformance.CaseValues}},
		{"crossed-answers", []string{conformance.CaseWindow}},
		{"close-panics", []string{conformance.CaseClose}},
		{"do-after-close", []string{conformance.CaseClose}},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			cmd := exec.Command(exe, "-test.run=^TestFakeBuggy$", "-test.v")
			cmd.Env = append(os.Environ(), fakeBugEnv+"="+tc.bug)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store with bug %s:\n%s", tc.bug, out)
			}
			var failed []string
			for _, line := range strings.Split(string(out), "\n") {
				f := strings.Fields(line)
				if len(f) >= 3 && f[0] == "---" && f[1] == "FAIL:" && strings.Count(f[2], "/") == 1 {
					failed = append(failed, strings.TrimPrefix(f[2], "TestFakeBuggy/"))
				}
			}
			if strings.Join(failed, " ") != strings.Join(tc.wantFails, " ") {
				t.Errorf("bug %s: failed cases %q, want %q\n%s", tc.bug, failed, tc.wantFails, out)
			}
		})
	}
}
