package shm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/proc"
)

// Impl describes shm for the registry.
func Impl() *impls.Impl {
	return &impls.Impl{
		Name:      "shm",
		Summary:   "shared-memory ring buffer + status board, u32 keys (seed 000)",
		Kinds:     []impls.Kind{impls.Get, impls.Put},
		MaxWindow: RingSize - 1,
		Canonical: canonicalValue,
		Claims:    claims,
		Serve:     serve,
		Start:     start,
		Epilogue:  epilogue,
		Shorthands: []impls.Shorthand{
			{Flag: "server-threads", Server: "-n", Usage: "server threads (the course server's -n)"},
			{Flag: "table-size", Server: "-s", Usage: "initial hash table size (the course server's -s)"},
		},
		Client: runClient,
	}
}

// canonicalValue is Impl.Canonical: the decimal form of MapValue, which is
// what a GET returns. 0 cannot be stored distinguishably (a GET that reads 0
// reports the key absent), so its canonical form is 1: a writer that
// canonicalizes never writes it.
func canonicalValue(v string) string {
	return strconv.FormatUint(uint64(max(MapValue(v), 1)), 10)
}

// claims: the table is linearizable (every operation takes its shard's
// lock), a pause only delays answers, and a crash loses the table.
func claims(_ []string, f impls.Faults) impls.Claim {
	if f.Crash {
		return impls.Claim{Linearizable: false,
			Why: "shm keeps its table in server memory; a crash loses every write"}
	}
	return impls.Claim{Linearizable: true,
		Why: "each GET/PUT is applied under its shard's lock between submission and completion"}
}

// FileName is the shared file's name in StartEnv.Dir (the course's name).
const FileName = "shmem_file"

// start is Impl.Start: it creates the shared file for env.Clients threads of
// env.Window slots, starts `kvbench serve shm --file PATH FLAGS...` and waits
// until that server has mapped the file.
func start(ctx context.Context, env impls.StartEnv) (impls.Cluster, error) {
	n, w := env.Clients, env.Window
	if w == 0 {
		w = 1
	}
	if err := checkShape(n, w); err != nil {
		return nil, err
	}
	for _, f := range env.Flags {
		if name := strings.TrimLeft(f, "-"); name == "file" || strings.HasPrefix(name, "file=") {
			return nil, fmt.Errorf("shm: server flag %q: kvbench chooses the shared file", f)
		}
	}
	exe := env.Exe
	if exe == "" {
		var err error
		if exe, err = proc.Executable(); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(env.Dir, FileName)
	c, err := newCluster(path, n, w, defaultWait())
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "shm", "--file", path}, env.Flags...)
	c.proc, err = proc.Start(ctx, proc.Spec{
		Name: "shm-server", Path: exe, Args: args, Dir: env.Dir, Log: env.Log,
		Ready: c.ready, ReadyTimeout: 10 * time.Second,
	})
	if err != nil {
		c.r.unmap()
		c.releaseProcs()
		return nil, fmt.Errorf("shm: %w", err)
	}
	return c, nil
}

// MaxSlots bounds -n times -w: the status board has one 20-byte slot per
// request in flight (20 MiB at this bound), and the file is mapped whole.
const MaxSlots = 1 << 20

// checkShape validates -n and -w for a shared file.
func checkShape(n, w int) error {
	if n < 1 || w < 1 || w > RingSize-1 || n > MaxSlots/w {
		return fmt.Errorf("shm: -n %d -w %d: need 1 <= w <= %d and 1 <= n*w <= %d", n, w, RingSize-1, MaxSlots)
	}
	return nil
}

// cluster is a started shm server and the client side's mapping of its file.
type cluster struct {
	r      *region
	path   string // the shared file
	remove bool   // Close removes it (the shm: target created it)
	// probeOff is the shm: target's readiness probe slot (see probe).
	probeOff int
	prober   prober
	wait     waitPolicy
	threads  []*thread
	poller   *poller
	proc     *proc.Process
	seen     atomic.Uint32 // the last server epoch the readiness probe accepted
	// raised: the cluster holds a raise of GOMAXPROCS (procs.go; under
	// procs.mu).
	raised bool

	closing chan struct{}
	once    sync.Once
}

var _ impls.Cluster = (*cluster)(nil)

// newCluster creates the file at path (zeroed, mode 0600) for n threads of
// w slots, and maps it.
func newCluster(path string, n, w int, wait waitPolicy) (*cluster, error) {
	return newClusterExtra(path, n, w, 0, wait)
}

// newClusterExtra is newCluster with extra status slots after the
// threads' (the shm: target's readiness probe uses one).
func newClusterExtra(path string, n, w, extra int, wait waitPolicy) (*cluster, error) {
	if err := createSized(path, RegionSize(n, w)+extra*DescSize); err != nil {
		return nil, fmt.Errorf("shm: %w", err)
	}
	r, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	c := &cluster{r: r, path: path, wait: wait, closing: make(chan struct{})}
	if w == 1 {
		c.raiseProcs(n) // before the threads' policies are set (forBusy)
	}
	pl := newPoller(r, &c.wait)
	c.poller = pl
	ring := newRingLock(n)
	for id := range n {
		c.threads = append(c.threads, newThread(r, wait, pl, ring, id, n, w))
	}
	return c, nil
}

// setWait makes p the cluster's waiting policy (the benchmarks compare
// policies).
func (c *cluster) setWait(p waitPolicy) {
	c.wait = p
	for _, t := range c.threads {
		t.setWait(p, len(c.threads))
	}
}

// errNotReady is the readiness probe's answer until a new server runs.
var errNotReady = errors.New("shm server has not mapped the file yet")

// ready is the readiness probe: a server increments the epoch word once it
// has mapped the file and repaired the ring, so a new incarnation (first
// start or restart) is ready when the epoch exceeds the last one accepted.
// This needs no file or byte outside the region's padding.
func (c *cluster) ready(context.Context) error {
	e, ok := tryLoad(c.r.word(offEpoch))
	if !ok {
		return fmt.Errorf("%w: %w", errNotReady, errClientFault)
	}
	if s := c.seen.Load(); e <= s {
		return fmt.Errorf("%w (epoch %d)", errNotReady, e)
	}
	c.seen.Store(e)
	return nil
}

// NewClient opens client thread id, owning status slots [id*w, id*w+w).
func (c *cluster) NewClient(_ context.Context, id int) (impls.Client, error) {
	if id < 0 || id >= len(c.threads) {
		return nil, fmt.Errorf("shm: client %d: the file has slots for clients 0..%d", id, len(c.threads)-1)
	}
	select {
	case <-c.closing:
		return nil, errClosed
	default:
	}
	return &client{c: c, t: c.threads[id]}, nil
}

// Nodes returns the server process.
func (c *cluster) Nodes() []impls.Node { return impls.ProcNodes("server", c.proc) }

// closeWait bounds how long Close waits for the calls under way (a
// variable for the tests).
var closeWait = 5 * time.Second

// Close stops the server, makes every Do, Send and Recv under way return,
// and unmaps the file (the caller removes StartEnv.Dir), unless a client
// still holds it after closeWait: one that abandoned requests in flight
// without receiving them or closing its client (see client.session). The
// region then stays mapped, and that client's later calls fail without
// touching it.
func (c *cluster) Close() error {
	var err error
	c.once.Do(func() {
		close(c.closing)
		if c.proc != nil {
			err = c.proc.Stop(2 * time.Second)
		}
		// Wait for the Do calls and pipelining sessions under way; they
		// see closing. A pipelining client lets go at its next Send or
		// Recv, so one that abandoned requests in flight without
		// closing its client never does: after closeWait the region
		// stays mapped (a leak, never a fault or a hang).
		locked := 0
		for deadline := time.Now().Add(closeWait); locked < len(c.threads); {
			if c.threads[locked].inUse.TryLock() {
				locked++
			} else if time.Now().After(deadline) {
				break
			} else {
				time.Sleep(100 * time.Microsecond)
			}
		}
		c.poller.idle()
		if locked == len(c.threads) {
			err = errors.Join(err, c.r.unmap())
		}
		if c.remove {
			err = errors.Join(err, os.Remove(c.path))
		}
		c.releaseProcs()
		for _, t := range c.threads[:locked] {
			t.inUse.Unlock() // later calls see closing before touching the region
		}
	})
	return err
}
