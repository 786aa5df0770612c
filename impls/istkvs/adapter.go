package istkvs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/proc"
	"golang.org/x/sys/unix"
)

// EndKey is the key of the READ the job adapter appends to every job: its
// line `[(kvbench-end,KVSERROR)]` marks the .out complete (a job whose only
// command prints nothing, a WRITE, would otherwise be indistinguishable
// from one not yet run). No workload writes it: it has a '-'.
const EndKey = "kvbench-end"

var endLine = []byte("[(" + EndKey + "," + ReadMissing + ")]\n")

// ErrBadRequest: the request cannot be expressed as a job (a key or value
// that is not valid for IST-KVS). The store is unchanged.
var ErrBadRequest = errors.New("istkvs: not expressible as a job command")

// ErrBadOutput: a job's .out is not what any IST-KVS could print.
var ErrBadOutput = errors.New("istkvs: malformed .out")

// JobCluster drives an IST-KVS server through its jobs directory: each
// request is a one-command job file, its answer read from the .out. It
// works for the bundled server and for anyone's kvs that watches its
// directory for new jobs.
type JobCluster struct {
	dir   string
	fifo  string // register fifo, "" when unknown
	procs []*proc.Process
	w     *watcher
	stop  context.CancelFunc
	done  chan struct{}
	seq   atomic.Uint64
	pid   int

	mu      sync.Mutex
	waiters map[string]chan struct{} // .out base name -> woken on each event
	encoded map[string]string        // stored key -> original, for keys EncodeKey changed
}

var _ impls.Cluster = (*JobCluster)(nil)

// NewJobCluster watches dir (the server's jobs directory) for .out files.
// fifo is the server's register fifo ("" if none); procs are the server
// processes kvbench manages (Close stops them).
func NewJobCluster(dir, fifo string, procs ...*proc.Process) (*JobCluster, error) {
	w, err := newWatcher(dir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &JobCluster{dir: dir, fifo: fifo, procs: procs, w: w, stop: cancel, done: make(chan struct{}),
		pid: os.Getpid(), waiters: map[string]chan struct{}{}, encoded: map[string]string{}}
	go func() {
		defer close(c.done)
		w.run(ctx, c.wake, func(string) {}, c.wakeAll)
	}()
	return c, nil
}

func (c *JobCluster) wake(name string) {
	c.mu.Lock()
	ch := c.waiters[name]
	c.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (c *JobCluster) wakeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Dir returns the jobs directory.
func (c *JobCluster) Dir() string { return c.dir }

// NewClient returns a client whose requests become job files.
func (c *JobCluster) NewClient(_ context.Context, id int) (impls.Client, error) {
	return &jobClient{c: c, id: id}, nil
}

// sessionSeq numbers the sessions this process opens, so their pipe names
// never collide (several observers, several clusters in one test binary).
var sessionSeq atomic.Uint64

// Session opens a client session on the server's register fifo, with pipes
// named for this process and name (at most 40 characters in all).
func (c *JobCluster) Session(ctx context.Context, name string) (*Session, error) {
	if c.fifo == "" {
		return nil, errors.New("istkvs: this server has no register fifo")
	}
	base := fmt.Sprintf("/tmp/kvb%d-%d%s", c.pid, sessionSeq.Add(1), name)
	return Connect(ctx, c.fifo, [3]string{base + "q", base + "r", base + "n"})
}

// Nodes returns the managed server processes (role "server").
func (c *JobCluster) Nodes() []impls.Node { return impls.ProcNodes("server", c.procs...) }

// Close stops watching and stops the managed processes.
func (c *JobCluster) Close() error {
	c.stop()
	c.w.close()
	<-c.done
	var errs []error
	for _, p := range c.procs {
		errs = append(errs, p.Stop(5*time.Second))
	}
	return errors.Join(errs...)
}

// jobClient is one driver client: one request at a time.
type jobClient struct {
	c      *JobCluster
	id     int
	closed atomic.Bool
}

var _ impls.Client = (*jobClient)(nil)

// errClientClosed: Do after Close.
var errClientClosed = errors.New("istkvs: client closed")

// Close implements impls.Client.
func (j *jobClient) Close() error {
	j.closed.Store(true)
	return nil
}

// EncodeKey returns the key the adapter stores for k: k itself when
// IST-KVS can hold it, else "kvbench~" and 32 hex digits of its SHA-1 (a
// key longer than 40 characters, or with spaces or ",()[]"). No workload
// generates a key of that form, so the mapping is one to one in practice.
func EncodeKey(k string) string {
	if ValidString(k) {
		return k
	}
	return "kvbench~" + sha1Hex(k)[:32]
}

// storedKey encodes k and remembers the original for SHOW's answers.
func (c *JobCluster) storedKey(k string) string {
	e := EncodeKey(k)
	if e != k {
		c.mu.Lock()
		c.encoded[e] = k
		c.mu.Unlock()
	}
	return e
}

// originalKey maps a key SHOW printed back to the request's key.
func (c *JobCluster) originalKey(e string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.encoded[e]; ok {
		return k
	}
	return e
}

// JobFor returns the job command for req: Get -> READ, Put -> WRITE,
// Delete -> DELETE, Scan -> SHOW (filtered to the range). Swap has no
// command: ErrUnsupported.
func JobFor(req impls.Request) (Command, error) {
	if !ValidString(req.Key) && req.Kind != impls.Scan {
		return Command{}, fmt.Errorf("%w: key %q", ErrBadRequest, req.Key)
	}
	switch req.Kind {
	case impls.Get:
		return Command{Op: OpRead, Keys: []string{req.Key}}, nil
	case impls.Put:
		if !ValidString(req.Value) {
			return Command{}, fmt.Errorf("%w: value %q", ErrBadRequest, req.Value)
		}
		return Command{Op: OpWrite, Pairs: []Pair{{req.Key, req.Value}}}, nil
	case impls.Delete:
		return Command{Op: OpDelete, Keys: []string{req.Key}}, nil
	case impls.Scan:
		return Command{Op: OpShow}, nil
	}
	return Command{}, fmt.Errorf("istkvs: %v: %w", req.Kind, impls.ErrUnsupported)
}

// Do canonicalizes the key (EncodeKey) and a written value (Canonical),
// writes a one-command job (plus the end marker) into the directory by
// rename, waits for its .out, and removes both.
func (j *jobClient) Do(ctx context.Context, req impls.Request) (impls.Response, error) {
	if j.closed.Load() {
		return impls.Response{}, errClientClosed
	}
	orig := req
	if req.Kind != impls.Scan {
		req.Key = j.c.storedKey(req.Key)
	}
	if req.Kind == impls.Put {
		// Values IST-KVS cannot hold (YCSB's 1000-byte records) are stored
		// in canonical form; a checked run writes canonical values anyway.
		req.Value = Canonical(req.Value)
	}
	cmd, err := JobFor(req)
	if err != nil {
		return impls.Response{}, err
	}
	c := j.c
	name := fmt.Sprintf("c%d-%d", j.id, c.seq.Add(1))
	job := filepath.Join(c.dir, name+".job")
	out := filepath.Join(c.dir, name+".out")
	wake := make(chan struct{}, 1)
	c.mu.Lock()
	c.waiters[name+".out"] = wake
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiters, name+".out")
		c.mu.Unlock()
	}()
	tmp := filepath.Join(c.dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(cmd.String()+"\nREAD ["+EndKey+"]\n"), 0o600); err != nil {
		return impls.Response{}, fmt.Errorf("istkvs: %w", err)
	}
	if err := os.Rename(tmp, job); err != nil {
		os.Remove(tmp)
		return impls.Response{}, fmt.Errorf("istkvs: %w", err)
	}
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		b, err := os.ReadFile(out)
		if err == nil && bytes.HasSuffix(b, endLine) {
			os.Remove(job)
			os.Remove(out)
			resp, err := parseAnswer(req, cmd, b[:len(b)-len(endLine)])
			if err == nil && req.Kind == impls.Scan {
				resp.Pairs = c.scanPairs(orig, resp.Pairs)
			}
			return resp, err
		}
		select {
		case <-ctx.Done():
			return impls.Response{}, fmt.Errorf("istkvs: %s: %w: %w", name, impls.ErrUnknownOutcome, ctx.Err())
		case <-wake:
		case <-poll.C:
		}
	}
}

// parseAnswer turns a command's output into a Response.
func parseAnswer(req impls.Request, cmd Command, b []byte) (impls.Response, error) {
	bad := func() (impls.Response, error) {
		return impls.Response{}, fmt.Errorf("%w for %s: %q (%w)", ErrBadOutput, cmd, b, impls.ErrUnknownOutcome)
	}
	switch cmd.Op {
	case OpWrite:
		if len(b) != 0 {
			return bad()
		}
		return impls.Response{Found: impls.Unknown}, nil
	case OpDelete:
		if len(b) == 0 {
			return impls.Response{Found: impls.Present}, nil
		}
		if string(b) == "[("+req.Key+","+DeleteMissing+")]\n" {
			return impls.Response{Found: impls.Absent}, nil
		}
		return bad()
	case OpRead:
		pairs, ok := ParseReadLine(strings.TrimSuffix(string(b), "\n"))
		if !ok || len(pairs) != 1 || pairs[0].Key != req.Key || !bytes.HasSuffix(b, []byte("\n")) {
			return bad()
		}
		if pairs[0].Value == ReadMissing {
			return impls.Response{Found: impls.Absent}, nil
		}
		return impls.Response{Found: impls.Present, Value: pairs[0].Value}, nil
	case OpShow:
		pairs, ok := ParseShow(string(b))
		if !ok {
			return bad()
		}
		var resp impls.Response
		for _, p := range pairs {
			resp.Pairs = append(resp.Pairs, impls.Pair{Key: p.Key, Value: p.Value})
		}
		return resp, nil
	}
	return bad()
}

// start is Impl.Start: `kvbench serve istkvs --fifo DIR/register_fifo
// --threads 4 --backups 2 FLAGS... DIR/jobs`, ready once the server holds
// its register fifo open.
func start(ctx context.Context, env impls.StartEnv) (impls.Cluster, error) {
	if _, err := parseServe(append(append([]string{}, env.Flags...), "x"), io.Discard); err != nil {
		return nil, fmt.Errorf("istkvs flags %q: %w", env.Flags, err)
	}
	jobs := filepath.Join(env.Dir, "jobs")
	if err := os.MkdirAll(jobs, 0o700); err != nil {
		return nil, err
	}
	fifo := filepath.Join(env.Dir, "register_fifo")
	exe := env.Exe
	if exe == "" {
		var err error
		if exe, err = proc.Executable(); err != nil {
			return nil, err
		}
	}
	args := append([]string{"serve", "istkvs", "--fifo", fifo, "--threads", "4", "--backups", "2"}, env.Flags...)
	args = append(args, jobs)
	p, err := proc.Start(ctx, proc.Spec{Name: "istkvs", Path: exe, Args: args, Dir: env.Dir, Log: env.Log,
		Ready: FifoReady(fifo)})
	if err != nil {
		return nil, fmt.Errorf("istkvs: %w", err)
	}
	c, err := NewJobCluster(jobs, fifo, p)
	if err != nil {
		p.Stop(time.Second)
		return nil, err
	}
	return c, nil
}

// errNotServing: nobody holds the register fifo open for reading.
var errNotServing = errors.New("no server reads the register fifo")

// FifoReady is a readiness probe: a server reads the register fifo at path
// (opening it for writing without blocking succeeds only then).
func FifoReady(path string) func(context.Context) error {
	return func(context.Context) error {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("%w: %w", errNotServing, err)
		}
		unix.Close(fd)
		return nil
	}
}

// scanPairs decodes SHOW's keys and keeps those in [req.Key, req.End],
// sorted by the original key.
func (c *JobCluster) scanPairs(req impls.Request, all []impls.Pair) []impls.Pair {
	var out []impls.Pair
	for _, p := range all {
		p.Key = c.originalKey(p.Key)
		if p.Key >= req.Key && p.Key <= req.End {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
