package istkvs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/proc"
)

// Target is the istkvs:DIR scheme: anyone's IST-KVS server (the course's
// ./kvs, or kvbench's own) driven through its jobs directory DIR. With
// --serve, kvbench first runs the built-in conformance cases against the
// same binary (part 1 form, a fresh directory each) and refuses a server
// whose files differ, printing the diffs; then starts the command, which
// must keep running and run new .job files (part 2, or --watch). A part-2
// command line (DIR THREADS BACKUPS FIFO) also gives fuzz --subscribe its
// register fifo.
func Target() impls.Target {
	return impls.Target{
		Scheme:  "istkvs",
		Summary: "an IST-KVS server through its jobs directory: GET PUT DELETE SCAN as one-command job files",
		Example: "istkvs:./jobs --serve './kvs ./jobs 4 2 /tmp/register_fifo'",
		Open:    openTarget,
	}
}

// protocol is what a job file can express; an external server promises
// nothing.
func protocol() *impls.Impl {
	return &impls.Impl{Name: "istkvs", Summary: "external IST-KVS server (jobs directory)",
		Kinds: Impl().Kinds, Canonical: Canonical, MaxWindow: 1}
}

// probeTimeout bounds the wait for a started server to answer a job.
const probeTimeout = 15 * time.Second

// ErrConformance: the --serve binary's files differ from the spec's.
var ErrConformance = errors.New("istkvs: the server's files differ from the conformance cases")

func openTarget(ctx context.Context, env impls.TargetEnv) (*impls.Impl, impls.Cluster, error) {
	dir := env.Rest
	if dir == "" {
		return nil, nil, fmt.Errorf("istkvs target: want istkvs:JOBS_DIR")
	}
	if len(env.Serve) > 1 {
		return nil, nil, fmt.Errorf("istkvs target: one server, one --serve")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("istkvs target: %w", err)
	}
	var procs []*proc.Process
	fifo := ""
	for _, s := range env.Serve {
		words, err := proc.SplitArgs(s.Command)
		if err != nil {
			return nil, nil, fmt.Errorf("--serve: %w", err)
		}
		if argv := binaryOf(words, dir); argv != nil {
			if rest := words[len(argv):]; len(rest) == 4 {
				fifo = rest[3] // part 2: DIR THREADS BACKUPS FIFO; sessions for --subscribe
			}
			var report bytes.Buffer
			failed, err := RunConformance(ctx, argv, &report)
			if env.Log != nil {
				env.Log.Write(report.Bytes())
			}
			if err != nil {
				return nil, nil, err
			}
			if failed > 0 {
				return nil, nil, fmt.Errorf("%w (%d of %d cases):\n%s", ErrConformance, failed, len(ConformanceCases()), report.String())
			}
		}
		spec := s.Spec()
		spec.Log = env.Log
		p, err := proc.Start(ctx, spec)
		if err != nil {
			return nil, nil, fmt.Errorf("--serve %q: %w", s.Command, err)
		}
		procs = append(procs, p)
	}
	c, err := NewJobCluster(dir, fifo, procs...)
	if err != nil {
		stopAll(procs)
		return nil, nil, err
	}
	if err := probe(ctx, c); err != nil {
		c.Close()
		return nil, nil, err
	}
	return protocol(), c, nil
}

// binaryOf returns the words of a --serve command before its jobs
// directory argument (the binary and any leading words), or nil when the
// directory is not among them.
func binaryOf(words []string, dir string) []string {
	for i, w := range words {
		if i > 0 && filepath.Clean(w) == filepath.Clean(dir) {
			return words[:i]
		}
	}
	return nil
}

// probe runs one READ job and waits for its answer: the server runs jobs
// that appear in its directory.
func probe(ctx context.Context, c *JobCluster) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cl, _ := c.NewClient(ctx, 1<<20)
	if _, err := cl.Do(ctx, impls.Request{Kind: impls.Get, Key: EndKey}); err != nil {
		return fmt.Errorf("istkvs target %s: no answer to a job within %v (is the server running, and does it run .job files that appear while it runs, as part 2 does?): %w", c.Dir(), probeTimeout, err)
	}
	return nil
}

func stopAll(procs []*proc.Process) {
	for _, p := range procs {
		p.Stop(2 * time.Second)
	}
}
