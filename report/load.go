package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kvbench/kvbench/results"
)

// ErrNoRuns is returned (wrapped) when an argument holds no kvbench runs.
var ErrNoRuns = errors.New("no kvbench runs")

// runData is one run directory read back.
type runData struct {
	*results.Run
	cfg    results.Config     // Run.Configuration(), workload name canonical
	dir    string             // absolute path of the run directory
	ivs    []results.Interval // latency.hlog; nil when the run has none
	events []results.Event    // history.jsonl of a fuzz run without an hlog
}

func newRunData(r *results.Run, dir string, ivs []results.Interval) *runData {
	cfg := r.Configuration()
	cfg.Workload = canonicalWorkload(cfg.Workload)
	if cfg.Command == "" {
		cfg.Command = r.Command
	}
	return &runData{Run: r, cfg: cfg, dir: dir, ivs: ivs}
}

// canonicalWorkload names YCSB's stock workloads by their letter, so
// `-P workloada` and `--workload a` are one workload.
func canonicalWorkload(w string) string {
	if l, ok := strings.CutPrefix(strings.ToLower(w), "workload"); ok && len(l) == 1 && l[0] >= 'a' && l[0] <= 'f' {
		return l
	}
	return w
}

// store is the run's store label: the impl name or target URL, with its
// impl flags.
func (r *runData) store() string {
	name := r.cfg.Name()
	if name == "" {
		name = r.Impl
	}
	if len(r.cfg.ImplFlags) > 0 {
		name += " " + strings.Join(r.cfg.ImplFlags, " ")
	}
	if name == "" {
		name = r.Tags["store"]
	}
	return name
}

func (r *runData) isFuzz() bool { return r.Command == "fuzz" }

// excluded says why a run is left out of every group and figure: it was
// interrupted or failed its -c validation. Such runs are still listed.
func (r *runData) excluded() string {
	switch {
	case r.Interrupted:
		return "interrupted"
	case r.ValidationFailed:
		return "failed validation (-c)"
	}
	return ""
}

// fault names the faults a fuzz run injected: its typed fault config
// (kinds, target, interval and duration), else its fault tag, else the
// kinds in its fault timeline, else "none".
func (r *runData) fault() string {
	if r.Config != nil && r.isFuzz() {
		return r.cfg.Faults.String() // "crash every 2s for 500ms", "none"
	}
	if f := r.Tags["fault"]; f != "" {
		return f
	}
	var kinds []string
	for _, f := range r.Faults {
		if !contains(kinds, f.Kind) {
			kinds = append(kinds, f.Kind)
		}
	}
	if len(kinds) == 0 {
		return "none"
	}
	sort.Strings(kinds)
	return strings.Join(kinds, "+")
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// skipped is a directory the report could not use, and why.
type skipped struct {
	dir, why string
}

// loaded is what loadRuns found: the usable runs, the directories it
// skipped (a corrupt run.json or latency.hlog), and run directories a
// killed kvbench left without run.json.
type loaded struct {
	runs    []*runData
	skipped []skipped
	partial []results.Partial
	sweeps  []*results.Sweep // what scenario runs planned, skipped and failed
}

// loadRuns reads every run named by args: a run directory, or a directory
// whose children are run directories (like runs/). Runs come back sorted by
// ID, each once. A run whose run.json or latency.hlog cannot be read is
// skipped and listed, so one bad run does not cost the whole report.
func loadRuns(args []string) (*loaded, error) {
	l := &loaded{}
	seen := map[string]bool{}
	add := func(dir string, r *results.Run) {
		abs, err := filepath.Abs(dir)
		if err != nil {
			abs = dir
		}
		if seen[abs] {
			return
		}
		seen[abs] = true
		if r.ID == "" {
			r.ID = filepath.Base(abs)
		}
		ivs, err := results.ReadHlog(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			l.skipped = append(l.skipped, skipped{dir, fmt.Sprintf("unreadable %s: %v", results.HlogFile, err)})
			return
		}
		if len(ivs) == 0 && r.Command == "fuzz" {
			// A fuzz run without a latency log: its timeline comes from the
			// recorded history.
			var events []results.Event
			if ivs, events, err = historyIntervals(dir); err != nil {
				l.skipped = append(l.skipped, skipped{dir, fmt.Sprintf("unreadable %s: %v", results.HistoryFile, err)})
				return
			}
			rd := newRunData(r, abs, ivs)
			rd.events = events
			l.runs = append(l.runs, rd)
			return
		}
		l.runs = append(l.runs, newRunData(r, abs, ivs))
	}
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w in %s: no such directory", ErrNoRuns, arg)
			}
			return nil, err
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%s is not a run directory", arg)
		}
		partial, _ := results.FindPartial(arg)
		l.partial = append(l.partial, partial...)
		r, err := results.ReadRun(arg)
		if err == nil {
			add(arg, r)
			continue
		}
		if !errors.Is(err, results.ErrNotRun) {
			l.skipped = append(l.skipped, skipped{arg, err.Error()})
			continue
		}
		sweeps, err := results.ReadSweeps(arg)
		if err != nil {
			l.skipped = append(l.skipped, skipped{arg, err.Error()})
		}
		l.sweeps = append(l.sweeps, sweeps...)
		entries, err := os.ReadDir(arg)
		if err != nil {
			return nil, err
		}
		found := 0
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			child := filepath.Join(arg, e.Name())
			r, err := results.ReadRun(child)
			if errors.Is(err, results.ErrNotRun) {
				continue
			}
			found++
			if err != nil {
				l.skipped = append(l.skipped, skipped{child, err.Error()})
				continue
			}
			add(child, r)
		}
		if found == 0 && len(partial) == 0 {
			return nil, fmt.Errorf("%w in %s (want a run directory with %s, or a directory of them such as runs/)", ErrNoRuns, arg, results.RunFile)
		}
	}
	sort.Slice(l.runs, func(i, j int) bool {
		if l.runs[i].ID != l.runs[j].ID {
			return l.runs[i].ID < l.runs[j].ID
		}
		return l.runs[i].dir < l.runs[j].dir
	})
	if len(l.runs) == 0 {
		var why []string
		for _, s := range l.skipped {
			why = append(why, s.dir+": "+s.why)
		}
		for _, p := range l.partial {
			why = append(why, p.Dir+": no "+results.RunFile+" (a partial run)")
		}
		return nil, fmt.Errorf("%w in %s: %s", ErrNoRuns, strings.Join(args, ", "), strings.Join(why, "; "))
	}
	return l, nil
}

// historyIntervals rebuilds latency intervals from dir/history.jsonl: the
// completed operations bucketed by return time, 100 ms per bucket (fuzz runs
// are short and their fault windows brief). It returns the events too. No
// history gives nothing.
func historyIntervals(dir string) ([]results.Interval, []results.Event, error) {
	events, err := results.ReadHistory(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	const bucket = 100 * time.Millisecond
	byBucket := map[int64]*hdr.Histogram{}
	var keys []int64
	for _, e := range events {
		if e.Outcome != results.OK || e.Return < 0 {
			continue
		}
		k := e.Return / int64(bucket)
		h := byBucket[k]
		if h == nil {
			h = results.NewHistogram()
			byBucket[k] = h
			keys = append(keys, k)
		}
		v, _ := results.Clamp(e.Return - e.Call)
		h.RecordValue(v)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	ivs := make([]results.Interval, 0, len(keys))
	for _, k := range keys {
		start := time.Duration(k) * bucket
		ivs = append(ivs, results.Interval{Tag: "ALL", Start: start, End: start + bucket, Hist: byBucket[k]})
	}
	return ivs, events, nil
}
