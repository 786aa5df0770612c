package driver

import (
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

// record adds one finished request to the worker's history: sent at t0,
// answered (or given up on) at end, err nil or why it failed. Every path
// that sends requests records through it, so events are built in one place
// (results.Recorder.Add). The worker's recorder is created on first use.
func (w *worker) record(epoch time.Time, req impls.Request, resp impls.Response, err error, t0, end time.Time) {
	if w.rec == nil {
		w.rec = results.NewRecorder(w.id)
	}
	w.rec.Add(req, resp, int64(t0.Sub(epoch)), int64(end.Sub(epoch)), err)
}

// history gathers the workers' recorders into the run's history.
func history(workers []*worker) *results.History {
	parts := make([]*results.Recorder, 0, len(workers))
	for _, w := range workers {
		if w != nil {
			parts = append(parts, w.rec)
		}
	}
	return results.NewHistory(parts...)
}
