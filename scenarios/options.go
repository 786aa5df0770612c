package scenarios

import (
	"github.com/kvbench/kvbench/impls"
	"io"
	"time"
)

// Target selects what a run drives: a bundled store or an external target.
type Target struct {
	// Impl names a bundled store (see impls/registry). Exactly one of Impl
	// and URL is set.
	Impl string
	// URL is an external target: memcached://host:port.
	URL string
	// Serve are server commands kvbench starts (each in its own process
	// group) for an external target, and may fault.
	Serve []impls.ServeCommand
	// OpTimeout bounds one request where the target cannot tell by itself
	// (exec: clients); 0 means the target's default.
	OpTimeout time.Duration
	// ImplFlags are extra flags for the bundled store's server, in the
	// system's own syntax (--impl-flags '--fsync never').
	ImplFlags []string
	// Fresh are paths (the durable state of the Serve'd service, e.g.
	// backer directories) emptied before the service starts for each run,
	// since MadKV's checks assume an empty store (--fresh).
	Fresh []string
}

// Name returns the impl name or URL, for run ids and reports.
func (t Target) Name() string {
	if t.Impl != "" {
		return t.Impl
	}
	return t.URL
}

// Output says where a run writes and what it prints.
type Output struct {
	// Dir is the base results directory; a run creates Dir/<id>/.
	Dir string
	// Tags label the run for reports (scenario name, sweep coordinates).
	Tags map[string]string
	// Args is the command line recorded in run.json.
	Args   []string
	Stdout io.Writer
	// Status receives progress; nil or Quiet prints none.
	Status io.Writer
	Quiet  bool
	// JSON prints run.json on stdout instead of the YCSB-format summary.
	JSON bool
	// CourseLogs, when set, is a directory where the run also writes the
	// MadKV course's log layout (fuzz/fuzz-<a>-<b>.log,
	// bench/bench-<clients>-<wl>[-<n>].log; see courselogs.go).
	CourseLogs string
}

// BenchOptions configures one benchmark run (`kvbench run`).
type BenchOptions struct {
	Target Target
	// Workload is a YCSB core workload letter "a".."f"; PropertyFiles and
	// Props (-P, -p) refine or replace it; Input (-i) replays a file instead.
	Workload      string
	PropertyFiles []string
	Props         map[string]string
	Input         string
	// Solution (-c) validates each GET of a single-client replay against an
	// expected-results file, as the CS537 client's -c does.
	Solution string
	Clients  int // -n
	Window   int // -w
	Ops      int64
	Duration time.Duration
	Records  int64   // YCSB recordcount (load phase size)
	Rate     float64 // open loop target ops/s; 0 = closed loop
	Seed     int64
	Check    bool // record the history and check linearizability
	Output   Output
}

// FuzzOptions configures one fuzz run (`kvbench fuzz`).
type FuzzOptions struct {
	Target       Target
	Clients      int
	Keys         int
	OpsPerClient int
	Conflict     bool
	ValueSize    int
	Workload     string // optional YCSB workload instead of the MadKV mix
	Seed         int64
	Crash        bool
	Pause        bool
	// Partition isolates nodes through kvbench's proxy; Net degrades their
	// links ("loss", "delay", "dup").
	Partition bool
	Net       []string
	// FaultTarget picks the nodes each fault hits: random (the default),
	// leader, follower, minority, majority, or a role or node name.
	FaultTarget   string
	FaultInterval time.Duration
	FaultDuration time.Duration
	// Subscribe opens sessions that subscribe to the hot keys and checks
	// their notifications against the history (istkvs).
	Subscribe bool
	Output    Output
}

// Faults returns the faults o asks for, as the store's claims see them.
func (o FuzzOptions) Faults() impls.Faults {
	return impls.Faults{Crash: o.Crash, Pause: o.Pause, Partition: o.Partition,
		Net: append([]string(nil), o.Net...), Target: o.FaultTarget}
}
