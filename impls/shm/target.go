package shm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/proc"
)

// Target is the shm:FILE target: anyone's course-style shm server (a
// student's C ./server, or `kvbench serve shm`) driven through the shared
// file FILE.
//
// kvbench takes the course client's part: it creates FILE (removing a
// previous shm region there first; anything else at that path is refused),
// sized and zeroed for -n client threads of -w status slots each, plus one
// slot after them for its readiness probe. It starts the one --serve
// command in FILE's directory, because the course's server opens
// `shmem_file` in its working directory (relative paths in the command are
// relative to that directory too; the absolute path of FILE is also in the
// server's environment as KVBENCH_SHM_FILE, for servers that take it as a
// flag). The server is ready once it has answered a probe GET posted in the
// ring: that proves the started process serves this very file (FILE is a
// new file, so no older server maps it). Requests then go through the ring
// protocol exactly as with the bundled shm; the client relies only on v and
// ready in a status slot, as the course's server writes nothing else.
// Close stops the server and removes FILE.
//
// Limits: a course server that is killed while it holds ring entries
// (claimed, not released) leaves the ring stalled for its successor, which
// the course protocol cannot repair from outside; kvbench's own server
// repairs it when it starts.
func Target() impls.Target {
	return impls.Target{
		Scheme:  "shm",
		Summary: "a course-style shared-memory ring server (yours or `kvbench serve shm`) on FILE, which kvbench creates: GET PUT, pipelined",
		Example: "shm:./shmem_file --serve './server -n 2 -s 1000'",
		Open:    openTarget,
	}
}

// targetReadyTimeout bounds the wait for a started server to answer the
// readiness probe.
const targetReadyTimeout = 15 * time.Second

// errNoServe is returned when shm:FILE is not given exactly one --serve.
var errNoServe = errors.New("shm:FILE needs exactly one --serve 'CMD': kvbench creates FILE as the course's client does, then starts the server in its directory")

// errNotRegion is returned when FILE exists and is not a shm region.
var errNotRegion = errors.New("exists and is not a shm region; refusing to replace it")

func openTarget(ctx context.Context, env impls.TargetEnv) (*impls.Impl, impls.Cluster, error) {
	return openTargetTimeout(ctx, env, targetReadyTimeout)
}

// targetImpl describes what the course's protocol can express. It makes no
// claims, so every violation is one.
func targetImpl() *impls.Impl {
	return &impls.Impl{Name: "shm", Summary: "course-style shm server",
		Kinds: []impls.Kind{impls.Get, impls.Put}, MaxWindow: RingSize - 1, Canonical: canonicalValue}
}

func openTargetTimeout(ctx context.Context, env impls.TargetEnv, ready time.Duration) (*impls.Impl, impls.Cluster, error) {
	if env.Rest == "" {
		return nil, nil, fmt.Errorf("target %q: want shm:FILE, e.g. %s", env.URL, Target().Example)
	}
	if len(env.Serve) != 1 {
		return nil, nil, errNoServe
	}
	n, w := env.Clients, env.Window
	if w == 0 {
		w = 1
	}
	if err := checkShape(n, w); err != nil {
		return nil, nil, err
	}
	path, err := filepath.Abs(env.Rest)
	if err != nil {
		return nil, nil, fmt.Errorf("shm: %w", err)
	}
	if err := removeRegion(path); err != nil {
		return nil, nil, err
	}
	c, err := newClusterExtra(path, n, w, 1, defaultWait())
	if err != nil {
		return nil, nil, err
	}
	c.remove = true
	c.probeOff = RegionSize(n, w)
	s := env.Serve[0]
	spec := s.Spec()
	// The course's server opens shmem_file in its working directory.
	spec.Dir, spec.Env, spec.Log, spec.Ready, spec.ReadyTimeout = filepath.Dir(path), []string{"KVBENCH_SHM_FILE=" + path}, env.Log, c.probe, ready
	c.proc, err = proc.Start(ctx, spec)
	if err != nil {
		c.r.unmap()
		c.releaseProcs()
		os.Remove(path)
		return nil, nil, fmt.Errorf("--serve %q: %w", s.Command, err)
	}
	return targetImpl(), c, nil
}

// removeRegion removes a previous shm region at path, so that the file
// kvbench creates is new (a server still mapping the old one keeps it and
// never sees the new ring). Anything else at path is refused.
func removeRegion(path string) error {
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("shm: %w", err)
	case !st.Mode().IsRegular() || !validSize(st.Size()):
		return fmt.Errorf("shm: %s (%v, %d bytes) %w", path, st.Mode().Type(), st.Size(), errNotRegion)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("shm: %w", err)
	}
	return nil
}

// prober is the readiness probe's state: a GET posted in the ring for the
// probe slot, not answered yet.
type prober struct {
	mu      sync.Mutex
	pending bool
	sent    time.Time
}

// probeResend is how long an unanswered probe waits before another is
// posted (a probe taken by a server that was then killed is never
// answered).
const probeResend = time.Second

// probe is the shm: target's readiness check, polled after the --serve
// process started (and after each restart). It posts a GET whose status
// slot is the probe slot and succeeds once that slot is answered. The slot
// is cleared when a probe round starts, after the previous incarnation was
// killed, so only a process alive now can have answered: the started server,
// mapping this file, which kvbench created after every other process had
// opened theirs. Clients never use the probe slot.
func (c *cluster) probe(ctx context.Context) (err error) {
	c.prober.mu.Lock()
	defer c.prober.mu.Unlock()
	defer catchFault(onFault(), &err, fmt.Errorf("%w: %w", errNotReady, errClientFault))
	rd := c.r.ready(c.probeOff)
	if c.prober.pending && load(rd) == 1 {
		store(rd, 0)
		c.prober.pending = false
		return nil
	}
	if !c.prober.pending || time.Since(c.prober.sent) > probeResend {
		if !c.prober.pending {
			store(rd, 0)
		}
		pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		err := c.r.produce(pctx, &Desc{Type: TypeGet, ResOff: int32(c.probeOff)}, &c.wait)
		cancel()
		if err != nil {
			return fmt.Errorf("%w: the ring of %s is full, the probe cannot be posted", errNotReady, c.path)
		}
		c.prober.pending, c.prober.sent = true, time.Now()
	}
	return fmt.Errorf("%w: no answer yet to the probe GET in %s (a course server opens shmem_file in its working directory, %s)",
		errNotReady, c.path, filepath.Dir(c.path))
}
