package memkv

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/proc"
)

// MaxWindow is how many requests one adapter connection may pipeline.
const MaxWindow = 64

// Impl describes memkv for the registry.
func Impl() *impls.Impl {
	return &impls.Impl{
		Name:      "memkv",
		Summary:   "memcached text protocol over TCP, durable (seed 004)",
		Kinds:     []impls.Kind{impls.Get, impls.Put, impls.Delete, impls.Swap},
		MaxWindow: MaxWindow,
		Claims:    claims,
		Serve:     serve,
		Start:     start,
		Client:    client,
	}
}

// options are memkv's own command-line flags.
type options struct {
	addr         string
	data         string
	fsync        string
	maxValueSize byteSize
	maxItems     int64
	maxBytes     byteSize
	compactBytes byteSize
	shards       int
	maxConns     int
	inflight     byteSize
	loop         string
}

func newFlagSet(o *options, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("memkv", flag.ContinueOnError)
	fs.SetOutput(out)
	*o = options{fsync: "always", maxValueSize: defaultMaxValueSize, compactBytes: 64 << 20, inflight: defaultInflight, loop: "epoll"}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:11311", "TCP address to listen on")
	fs.StringVar(&o.data, "data", "./memkv-data", "data directory for the log and snapshots ('' keeps everything in memory)")
	fs.StringVar(&o.fsync, "fsync", "always", "when to fsync the log: always (ack after fsync, group commit), interval (every 100ms), never")
	fs.Var(&o.maxValueSize, "max-value-size", "largest value accepted, e.g. 1m or 4096 (at most 1g)")
	fs.Int64Var(&o.maxItems, "max-items", 0, "evict least recently used entries beyond this many (0: no bound)")
	fs.Var(&o.maxBytes, "max-bytes", "evict least recently used entries beyond this many bytes of keys+values, e.g. 512m (0: no bound)")
	fs.Var(&o.compactBytes, "compact-bytes", "snapshot and start a new log once the log reaches this size, e.g. 64m")
	fs.IntVar(&o.shards, "shards", 256, fmt.Sprintf("lock domains of the store (rounded up to a power of two, at most %d)", MaxShards))
	fs.IntVar(&o.maxConns, "conn-limit", defaultMaxConns, "connections served at once; more are answered \"ERROR Too many open connections\" (memcached's -c)")
	fs.IntVar(&o.maxConns, "c", defaultMaxConns, "shorthand for --conn-limit")
	fs.Var(&o.inflight, "max-inflight-bytes", "memory for requests being received (values, long multi-get lines) across all connections; beyond it a value is refused with SERVER_ERROR out of memory, e.g. 64m")
	fs.StringVar(&o.loop, "loop", "epoll", "how connections are served: epoll (memkv's event loops, one per core) or go (a goroutine each)")
	fs.Usage = func() {
		fmt.Fprint(out, `Usage: kvbench serve memkv [flags]

memkv is a durable key-value server speaking memcached's text protocol.
Example: kvbench serve memkv --addr 127.0.0.1:11311 --data ./memkv-data --fsync always

Flags:
`)
		fs.PrintDefaults()
	}
	return fs
}

func parseOptions(args []string, out io.Writer) (options, Config, error) {
	var o options
	fs := newFlagSet(&o, out)
	if err := fs.Parse(args); err != nil {
		return o, Config{}, err
	}
	if fs.NArg() > 0 {
		return o, Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	mode, err := ParseFsyncMode(o.fsync)
	if err != nil {
		return o, Config{}, fmt.Errorf("--fsync: %w", err)
	}
	loop, err := ParseLoopMode(o.loop)
	if err != nil {
		return o, Config{}, fmt.Errorf("--loop: %w", err)
	}
	if o.maxValueSize <= 0 || o.compactBytes <= 0 || o.maxItems < 0 || o.maxBytes < 0 || o.shards <= 0 || o.maxConns <= 0 {
		return o, Config{}, errors.New("--max-value-size, --compact-bytes, --shards and --conn-limit must be positive, --max-items and --max-bytes not negative")
	}
	for _, b := range []struct {
		name     string
		val, max int64
	}{
		{"--shards", int64(o.shards), MaxShards},
		{"--max-value-size", int64(o.maxValueSize), MaxValueSizeLimit},
		{"--conn-limit", int64(o.maxConns), MaxConnsLimit},
		{"--compact-bytes", int64(o.compactBytes), MaxCompactBytes},
		{"--max-inflight-bytes", int64(o.inflight), MaxInflightLimit},
	} {
		if b.val > b.max {
			return o, Config{}, fmt.Errorf("%s %d is too large (at most %d)", b.name, b.val, b.max)
		}
	}
	if o.inflight < minInflightBytes {
		return o, Config{}, fmt.Errorf("--max-inflight-bytes %d is too small (at least %d)", int64(o.inflight), minInflightBytes)
	}
	return o, Config{DataDir: o.data, Fsync: mode, MaxValueSize: int(o.maxValueSize), MaxItems: o.maxItems,
		MaxBytes: int64(o.maxBytes), CompactBytes: int64(o.compactBytes), Shards: o.shards,
		MaxConns: o.maxConns, MaxInflightBytes: int64(o.inflight), Loop: loop}, nil
}

// loopProcs returns how many event loops `kvbench serve memkv` runs: one
// per P (GOMAXPROCS), plus one spare P. A loop blocked in epoll_wait holds
// its P in a system call; with a loop on every P and no P idle, Go's sysmon
// would retake them every 20 µs (a nanosleep and futex wake-ups per
// request). It changes GOMAXPROCS once per process.
var loopProcs = sync.OnceValue(func() int {
	n := runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(n + 1)
	return n
})

// serve is `kvbench serve memkv ...`.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, cfg, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("memkv: %w (see kvbench serve memkv -h)", err)
	}
	cfg.Log = stderr
	if cfg.Loop == LoopEpoll {
		cfg.Loops = loopProcs()
	}
	srv, err := NewServer(cfg)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.addr)
	if err != nil {
		srv.Close()
		return fmt.Errorf("memkv: %w", err)
	}
	data := "memory only"
	if cfg.DataDir != "" {
		data = cfg.DataDir
	}
	fmt.Fprintf(stderr, "memkv listening on %s (data %s, fsync %s, loop %s)\n", ln.Addr(), data, cfg.Fsync, cfg.Loop)
	serveErr := srv.Serve(ctx, ln)
	if err := srv.Close(); serveErr == nil {
		serveErr = err
	}
	return serveErr
}

// claims says what memkv promises under its flags.
func claims(flags []string, faults impls.Faults) impls.Claim {
	o, cfg, err := parseOptions(flags, io.Discard)
	switch {
	case err != nil:
		return impls.Claim{Why: fmt.Sprintf("unparsable memkv flags: %v", err)}
	case o.maxItems > 0 || o.maxBytes > 0:
		return impls.Claim{Why: "--max-items/--max-bytes evict entries without a delete, which a key-value model cannot explain"}
	case !faults.Crash:
		return impls.Claim{Linearizable: true, Why: "one server; each key's operations apply under its shard lock, in one order"}
	case cfg.DataDir == "":
		return impls.Claim{Why: "--data '' keeps everything in memory; a crash loses all acknowledged writes"}
	case cfg.Fsync == FsyncAlways:
		return impls.Claim{Linearizable: true, Why: "--fsync always answers only once the log records an answer depends on are fsynced, so a crash loses nothing acknowledged or observed"}
	case cfg.Fsync == FsyncInterval:
		return impls.Claim{Why: "--fsync interval acknowledges before the log is written; a crash may lose acknowledged writes"}
	default:
		return impls.Claim{Why: "--fsync never may lose acknowledged writes on a crash"}
	}
}

// start starts one `kvbench serve memkv` child for a run.
func start(ctx context.Context, env impls.StartEnv) (impls.Cluster, error) {
	var o options
	fs := newFlagSet(&o, io.Discard)
	if err := fs.Parse(env.Flags); err != nil {
		return nil, fmt.Errorf("memkv flags %q: %w", env.Flags, err)
	}
	userAddr := false
	fs.Visit(func(f *flag.Flag) { userAddr = userAddr || f.Name == "addr" })
	data := filepath.Join(env.Dir, "memkv-data")
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr := o.addr
		if !userAddr {
			a, err := proc.FreeTCPAddr()
			if err != nil {
				return nil, err
			}
			addr = a
		}
		args := append([]string{"serve", "memkv", "--addr", addr, "--data", data}, env.Flags...)
		p, err := proc.Start(ctx, proc.Spec{
			Name: "memkv-0", Path: env.Exe, Args: args, Log: env.Log, Ready: proc.TCPReady(addr),
		})
		if err == nil {
			return &cluster{addr: addr, window: env.Window, procs: []*proc.Process{p}}, nil
		}
		lastErr = err
		if userAddr || ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("start memkv: %w", lastErr)
}

// cluster is one memcached-protocol server, possibly started by kvbench.
type cluster struct {
	addr   string
	window int
	procs  []*proc.Process
}

// NewTargetCluster wraps a memcached-protocol server at addr (memkv or a
// real memcached) as a Cluster whose clients pipeline up to window requests.
// procs are server processes kvbench manages (e.g. from --serve); the
// nemesis may crash them and Close stops them. procs may be nil.
func NewTargetCluster(addr string, window int, procs []*proc.Process) impls.Cluster {
	return &cluster{addr: addr, window: window, procs: procs}
}

var _ impls.Cluster = (*cluster)(nil)

// NewClient dials the server; every client pipelines up to the run's -w.
func (c *cluster) NewClient(ctx context.Context, id int) (impls.Client, error) {
	return Dial(ctx, c.addr, c.window)
}

// Nodes returns the server processes kvbench manages (may be none).
func (c *cluster) Nodes() []impls.Node { return impls.ProcNodes("server", c.procs...) }

// Close stops the managed processes (SIGTERM, then SIGKILL after 5 s).
func (c *cluster) Close() error {
	var errs []error
	for _, p := range c.procs {
		errs = append(errs, p.Stop(5*time.Second))
	}
	return errors.Join(errs...)
}

// ParseTarget parses a --target URL of the form memcached://host:port and
// returns host:port (the port defaults to memcached's 11211).
func ParseTarget(target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("target %q: %w", target, err)
	}
	if u.Scheme != "memcached" {
		return "", fmt.Errorf("target %q: want memcached://host:port", target)
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("target %q: want memcached://host:port and nothing else", target)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return "", fmt.Errorf("target %q: missing host", target)
	}
	if port == "" {
		if strings.HasSuffix(u.Host, ":") {
			return "", fmt.Errorf("target %q: empty port", target)
		}
		port = "11211"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("target %q: bad port %q", target, port)
	}
	return net.JoinHostPort(host, port), nil
}

// byteSize is a flag value like 1m, 512k, 2g or 4096 (binary units).
type byteSize int64

var _ flag.Value = (*byteSize)(nil)

// String implements flag.Value.
func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

// Set implements flag.Value.
func (b *byteSize) Set(s string) error {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30},
		{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("bad size %q (want e.g. 4096, 512k, 1m, 2g)", s)
	}
	*b = byteSize(n * mult)
	return nil
}
