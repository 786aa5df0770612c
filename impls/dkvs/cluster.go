package dkvs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/netproxy"
	"github.com/kvbench/kvbench/impls/proc"
)

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
	if cf.File != "" {
		return startFromFile(ctx, exe, cf, env)
	}
	c := &cluster{cf: cf}
	var txt strings.Builder
	for i := 0; i < cf.Servers; i++ {
		p, addr, err := startServer(ctx, exe, fmt.Sprintf("dkvs-%d", i), env)
		if err != nil {
			c.Close()
			return nil, err
		}
		px, err := c.front(p, addr, cf.Seed+int64(i))
		if err != nil {
			return nil, err
		}
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

// startFromFile is --servers-file: one server at each distinct address of
// the file (loopback only: kvbench's servers never listen elsewhere), a
// proxy in front of each, and the file's own ring, so keys land where the
// file says while every datagram crosses kvbench's proxy. StartEnv.Dir
// gets a copy of the file.
func startFromFile(ctx context.Context, exe string, cf ClusterFlags, env impls.StartEnv) (impls.Cluster, error) {
	b, err := os.ReadFile(cf.File)
	if err != nil {
		return nil, fmt.Errorf("dkvs --servers-file: %w: %w", ErrIO, err)
	}
	ring, err := ParseServers(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("dkvs --servers-file %s: %w", cf.File, err)
	}
	servers := ring.Servers()
	if cf.Q.N > len(servers) {
		return nil, fmt.Errorf("dkvs --servers-file %s: N=%d exceeds its %d servers", cf.File, cf.Q.N, len(servers))
	}
	c := &cluster{cf: cf, ring: ring, route: map[netip.AddrPort]netip.AddrPort{}}
	for i, a := range servers {
		if !a.Addr().IsLoopback() {
			c.Close()
			return nil, fmt.Errorf("dkvs --servers-file %s: %s is not a loopback address; kvbench starts its servers on loopback only", cf.File, a)
		}
		p, err := proc.Start(ctx, proc.Spec{
			Name: fmt.Sprintf("dkvs-%d", i), Path: exe, Args: []string{"serve", "dkvs", a.Addr().String(), strconv.Itoa(int(a.Port()))},
			Dir: env.Dir, Log: env.Log, Ready: RoundTripReady(a), Probe: proc.OwnedUDPReady(a.String()),
		})
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("start dkvs server %s from %s: %w", a, cf.File, err)
		}
		px, err := c.front(p, a, cf.Seed+int64(i))
		if err != nil {
			return nil, err
		}
		c.route[a] = px.Addr()
	}
	if err := os.WriteFile(filepath.Join(env.Dir, ServersFile), b, 0o600); err != nil {
		c.Close()
		return nil, fmt.Errorf("dkvs: %w", err)
	}
	return c, nil
}

// startServer starts one server on a free loopback UDP port, retrying with
// another port if the one picked was taken in the meantime.
func startServer(ctx context.Context, exe, name string, env impls.StartEnv) (*proc.Process, netip.AddrPort, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr, err := proc.FreeUDPAddr()
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

// front puts a UDP proxy (seeded with seed) in front of server p at addr
// and adds both to the cluster. If the proxy cannot listen, p is stopped
// and the whole cluster closed.
func (c *cluster) front(p *proc.Process, addr netip.AddrPort, seed int64) (*netproxy.UDP, error) {
	px, err := netproxy.ListenUDP("127.0.0.1:0", addr, seed)
	if err != nil {
		p.Stop(time.Second)
		c.Close()
		return nil, err
	}
	c.procs = append(c.procs, p)
	c.proxies = append(c.proxies, px)
	return px, nil
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
