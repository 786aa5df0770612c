package istkvs

import (
	"context"
	"errors"
	"fmt"
	"github.com/kvbench/kvbench/impls"
	"io"
	"strings"
)

// ErrBatchInvalid: a batch run left .out or .bck files that no
// serialization of its jobs explains.
var ErrBatchInvalid = fmt.Errorf("istkvs: batch outputs inconsistent with every serialization of the jobs: %w", impls.ErrInvalid)

// RunJobs is `kvbench run --impl istkvs --jobs DIR`: it runs the bundled
// server on dir to completion with the server flags (--threads, --backups;
// defaults 4 and 2), reports jobs/s and commands/s to w, and checks every
// .out and .bck (Validate). It returns ErrBatchInvalid, after listing the
// problems, when the check fails.
func RunJobs(ctx context.Context, dir string, flags []string, w io.Writer) (BatchResult, error) {
	cfg, err := parseServe(append(append([]string{}, flags...), dir), io.Discard)
	if err != nil {
		return BatchResult{}, fmt.Errorf("istkvs --impl-flags %q: %w (want --threads T --backups B)", strings.Join(flags, " "), err)
	}
	if cfg.RegisterFifo != "" || cfg.Watch {
		return BatchResult{}, errors.New("istkvs --jobs runs part 1 (every job, then exit): drop --fifo and --watch")
	}
	res, err := RunBatch(ctx, dir, cfg.Threads, cfg.Backups)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(w, "istkvs batch: %d jobs, %d commands, %d backups in %.3f s (%d threads, max %d backups)\n",
		res.Jobs, res.Commands, res.Backups, res.Elapsed.Seconds(), cfg.Threads, cfg.Backups)
	fmt.Fprintf(w, "[OVERALL], RunTime(ms), %d\n", res.Elapsed.Milliseconds())
	fmt.Fprintf(w, "[JOBS], Throughput(jobs/sec), %.2f\n", res.JobsPerSec())
	fmt.Fprintf(w, "[COMMANDS], Throughput(commands/sec), %.2f\n", res.CommandsPerSec())
	if len(res.Problems) > 0 {
		fmt.Fprintf(w, "check: violation — %d problems:\n", len(res.Problems))
		for _, p := range res.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
		return res, ErrBatchInvalid
	}
	fmt.Fprintln(w, "check: ok — no .out or .bck contradicts a serialization of the jobs (exact for jobs with an .out.expected)")
	return res, nil
}

// batch is Impl.Batch: RunJobs without the result.
func batch(ctx context.Context, dir string, flags []string, w io.Writer) error {
	_, err := RunJobs(ctx, dir, flags, w)
	return err
}
