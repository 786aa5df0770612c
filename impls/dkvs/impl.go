package dkvs

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/netproxy"
	"github.com/kvbench/kvbench/impls/proc"
)

// Impl describes dkvs for the registry.
func Impl() *impls.Impl {
	return &impls.Impl{
		Name:      "dkvs",
		Summary:   "Dynamo-style UDP servers, SHA-1 ring, N/W/R quorum client (seed 002)",
		Kinds:     []impls.Kind{impls.Get, impls.Put},
		MaxWindow: 1,
		Claims:    claims,
		Serve:     serve,
		Start:     start,
		Client:    client,
	}
}

// ClusterFlags are the --impl-flags of `kvbench run/fuzz --impl dkvs` and of
// scenario files: the cluster's shape and the quorum client's N, W, R,
// named as the original client's flags and defaulted the same way.
//
//	--servers S   servers started (default 5)
//	--nodes V     virtual nodes per server in servers.txt (default 3)
//	-n N -w W -r R  quorum (defaults as dkvs-client: N=max(W,R) or 3, W=R=min(N,2))
//	--timeout D   per-operation timeout (default 1s, the original's)
//	--seed S      seed of the network-fault proxies' random decisions (default 1)
type ClusterFlags struct {
	Servers, Nodes int
	Q              Quorum
	Timeout        time.Duration
	Seed           int64
}

// ParseClusterFlags parses --impl-flags for dkvs.
func ParseClusterFlags(args []string) (ClusterFlags, error) {
	c := ClusterFlags{}
	fs := flag.NewFlagSet("dkvs", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&c.Servers, "servers", 5, "servers to start")
	fs.IntVar(&c.Nodes, "nodes", 3, "virtual nodes per server")
	var n, w, r int
	fs.IntVar(&n, "n", 0, "N: servers each request goes to")
	fs.IntVar(&w, "w", 0, "W: acknowledgements a put needs")
	fs.IntVar(&r, "r", 0, "R: equal values a get needs")
	fs.DurationVar(&c.Timeout, "timeout", DefaultTimeout, "per-operation timeout")
	fs.Int64Var(&c.Seed, "seed", 1, "seed of the fault proxies")
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("dkvs --impl-flags %q: %w (want --servers S --nodes V -n N -w W -r R)", strings.Join(args, " "), err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("dkvs --impl-flags: unexpected %q", fs.Arg(0))
	}
	if c.Servers < 1 || c.Nodes < 1 || c.Servers*c.Nodes > maxRingNodes || n < 0 || w < 0 || r < 0 || c.Timeout <= 0 {
		return c, fmt.Errorf("dkvs --impl-flags: --servers, --nodes, -n, -w, -r and --timeout must be positive")
	}
	if n == 0 {
		n = max(w, r)
		if n == 0 {
			n = 3
		}
	}
	if r == 0 {
		r = min(n, 2)
	}
	if w == 0 {
		w = min(n, 2)
	}
	c.Q = Quorum{N: n, W: w, R: r}
	if err := c.Q.Validate(); err != nil {
		return c, fmt.Errorf("dkvs --impl-flags: %w", err)
	}
	if c.Q.N > c.Servers {
		return c, fmt.Errorf("dkvs --impl-flags: N=%d exceeds --servers %d: no replica set has N distinct servers", c.Q.N, c.Servers)
	}
	return c, nil
}

// claims says what dkvs guarantees for a quorum and a set of faults.
// Without versions, read repair or hinted handoff:
//   - R < N: concurrent puts to one key reach replicas in different orders
//     and both complete; a read takes the first R equal answers, so two
//     later reads can return different values. W+R > N does not prevent
//     this, and with W+R <= N a read may miss a completed write entirely.
//   - R = N: a read succeeds only when every replica answers the same
//     value. Each proxy forwards in arrival order and each server applies
//     in arrival order, so replicas apply the puts they receive in the order
//     they were sent to them; divergent replicas make reads fail (dropped),
//     never return an old value. Loss, isolation and pauses only make
//     operations fail or wait.
//   - A crash restarts a server empty: once each replica of a key has
//     crashed since its last write, reads find it absent.
//   - Delay (with jitter) reorders datagrams: an old put can land after a
//     newer one, even with R = N. Duplication without delay does not: the
//     proxy sends both copies back to back, a server applies a put twice in
//     a row, and the client counts one answer per replica.
func claims(flags []string, f impls.Faults) impls.Claim {
	c, err := ParseClusterFlags(flags)
	if err != nil {
		return impls.Claim{Why: err.Error()}
	}
	q := c.Q
	reorder := slices.Contains(f.Net, "delay")
	switch {
	case f.Crash:
		return impls.Claim{Why: fmt.Sprintf("%s: a crashed dkvs server restarts with an empty table (no files, no repair): an acknowledged put is lost once its replicas have crashed", q)}
	case q.R < q.N && q.W+q.R <= q.N:
		return impls.Claim{Why: fmt.Sprintf("%s: W+R <= N, a read quorum can miss every replica a completed put reached (stale reads), and there are no versions to order concurrent puts", q)}
	case q.R < q.N:
		return impls.Claim{Why: fmt.Sprintf("%s: without versions, concurrent puts reach replicas in different orders and both complete; a read takes the first R equal answers, so successive reads can disagree (W+R > N does not prevent it)", q)}
	case reorder:
		return impls.Claim{Why: fmt.Sprintf("%s: delayed datagrams are reordered, so an older put can overwrite a newer one on every replica", q)}
	default:
		return impls.Claim{Linearizable: true, Why: fmt.Sprintf("%s: R = N, a read succeeds only if every replica holds the same value; replicas apply puts in the order sent to them, divergence fails reads instead of returning old values", q)}
	}
}

// ServersFile is the servers.txt Start writes in StartEnv.Dir.
const ServersFile = "servers.txt"

// start is Impl.Start: S `kvbench serve dkvs 127.0.0.1 PORT` processes, each
// behind a netproxy UDP proxy; servers.txt lists the proxies, so every
// client datagram crosses kvbench's proxy and network faults reach it.
func start(ctx context.Context, env impls.StartEnv) (impls.Cluster, error) {
	cf, err := ParseClusterFlags(env.Flags)
	if err != nil {
		return nil, err
	}
	if env.Window > 1 {
		return nil, fmt.Errorf("dkvs: -w %d: a dkvs client sends one request at a time (fresh socket per operation); use -w 1", env.Window)
	}
	exe := env.Exe
	if exe == "" {
		if exe, err = proc.Executable(); err != nil {
			return nil, err
		}
	}
	c := &cluster{cf: cf}
	var txt strings.Builder
	for i := 0; i < cf.Servers; i++ {
		p, addr, err := startServer(ctx, exe, fmt.Sprintf("dkvs-%d", i), env)
		if err != nil {
			c.Close()
			return nil, err
		}
		px, err := netproxy.ListenUDP("127.0.0.1:0", addr, cf.Seed+int64(i))
		if err != nil {
			p.Stop(time.Second)
			c.Close()
			return nil, err
		}
		c.procs = append(c.procs, p)
		c.proxies = append(c.proxies, px)
		fmt.Fprintf(&txt, "%s %d %d\n", px.Addr().Addr(), px.Addr().Port(), cf.Nodes)
	}
	path := filepath.Join(env.Dir, ServersFile)
	if err := os.WriteFile(path, []byte(txt.String()), 0o600); err != nil {
		c.Close()
		return nil, fmt.Errorf("dkvs: %w", err)
	}
	if c.ring, err = ParseServers(strings.NewReader(txt.String())); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// startServer starts one server on a free loopback UDP port, retrying with
// another port if the one picked was taken in the meantime.
func startServer(ctx context.Context, exe, name string, env impls.StartEnv) (*proc.Process, netip.AddrPort, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr, err := freeUDPAddr()
		if err != nil {
			return nil, addr, err
		}
		p, err := proc.Start(ctx, proc.Spec{
			Name: name, Path: exe, Args: []string{"serve", "dkvs", addr.Addr().String(), strconv.Itoa(int(addr.Port()))},
			Dir: env.Dir, Log: env.Log, Ready: RoundTripReady(addr), Probe: proc.OwnedUDPReady(addr.String()),
		})
		if err == nil {
			return p, addr, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, netip.AddrPort{}, fmt.Errorf("start dkvs server: %w", lastErr)
}

// freeUDPAddr returns a loopback UDP address that was free a moment ago.
func freeUDPAddr() (netip.AddrPort, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return netip.AddrPort{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}

// errNoAnswer is RoundTripReady's error while the server does not answer.
var errNoAnswer = errors.New("dkvs server does not answer yet")

// RoundTripReady is a readiness probe: a GET sent straight to addr (not
// through a proxy, which a fault may have cut) is answered with a
// well-formed GET reply, as a freshly started empty server answers it.
func RoundTripReady(addr netip.AddrPort) func(context.Context) error {
	return func(ctx context.Context) error {
		conn, err := net.ListenUDP("udp4", nil)
		if err != nil {
			return err
		}
		defer conn.Close()
		deadline := time.Now().Add(200 * time.Millisecond)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		conn.SetReadDeadline(deadline)
		if _, err := conn.WriteToUDPAddrPort(EncodeGet("kvbench/readiness-probe"), addr); err != nil {
			return err
		}
		buf := make([]byte, 1<<16)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return fmt.Errorf("%w: %s: %w", errNoAnswer, addr, err)
			}
			if unmap(from) != addr {
				continue
			}
			if _, _, err := DecodeGetReply(buf[:n]); err != nil {
				return fmt.Errorf("%s answers a GET with a malformed reply: %w", addr, err)
			}
			return nil
		}
	}
}

// cluster is a started dkvs cluster, or (from the target) a servers.txt
// kvbench drives and possibly manages.
type cluster struct {
	cf      ClusterFlags
	ring    *Ring
	procs   []*proc.Process
	proxies []*netproxy.UDP // parallel to procs
	// route sends a ring address's datagrams to its proxy (targets, whose
	// servers.txt lists the servers themselves); nil when the ring already
	// lists the proxies (the bundled cluster).
	route map[netip.AddrPort]netip.AddrPort
	// extra are proxies without a managed process (a target's servers
	// without --serve): closed with the cluster, not faulted.
	extra []*netproxy.UDP
}

var _ impls.Cluster = (*cluster)(nil)

// NewClient returns a quorum client; clients share nothing but the ring.
func (c *cluster) NewClient(_ context.Context, _ int) (impls.Client, error) {
	return &adapter{qc: &QuorumClient{Ring: c.ring, Q: c.cf.Q, Timeout: c.cf.Timeout, Route: c.route}, closed: make(chan struct{})}, nil
}

// Nodes returns the servers, each with its proxy as its network.
func (c *cluster) Nodes() []impls.Node {
	var out []impls.Node
	for i, p := range c.procs {
		n := impls.Node{Name: p.Name(), Role: "server", Proc: p}
		if i < len(c.proxies) && c.proxies[i] != nil {
			n.Net = c.proxies[i]
		}
		out = append(out, n)
	}
	return out
}

// Close stops the servers and the proxies.
func (c *cluster) Close() error {
	var errs []error
	for _, p := range c.procs {
		errs = append(errs, p.Stop(2*time.Second))
	}
	for _, px := range append(c.proxies, c.extra...) {
		if px != nil {
			errs = append(errs, px.Close())
		}
	}
	return errors.Join(errs...)
}

// adapter is impls.Client over the quorum client: GET and PUT.
type adapter struct {
	qc     *QuorumClient
	closed chan struct{}
	once   sync.Once
}

// errClosed is Do's definite failure after Close.
var errClosed = errors.New("dkvs: client closed")

var _ impls.Client = (*adapter)(nil)

// Do runs one GET or PUT.
//   - GET: Present with the value R replicas returned; Absent when no value
//     reached R but R replicas answered "not found"; otherwise an error (a
//     failed read, which changed nothing).
//   - PUT: Found is Unknown (the protocol does not say). Fewer than W acks
//     is impls.ErrUnknownOutcome: some replicas may have stored it.
//   - Keys and values that the wire cannot carry (NUL bytes, empty or
//     oversized keys, oversized values) fail without sending anything.
func (a *adapter) Do(ctx context.Context, req impls.Request) (impls.Response, error) {
	select {
	case <-a.closed:
		return impls.Response{}, errClosed
	default:
	}
	if strings.IndexByte(req.Key, 0) >= 0 || req.Key == "" || len(req.Key) > MaxElemSize {
		return impls.Response{}, fmt.Errorf("dkvs: %w: key of %d bytes (non-empty, at most %d, no NUL)", ErrInvalidArgument, len(req.Key), MaxElemSize)
	}
	switch req.Kind {
	case impls.Get:
		res, err := a.qc.Get(ctx, req.Key)
		switch {
		case err == nil:
			return impls.Response{Found: impls.Present, Value: res.Value}, nil
		case res.Absent:
			return impls.Response{Found: impls.Absent}, nil
		case ctx.Err() != nil:
			return impls.Response{}, ctx.Err()
		}
		return impls.Response{}, err
	case impls.Put:
		if strings.IndexByte(req.Value, 0) >= 0 || len(req.Value) > MaxElemSize {
			return impls.Response{}, fmt.Errorf("dkvs: %w: value of %d bytes (at most %d, no NUL)", ErrInvalidArgument, len(req.Value), MaxElemSize)
		}
		err := a.qc.Put(ctx, req.Key, req.Value)
		switch {
		case err == nil:
			return impls.Response{Found: impls.Unknown}, nil
		case ctx.Err() != nil:
			return impls.Response{}, ctx.Err()
		case errors.Is(err, ErrQuorum):
			return impls.Response{}, fmt.Errorf("%w: %w", impls.ErrUnknownOutcome, err)
		}
		return impls.Response{}, err
	}
	return impls.Response{}, fmt.Errorf("dkvs %s: %w", req.Kind, impls.ErrUnsupported)
}

// Close makes later Do calls fail; there is nothing else to release, as
// every operation closes its own socket.
func (a *adapter) Close() error {
	a.once.Do(func() { close(a.closed) })
	return nil
}
