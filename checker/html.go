package checker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/kvbench/kvbench/results"
)

// ErrNoViolation is returned by WriteHTML for a history with no known
// violation (linearizable, or undecided within the time limit).
var ErrNoViolation = errors.New("no linearizability violation to visualize")

// ErrMalformed is returned for a history no recorder produces (an op
// returning before its call, an unknown kind or outcome).
var ErrMalformed = errors.New("malformed history")

// ErrNoHistory is returned by CheckDir for a run directory without
// history.jsonl (the run did not record one).
var ErrNoHistory = errors.New("no recorded history (history.jsonl); record one with `kvbench run --check` or `kvbench fuzz`")

// WriteHTML checks events and, if some keys violate linearizability, writes
// Porcupine's visualization of those keys to path, atomically. Only
// violating keys are shown (the rest would bury the witness; at most 10,
// the offending key first), each from the last point before its violation
// where the key was quiescent with a determined state (see segment); that
// state appears as a "carried over" op. Each fault window of opts.Faults is
// an annotation on a row of its own ("nemesis memkv-0"), e.g. "crash
// memkv-0" over its time span. It returns ErrNoViolation when there is
// nothing to show. Prefer CheckAndWriteHTML, which searches only once.
func WriteHTML(ctx context.Context, path string, events []results.Event, opts Options) error {
	h, err := build(events)
	if err != nil {
		return fmt.Errorf("malformed history: %w", err)
	}
	r, bad := check(ctx, h, opts)
	if len(bad) == 0 {
		return fmt.Errorf("%s: %w", r.Verdict, ErrNoViolation)
	}
	return writeHTML(ctx, path, h, focus(bad, r.Key), opts)
}

// CheckAndWriteHTML is Check followed, on a violation (or an expected
// one), by writing the visualization WriteHTML would to path, without
// searching twice; Result.HTML is then path's base name. The Result is
// valid even with an error: one wrapping ErrMalformed (the verdict is then
// unknown), or one from writing path.
func CheckAndWriteHTML(ctx context.Context, path string, events []results.Event, opts Options) (Result, error) {
	start := time.Now()
	h, err := build(events)
	if err != nil {
		return Check(ctx, events, opts), fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	r, bad := check(ctx, h, opts)
	if len(bad) > 0 && ctx.Err() == nil {
		err = writeHTML(ctx, path, h, focus(bad, r.Key), opts)
		if err == nil {
			r.HTML = filepath.Base(path)
		}
	}
	r.Elapsed = time.Since(start)
	return r, err
}

// maxHTMLKeys bounds how many violating keys check.html shows.
const maxHTMLKeys = 10

// focus picks the violating segments to visualize: the offending key's
// first, then others in key order, at most maxHTMLKeys.
func focus(bad []segment, key string) []segment {
	out := make([]segment, 0, min(len(bad), maxHTMLKeys))
	for _, s := range bad {
		if s.key == key {
			out = append(out, s)
		}
	}
	for _, s := range bad {
		if s.key != key && len(out) < maxHTMLKeys {
			out = append(out, s)
		}
	}
	return out
}

// writeHTML runs the verbose check of the violating segments bad, one per
// key (within a budget of opts.Timeout), and writes the annotated
// visualization.
func writeHTML(ctx context.Context, path string, h *history, bad []segment, opts Options) error {
	ctx, stop := heapGuard(ctx, opts.MaxHeap)
	defer stop()
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	var ops []porcupine.Operation
	for _, p := range bad {
		ops = append(ops, p.ops...)
	}
	model := newModel(ctx)
	model.Partition = partitionByKey
	_, info := porcupine.CheckOperationsVerbose(model, ops, budget(ctx))
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		// Cancelled or out of heap; a timed-out search still has partial
		// results worth showing.
		return context.Cause(ctx)
	}
	info.AddAnnotations(faultAnnotations(opts.Faults, h.end))
	var buf bytes.Buffer
	if err := porcupine.Visualize(model, info, &buf); err != nil {
		return fmt.Errorf("visualize: %w", err)
	}
	return results.WriteFileAtomic(path, buf.Bytes())
}

// faultAnnotations turns fault windows into annotations on one row per
// process; a window that never healed (End before Start) runs to end.
func faultAnnotations(faults []results.Fault, end int64) []porcupine.Annotation {
	var as []porcupine.Annotation
	for _, f := range faults {
		stop := f.End
		if stop < f.Start {
			stop = end
		}
		desc := f.Kind + " " + f.Process
		details := fmt.Sprintf("%s from %s to %s", desc, time.Duration(f.Start), time.Duration(stop))
		if f.Role != "" {
			details += " (" + f.Role + ", chosen by --fault-target " + f.Target + ")"
		}
		if f.Error != "" {
			details += "; not healed: " + f.Error
		}
		color := "#fde2e1" // crash
		switch f.Kind {
		case "crash":
		case "pause":
			color = "#fff3c4"
		default: // network faults
			color = "#dbeafe"
		}
		as = append(as, porcupine.Annotation{
			Tag:             "nemesis " + f.Process,
			Start:           f.Start,
			End:             stop,
			Description:     desc,
			Details:         details,
			BackgroundColor: color,
		})
	}
	return as
}

// CheckDir re-checks the run in dir: it reads history.jsonl and run.json,
// takes the fault windows from run.json unless opts.Faults is set, checks,
// writes check.html on a violation (or an expected one), and records the
// verdict in run.json. See CheckDirResult for the full result.
func CheckDir(ctx context.Context, dir string, opts Options) (*results.Check, error) {
	r, err := CheckDirResult(ctx, dir, opts)
	if err != nil {
		return nil, err
	}
	return r.Record(), nil
}

// CheckDirResult is CheckDir returning the full Result. A directory without
// run.json yields results.ErrNotRun, one without a history ErrNoHistory, a
// corrupt history an error naming the line, a malformed one ErrMalformed
// (run.json is then left as it was). If ctx is cancelled the verdict
// is unknown and run.json is left as it was.
func CheckDirResult(ctx context.Context, dir string, opts Options) (Result, error) {
	run, err := results.ReadRun(dir)
	if err != nil {
		return Result{}, err
	}
	events, err := results.ReadHistory(dir)
	if errors.Is(err, os.ErrNotExist) {
		return Result{}, fmt.Errorf("%s: %w", dir, ErrNoHistory)
	}
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", dir, err)
	}
	if opts.Faults == nil {
		opts.Faults = run.Faults
	}
	r, err := CheckAndWriteHTML(ctx, filepath.Join(dir, results.CheckHTML), events, opts)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", dir, err)
	}
	if ctx.Err() != nil {
		return r, nil
	}
	run.Check = r.Record()
	if err := results.WriteRun(dir, run); err != nil {
		return Result{}, err
	}
	return r, nil
}
