package impls

import (
	"context"
	"io"
	"time"
)

// Impl describes one bundled store: what it supports, what it promises, how to
// run its server in the foreground (`kvbench serve NAME`) and how to start it
// as a cluster of child processes for a benchmark or a fuzz run.
type Impl struct {
	Name    string
	Summary string
	// Kinds lists the operation kinds the store's protocol has.
	Kinds []Kind
	// Canonical, when set, maps a written value to the value the store will
	// read back (shm stores u32s: a string becomes its decimal hash). The
	// fuzzer writes canonical values so the history compares like with
	// like. Nil means values are stored verbatim.
	Canonical func(value string) string
	// MaxWindow is the largest number of requests one client may keep in
	// flight (-w); 1 means the protocol cannot pipeline.
	MaxWindow int
	// Claims says what the store promises under the given server flags and
	// faults; the checker uses it to tell an expected violation from a bug.
	Claims func(flags []string, faults Faults) Claim
	// Serve runs the server in the foreground with the system's own command
	// line until ctx is cancelled.
	Serve func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	// Start starts the store's server processes and returns once they are ready.
	Start func(ctx context.Context, env StartEnv) (Cluster, error)
	// Batch, when set, runs a directory of the system's own batch input to
	// completion with the server flags, prints its figures to w and checks
	// its outputs (`kvbench run --impl NAME --jobs DIR`: IST-KVS's .job
	// files). It returns an error wrapping ErrInvalid when the outputs are
	// wrong.
	Batch func(ctx context.Context, dir string, flags []string, w io.Writer) error
	// Shorthands are kvbench flags of run and fuzz that stand for server
	// flags of this store (shm: --server-threads N is its -n N).
	Shorthands []Shorthand
	// Epilogue, when set, prints the system's own closing lines after a
	// benchmark's summary (shm: the CS537 client's "Total time" and
	// "Throughput"), given the successful ops and the measured time.
	Epilogue func(w io.Writer, ops int64, elapsed time.Duration)
	// Client runs the store's own client in the foreground with the system's
	// own command line (`kvbench client NAME ...`): the original's client
	// where it is line-oriented, else a MadKV stdin/stdout client (package
	// madkvline), so every bundled store can be driven through exec:.
	// Nil when the store has no client of its own.
	Client func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// Shorthand is a kvbench flag that expands to a server flag of one store.
type Shorthand struct {
	// Flag is the kvbench flag's name, without dashes: "server-threads".
	Flag string
	// Server is the server flag it becomes: "-n".
	Server string
	// Usage is the help text, e.g. "server threads (the course server's -n)".
	Usage string
}

// Supports reports whether the store's protocol has kind k.
func (im *Impl) Supports(k Kind) bool {
	for _, x := range im.Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Faults names the faults a run injects, and on which nodes.
type Faults struct {
	Crash bool
	Pause bool
	// Partition: network faults through kvbench's proxy on the nodes' links
	// (isolate a node, split a group).
	Partition bool
	// Net lists degraded-link faults through the proxy ("loss", "delay",
	// "dup"); empty for none.
	Net []string
	// Target is the --fault-target policy: random, leader, follower,
	// minority, majority, or a role or node name. "" means random.
	Target string
}

// Any reports whether f injects any fault.
func (f Faults) Any() bool { return f.Crash || f.Pause || f.Partition || len(f.Net) > 0 }

// Claim is what a store promises for one configuration.
type Claim struct {
	// Linearizable: every history must be linearizable; a violation is a bug.
	Linearizable bool
	// Why explains the claim in one line, e.g. "--fsync never may lose
	// acknowledged writes on a crash".
	Why string
}

// StartEnv is what Impl.Start needs to start a cluster.
type StartEnv struct {
	// Exe is the kvbench binary to re-execute as `Exe serve NAME ...`.
	Exe string
	// Dir is a private directory for data files, sockets and shared memory;
	// the caller removes it.
	Dir string
	// Clients and Window are the -n and -w the run will use (shm sizes its
	// status board from them).
	Clients, Window int
	// Flags are extra server flags from --impl-flags, in the system's own syntax.
	Flags []string
	// Log receives the servers' stdout and stderr.
	Log io.Writer
}

// Cluster is a running store: its nodes and a way to open clients.
type Cluster interface {
	// NewClient opens client number id (0-based, id < StartEnv.Clients).
	NewClient(ctx context.Context, id int) (Client, error)
	// Nodes lists the processes the nemesis may fault, with their roles;
	// empty for a target kvbench does not manage.
	Nodes() []Node
	// Close stops every process and releases resources.
	Close() error
}
