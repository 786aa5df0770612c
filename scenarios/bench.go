package scenarios

import (
	"context"
	"errors"

	"github.com/kvbench/kvbench/results"
)

// Bench runs one benchmark and writes its results directory.
// (Being implemented; the signature is stable.)
func Bench(ctx context.Context, o BenchOptions) (dir string, run *results.Run, err error) {
	return "", nil, errors.New("bench: not implemented yet")
}

// Fuzz runs one fuzz test, checks its history and writes its results directory.
// (Being implemented; the signature is stable.)
func Fuzz(ctx context.Context, o FuzzOptions) (dir string, run *results.Run, err error) {
	return "", nil, errors.New("fuzz: not implemented yet")
}
