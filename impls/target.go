package impls

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/kvbench/kvbench/impls/proc"
)

// Target describes one kind of external system kvbench can drive, named by a
// scheme in --target: memcached://host:port, exec:'client command',
// shm:FILE, ... The explicit list is impls/registry.Targets.
type Target struct {
	// Scheme is the part before the colon: "memcached", "exec", "shm".
	Scheme string
	// Summary says in one line what the scheme drives.
	Summary string
	// Example is a complete --target value (with --serve where it needs one).
	Example string
	// Open connects to (or, with --serve, starts) the target and describes
	// what its protocol supports. The returned Impl has no Start or Serve;
	// its Claims may be nil (an external system promises nothing, so every
	// violation is one).
	Open func(ctx context.Context, env TargetEnv) (*Impl, Cluster, error)
}

// TargetEnv is what Target.Open needs.
type TargetEnv struct {
	// URL is the whole --target value; Rest is what follows "scheme:"
	// (for memcached://h:p, "//h:p").
	URL, Rest string
	// Serve are the --serve commands kvbench starts and may fault, in the
	// order given; Open waits until each is ready.
	Serve []ServeCommand
	// Dir is a private directory the caller removes after Close.
	Dir string
	// Clients and Window are the run's -n and -w.
	Clients, Window int
	// OpTimeout bounds one request where the target cannot tell by itself
	// (exec: a client that hangs); 0 means the target's default.
	OpTimeout time.Duration
	// Log receives the started processes' output.
	Log io.Writer
	// Exe is the kvbench binary, for targets that re-execute it.
	Exe string
}

// ServeCommand is one --serve: a shell command kvbench runs in its own
// process group, named for the nemesis and reports.
type ServeCommand struct {
	// Name is NAME from --serve NAME='cmd', or a name derived from the
	// command's first word.
	Name    string
	Command string
}

// Spec is how every target runs a --serve command: `/bin/sh -c 'exec CMD'`
// in kvbench's working directory, named for the nemesis. exec makes the
// command the process kvbench started, and proc gives it its own process
// group, so a crash kills everything it started. The caller adds the log
// and the readiness probes.
func (sc ServeCommand) Spec() proc.Spec {
	wd, _ := os.Getwd()
	return proc.Spec{Name: sc.Name, Path: "/bin/sh", Args: []string{"-c", "exec " + sc.Command}, Dir: wd}
}
