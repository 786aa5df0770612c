package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// File names inside a run directory.
const (
	RunFile     = "run.json"
	HlogFile    = "latency.hlog"
	HistoryFile = "history.jsonl"
	CheckHTML   = "check.html"
)

// Run is the content of run.json.
type Run struct {
	// ID is the run directory's base name, e.g. "20261121-130501-run-memkv".
	ID string `json:"id"`
	// Config is the run's full configuration, typed (written by every
	// kvbench since it existed; see Configuration for older runs).
	Config *Config `json:"config,omitempty"`
	// Interrupted is set when the measured phase was cut short (Ctrl-C,
	// SIGTERM): its numbers cover only part of what was asked for.
	Interrupted bool `json:"interrupted,omitempty"`
	// ValidationFailed is set when -c found a GET result that differs from
	// the solution file; ValidationError says which.
	ValidationFailed bool   `json:"validation_failed,omitempty"`
	ValidationError  string `json:"validation_error,omitempty"`
	// Load is how busy the machine was during the measured phase.
	Load    *Load    `json:"load,omitempty"`
	Command string   `json:"command"` // "run" or "fuzz"
	Args    []string `json:"args"`    // the command line as typed
	// Impl is the bundled store's name, or the target URL for external ones.
	Impl     string            `json:"impl"`
	Workload string            `json:"workload"` // "a".."f", a property file, an input file, or "fuzz"
	Tags     map[string]string `json:"tags,omitempty"`
	// Options holds every resolved option that shapes the run (YCSB
	// properties, -n, -w, rate, server flags), as strings.
	Options  map[string]string `json:"options,omitempty"`
	Seed     int64             `json:"seed"`
	Clients  int               `json:"clients"`
	Window   int               `json:"window"`
	Rate     float64           `json:"rate,omitempty"` // target ops/s in open loop; 0 = closed loop
	Start    time.Time         `json:"start"`
	Seconds  float64           `json:"seconds"` // measured phase wall time
	Versions Versions          `json:"versions"`
	Machine  Machine           `json:"machine"`
	Overall  Overall           `json:"overall"`
	Ops      []OpSummary       `json:"ops"`
	// Clamped counts latencies outside the histogram range (1 ns..60 s),
	// recorded at the nearest bound.
	Clamped int64   `json:"clamped,omitempty"`
	Faults  []Fault `json:"faults,omitempty"`
	Check   *Check  `json:"check,omitempty"`
	// LoadPhase summarizes the YCSB load phase (the inserts before the
	// measured phase), when the run had one.
	LoadPhase *Phase `json:"load_phase,omitempty"`
}

// Versions records what produced a run.
type Versions struct {
	Kvbench string `json:"kvbench"`
	Go      string `json:"go"`
}

// Machine describes the load machine.
type Machine struct {
	Hostname string `json:"hostname"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	CPUs     int    `json:"cpus"`
	MemBytes uint64 `json:"mem_bytes,omitempty"`
	CPUModel string `json:"cpu_model,omitempty"`
}

// Phase summarizes one unmeasured phase of a run (YCSB's load phase).
type Phase struct {
	Seconds float64     `json:"seconds"`
	Overall Overall     `json:"overall"`
	Ops     []OpSummary `json:"ops"`
}

// Overall summarizes all operations of the measured phase.
type Overall struct {
	Ops       int64   `json:"ops"`
	Errors    int64   `json:"errors"`
	OpsPerSec float64 `json:"ops_per_sec"`
}

// OpSummary summarizes one op type (YCSB's READ, UPDATE, INSERT, SCAN,
// READ-MODIFY-WRITE, or DELETE, SWAP for other streams).
type OpSummary struct {
	Op        string  `json:"op"`
	Count     int64   `json:"count"`  // successful operations
	Errors    int64   `json:"errors"` // definite failures
	Unknown   int64   `json:"unknown,omitempty"`
	OpsPerSec float64 `json:"ops_per_sec"`
	Latency   Latency `json:"latency_us"`
	// Uncorrected is the latency from the actual send time, recorded beside
	// the corrected one in open-loop runs (--rate); nil in closed loop,
	// where the two are the same.
	Uncorrected *Latency `json:"uncorrected_latency_us,omitempty"`
}

// Latency is a latency distribution summary in microseconds.
type Latency struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// Fault is one window during which the nemesis held a fault on a process.
// Times are nanoseconds since the run's start, like history events.
type Fault struct {
	// Kind is one of the nemesis's kinds: crash, pause, partition, loss,
	// delay, dup.
	Kind string `json:"kind"`
	// Process names the node(s) the fault hit, comma-separated.
	Process string `json:"process"`
	// Target is the --fault-target policy that chose them (random, leader,
	// minority, a role...); Role says what they were when chosen, e.g.
	// "leader of p1".
	Target string `json:"target,omitempty"`
	Role   string `json:"role,omitempty"`
	Start  int64  `json:"start_ns"`
	End    int64  `json:"end_ns"`
	// Error is set when the fault could not be healed (restart failed).
	Error string `json:"error,omitempty"`
}

// Verdicts of a linearizability check.
const (
	VerdictOK        = "ok"
	VerdictViolation = "violation"
	// VerdictExpected is a violation the store's claims predict for this
	// configuration (e.g. a crash with --fsync never).
	VerdictExpected = "expected"
	VerdictUnknown  = "unknown" // the checker timed out or could not decide
)

// Check is the outcome of checking a run's history.
type Check struct {
	Verdict string  `json:"verdict"`
	Detail  string  `json:"detail,omitempty"` // one line: which key, the claim that predicted it
	Ops     int     `json:"ops"`              // operations checked
	Seconds float64 `json:"seconds"`          // checker wall time
	HTML    string  `json:"html,omitempty"`   // check.html, relative to the run dir
}

// ErrNotRun is returned by ReadRun for a directory without run.json.
var ErrNotRun = errors.New("not a kvbench run directory (no run.json)")

// WriteRun writes r to dir/run.json atomically.
func WriteRun(dir string, r *Run) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(filepath.Join(dir, RunFile), append(b, '\n')); err != nil {
		return err
	}
	os.Remove(filepath.Join(dir, OwnerFile)) // finished: no longer partial
	return nil
}

// ReadRun reads dir/run.json.
func ReadRun(dir string) (*Run, error) {
	b, err := os.ReadFile(filepath.Join(dir, RunFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNotRun)
	}
	if err != nil {
		return nil, err
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: corrupt %s: %w", dir, RunFile, err)
	}
	return &r, nil
}

// WriteFileAtomic writes data to a temp file beside path, syncs it and
// renames it over path, so readers see the old file or the new one.
func WriteFileAtomic(path string, data []byte) error {
	f, err := CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// NewDir creates base/<UTC timestamp>-<command>-<name>/ and returns its
// path. The directory holds OwnerFile until WriteRun completes it.
// name is sanitized to [A-Za-z0-9._-].
func NewDir(base, command, name string, now time.Time) (string, error) {
	safe := []byte(name)
	for i, c := range safe {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			safe[i] = '_'
		}
	}
	stamp := now.UTC().Format("20060102-150405")
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s-%s-%s", stamp, command, safe)
		if i > 0 {
			id = fmt.Sprintf("%s-%d", id, i)
		}
		dir := filepath.Join(base, id)
		if err := os.MkdirAll(base, 0o755); err != nil {
			return "", err
		}
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			owner := []byte(strconv.Itoa(os.Getpid()))
			if err := os.WriteFile(filepath.Join(dir, OwnerFile), owner, 0o644); err != nil {
				os.Remove(dir)
				return "", err
			}
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
}
