package main

import (
	"math/rand/v2"

	"github.com/kvbench/kvbench/results"
)

// checkExit maps a run's check verdict to kvbench's exit codes: violation 1,
// unknown 2; ok and expected violations exit 0.
func checkExit(run *results.Run) error {
	if run == nil || run.Check == nil {
		return nil
	}
	switch run.Check.Verdict {
	case results.VerdictViolation:
		return exitError{code: 1}
	case results.VerdictUnknown:
		return exitError{code: 2}
	}
	return nil
}

// randomSeed picks a seed for runs not given --seed; it is recorded.
func randomSeed() int64 { return rand.Int64N(1 << 31) }
