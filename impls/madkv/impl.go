package madkv

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/madkvline"
	"github.com/kvbench/kvbench/impls/proc"
)

// MaxWindow is how many requests one client may pipeline (-w).
const MaxWindow = 64

// Impl describes madkv for the registry.
func Impl() *impls.Impl {
	return &impls.Impl{
		Name:      "madkv",
		Summary:   "MadKV stage 1 (one server), 2 (manager + durable partitions) and 3 (--rf R: Raft replica groups), binary TCP (seed 003)",
		Kinds:     []impls.Kind{impls.Get, impls.Put, impls.Delete, impls.Swap, impls.Scan},
		MaxWindow: MaxWindow,
		Claims:    claims,
		Serve:     serveAny,
		Start:     start,
		Client:    runClient,
	}
}

// implOptions are the --impl-flags of `kvbench run/fuzz --impl madkv`.
type implOptions struct {
	partitions  int
	rf          int  // stage 3 when > 0: replicas per partition
	managerRF   int  // stage 3: manager replicas
	unsafeReads bool // stage 3, test only: reads from any replica's local state
}

func parseImplFlags(args []string) (implOptions, error) {
	var o implOptions
	fs := flag.NewFlagSet("madkv", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&o.partitions, "partitions", 0, "0: stage 1, one in-memory server; P >= 1: stage 2, a manager and P durable servers")
	fs.IntVar(&o.rf, "rf", 0, "stage 3 when > 0: Raft replicas per partition (1, 3, 5, 7, 9)")
	fs.IntVar(&o.managerRF, "manager-rf", 1, "stage 3: manager replicas (1, 3, 5, 7, 9)")
	fs.BoolVar(&o.unsafeReads, "unsafe-local-reads", false, "stage 3, TEST ONLY: serve reads from any replica's local state (stale reads)")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("madkv --impl-flags %q: %w (known: --partitions P, --rf R, --manager-rf M, --unsafe-local-reads)", args, err)
	}
	if o.rf != 0 && (!validRF[o.rf] || !validRF[o.managerRF]) {
		return o, fmt.Errorf("madkv --rf %d --manager-rf %d: want 1, 3, 5, 7 or 9", o.rf, o.managerRF)
	}
	if o.rf == 0 && (o.unsafeReads || o.managerRF != 1) {
		return o, fmt.Errorf("madkv --manager-rf and --unsafe-local-reads need --rf (stage 3)")
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("madkv --impl-flags: unexpected %q (known: --partitions P)", fs.Arg(0))
	}
	if o.partitions < 0 || o.partitions > MaxServers {
		return o, fmt.Errorf("madkv --partitions %d: want 0..%d", o.partitions, MaxServers)
	}
	return o, nil
}

// claims: stage 1 is linearizable but loses everything in a crash; stage 2
// is linearizable (per key, across scans) and durable across kill -9.
func claims(flags []string, f impls.Faults) impls.Claim {
	o, err := parseImplFlags(flags)
	switch {
	case err != nil:
		return impls.Claim{Why: err.Error()}
	case o.rf > 0:
		return claims3(o, f)
	case o.partitions == 0 && f.Crash:
		return impls.Claim{Why: "stage 1 keeps its data in memory: a crash loses every write"}
	case o.partitions == 0:
		return impls.Claim{Linearizable: true, Why: "stage 1: one server applies every operation under one lock"}
	default:
		return impls.Claim{Linearizable: true, Why: "stage 2: a write is answered only after its pebble commit is fsynced, reads see only durable state, " +
			"retries are deduplicated, and each scanned entry is read from its key's partition"}
	}
}

// start is Impl.Start: stage 1 (one server) or stage 2 (manager + P servers
// with backers under env.Dir), each a `kvbench serve madkv ...` child.
func start(ctx context.Context, env impls.StartEnv) (impls.Cluster, error) {
	o, err := parseImplFlags(env.Flags)
	if err != nil {
		return nil, err
	}
	exe := env.Exe
	if exe == "" {
		if exe, err = proc.Executable(); err != nil {
			return nil, err
		}
	}
	if o.rf > 0 {
		return start3(ctx, exe, env, o)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port may be taken before the child binds it
		c, err := startOnce(ctx, exe, env, o.partitions)
		if err == nil {
			return c, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("start madkv: %w", lastErr)
}

func startOnce(ctx context.Context, exe string, env impls.StartEnv, parts int) (*cluster, error) {
	c := &cluster{}
	fail := func(err error) (*cluster, error) {
		c.Close()
		return nil, err
	}
	spec := func(name string, ready func(context.Context) error, args ...string) proc.Spec {
		return proc.Spec{Name: name, Path: exe, Args: append([]string{"serve", "madkv"}, args...), Dir: env.Dir,
			Log: env.Log, Ready: ready, ReadyTimeout: 15 * time.Second}
	}
	if parts == 0 {
		addr, err := proc.FreeTCPAddr()
		if err != nil {
			return nil, err
		}
		p, err := proc.Start(ctx, spec("server-0", probe(addr, "server", true), "server", addr))
		if err != nil {
			return nil, err
		}
		c.addr, c.servers = addr, []*proc.Process{p}
		return c, nil
	}
	mgr, err := proc.FreeTCPAddr()
	if err != nil {
		return nil, err
	}
	addrs := make([]string, parts)
	list := ""
	for i := range addrs {
		if addrs[i], err = proc.FreeTCPAddr(); err != nil {
			return nil, err
		}
		if i > 0 {
			list += ","
		}
		list += addrs[i]
	}
	_, mport, _ := net.SplitHostPort(mgr)
	c.addr = mgr
	c.manager, err = proc.Start(ctx, spec("manager", probe(mgr, "manager", false), "manager", mport, list))
	if err != nil {
		return fail(err)
	}
	for i, a := range addrs {
		_, port, _ := net.SplitHostPort(a)
		backer := filepath.Join(env.Dir, fmt.Sprintf("backer.s%d", i))
		p, err := proc.Start(ctx, spec(fmt.Sprintf("server-%d", i), probe(a, "server", true),
			"server", strconv.Itoa(i), mgr, port, backer))
		if err != nil {
			return fail(err)
		}
		c.servers = append(c.servers, p)
	}
	// The manager hands out the map once every server registered.
	if err := waitReady(ctx, probe(mgr, "manager", true)); err != nil {
		return fail(err)
	}
	return c, nil
}

func waitReady(ctx context.Context, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("madkv: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// errNotReady: the readiness probe's answer until the process serves.
var errNotReady = errors.New("not ready")

// probe returns a readiness probe: the process at addr must answer HELLO
// with the role wanted, and (needReady) say it is ready to serve: a stage 2
// server once registered, the manager once every server has.
func probe(addr, role string, needReady bool) func(context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		cn, err := dialConn(ctx, addr)
		if err != nil {
			return err
		}
		defer cn.close()
		resp, _, err := cn.call(ctx, &request{op: opHello})
		if err != nil {
			return err
		}
		info := pairMap(resp.pairs)
		if info["role"] != role {
			return fmt.Errorf("%s answers as %q, want %q", addr, info["role"], role)
		}
		if needReady && info["ready"] != "true" {
			return fmt.Errorf("%s %s: %w", role, addr, errNotReady)
		}
		return nil
	}
}

// cluster is a started madkv: one stage 1 server, or a manager and servers.
type cluster struct {
	addr    string // what clients dial: the stage 1 server or the manager
	manager *proc.Process
	servers []*proc.Process
}

var _ impls.Cluster = (*cluster)(nil)

// NewClient dials the server or manager; the client retries until it answers.
func (c *cluster) NewClient(ctx context.Context, _ int) (impls.Client, error) {
	return Dial(ctx, c.addr)
}

// Nodes: the manager (role "manager") and the servers (role "server").
func (c *cluster) Nodes() []impls.Node {
	return append(impls.ProcNodes("manager", c.manager), impls.ProcNodes("server", c.servers...)...)
}

// Close stops the servers, then the manager.
func (c *cluster) Close() error {
	var errs []error
	for _, p := range c.servers {
		errs = append(errs, p.Stop(5*time.Second))
	}
	if c.manager != nil {
		errs = append(errs, c.manager.Stop(5*time.Second))
	}
	return errors.Join(errs...)
}

// runClient is `kvbench client madkv ADDR`: the MadKV stdin/stdout client.
func runClient(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) != 1 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, `Usage: kvbench client madkv ADDR
ADDR is a stage 1 server, the stage 2 manager, or the stage 3 managers
(ip:port,ip:port,...: any replica that answers). Reads MadKV requests on stdin
(PUT k v, SWAP k v, GET k, DELETE k, SCAN k1 k2, STOP), prints the replies.
Example: kvbench client madkv 127.0.0.1:3777 < ops.txt
`)
		if len(args) == 1 {
			return nil
		}
		return fmt.Errorf("madkv client: %w: want one address", ErrUsage)
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	c, err := Dial(dctx, args[0])
	cancel()
	if err != nil {
		return err
	}
	defer c.Close()
	return madkvline.ServeLog(ctx, c, stdin, stdout, stderr)
}
