package scenarios

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/kvbench/kvbench/checker"
	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

// checkHistory checks a recorded history against the store's claims for
// the run's flags and requested faults, and writes check.html beside it when
// the history is not linearizable.
func checkHistory(ctx context.Context, dir string, events []results.Event, faults []results.Fault,
	im *impls.Impl, flags []string, requested impls.Faults) (check *results.Check, err error) {
	// Porcupine panics on some internal inconsistencies; a panic in the
	// checker must not take a sweep down, and must never read as a pass.
	defer func() {
		if p := recover(); p != nil {
			check = &results.Check{Verdict: results.VerdictUnknown, Detail: fmt.Sprintf("the checker failed: %v", p), Ops: len(events)}
			err = nil
		}
	}()
	opts := checker.Options{Timeout: fuzzCheckTimeout, Faults: faults}
	if im != nil && im.Claims != nil {
		c := im.Claims(flags, requested)
		opts.Claim = &c
	}
	// One search gives the verdict and, for a violation, check.html.
	r, err := checker.CheckAndWriteHTML(ctx, filepath.Join(dir, results.CheckHTML), events, opts)
	if err != nil && !errors.Is(err, checker.ErrMalformed) { // malformed: r says unknown, and why
		return nil, fmt.Errorf("write %s: %w", results.CheckHTML, err)
	}
	return r.Record(), nil
}
