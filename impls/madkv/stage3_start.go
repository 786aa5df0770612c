package madkv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/netproxy"
	"github.com/kvbench/kvbench/impls/proc"
)

// validRF are the replication factors stage 3 accepts (the course's).
var validRF = map[int]bool{1: true, 3: true, 5: true, 7: true, 9: true}

// claims3 is stage 3's claim: linearizable in every configuration and
// under every fault kind kvbench injects. Losing a majority of a group
// (rf 1: its one replica) makes that partition unavailable, not wrong:
// requests hang until their timeout and a mutation is reported as an
// unknown outcome.
func claims3(o implOptions, f impls.Faults) impls.Claim {
	if o.unsafeReads {
		return impls.Claim{Why: "--unsafe-local-reads (test only) answers reads from any replica's local state: stale reads"}
	}
	why := fmt.Sprintf("stage 3: %d partition(s) of %d Raft replicas; writes answered once committed (fsynced by a majority) and applied, "+
		"reads confirm leadership and wait for the leader's log index (read index), retries deduplicated in the replicated state", max(o.partitions, 1), o.rf)
	if o.rf == 1 && (f.Crash || f.Pause) {
		why += "; rf 1: a crashed or paused replica leaves its partition unavailable until it returns, never wrong"
	}
	return impls.Claim{Linearizable: true, Why: why}
}

// start3 starts a stage 3 cluster: managerRF manager replicas and
// partitions x rf server replicas, every peer-to-peer link through a
// kvbench proxy of its own (replica i dials replica j via proxy i->j).
func start3(ctx context.Context, exe string, env impls.StartEnv, o implOptions) (impls.Cluster, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port may be taken before the child binds it
		c, err := startOnce3(ctx, exe, env, o)
		if err == nil {
			return c, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("start madkv stage 3: %w", lastErr)
}

// replicaNode is one started replica and the proxies on its links.
type replicaNode struct {
	name, role, group string
	api               string
	proc              *proc.Process
	links             netproxy.Links
}

// cluster3 is a running stage 3 madkv.
type cluster3 struct {
	managers    []string
	unsafeReads bool
	nodes       []*replicaNode // managers first, then partition-major
	proxies     []*netproxy.TCP
}

var (
	_ impls.Cluster      = (*cluster3)(nil)
	_ impls.LeaderFinder = (*cluster3)(nil)
)

// groupPlan allocates a group's addresses and its proxies: api and p2p
// per replica, and peers[i] = i's peer list (proxies i->j, j != i, by j).
type groupPlan struct {
	api, p2p []string
	peers    [][]string
	links    []netproxy.Links
}

func (c *cluster3) plan(n int, seed int64) (*groupPlan, error) {
	g := &groupPlan{api: make([]string, n), p2p: make([]string, n), peers: make([][]string, n), links: make([]netproxy.Links, n)}
	for i := range n {
		var err error
		if g.api[i], err = proc.FreeTCPAddr(); err != nil {
			return nil, err
		}
		if g.p2p[i], err = proc.FreeTCPAddr(); err != nil {
			return nil, err
		}
	}
	for i := range n {
		for j := range n {
			if i == j {
				continue
			}
			px, err := netproxy.ListenTCP("127.0.0.1:0", g.p2p[j], seed+int64(i*n+j))
			if err != nil {
				return nil, err
			}
			c.proxies = append(c.proxies, px)
			g.peers[i] = append(g.peers[i], px.Addr())
			g.links[i] = append(g.links[i], px)
			g.links[j] = append(g.links[j], px)
		}
	}
	return g, nil
}

func peerArg(peers []string) string {
	if len(peers) == 0 {
		return "none"
	}
	return strings.Join(peers, ",")
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func startOnce3(ctx context.Context, exe string, env impls.StartEnv, o implOptions) (*cluster3, error) {
	c := &cluster3{unsafeReads: o.unsafeReads}
	fail := func(err error) (*cluster3, error) {
		c.Close()
		return nil, err
	}
	parts := max(o.partitions, 1)
	mp, err := c.plan(o.managerRF, 1)
	if err != nil {
		return fail(err)
	}
	c.managers = mp.api
	sps := make([]*groupPlan, parts)
	var servers []string
	for p := range parts {
		if sps[p], err = c.plan(o.rf, int64(100*(p+1))); err != nil {
			return fail(err)
		}
		servers = append(servers, sps[p].api...)
	}
	var envv []string
	if o.unsafeReads {
		envv = []string{envUnsafeReads + "=1"}
	}
	spec := func(name, api string, args ...string) proc.Spec {
		return proc.Spec{Name: name, Path: exe, Args: append([]string{"serve", "madkv"}, args...), Dir: env.Dir, Env: envv,
			Log: env.Log, Ready: probe(api, roleOf(args[0]), false), ReadyTimeout: 15 * time.Second}
	}
	for i := range o.managerRF {
		name := fmt.Sprintf("manager/r%d", i)
		p, err := proc.Start(ctx, spec(name, mp.api[i], "manager", strconv.Itoa(i), port(mp.api[i]), port(mp.p2p[i]), peerArg(mp.peers[i]),
			strconv.Itoa(o.rf), strings.Join(servers, ","), filepath.Join(env.Dir, fmt.Sprintf("backer.m.%d", i))))
		if err != nil {
			return fail(err)
		}
		group := "manager"
		if o.managerRF == 1 {
			group = "" // one manager replicates nothing: not a group the nemesis can take a minority of
		}
		c.nodes = append(c.nodes, &replicaNode{name: name, role: "manager", group: group, api: mp.api[i], proc: p, links: mp.links[i]})
	}
	for p, g := range sps {
		for i := range o.rf {
			name := fmt.Sprintf("p%d/r%d", p, i)
			pr, err := proc.Start(ctx, spec(name, g.api[i], "server", strconv.Itoa(p), strconv.Itoa(i), strings.Join(c.managers, ","),
				port(g.api[i]), port(g.p2p[i]), peerArg(g.peers[i]), filepath.Join(env.Dir, fmt.Sprintf("backer.s%d.%d", p, i))))
			if err != nil {
				return fail(err)
			}
			c.nodes = append(c.nodes, &replicaNode{name: name, role: "replica", group: fmt.Sprintf("p%d", p), api: g.api[i], proc: pr, links: g.links[i]})
		}
	}
	// Ready once a client can dial (the managers hand out the map) and
	// every group has a leader.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cl, err := c.NewClient(wctx, 0)
	if err != nil {
		return fail(err)
	}
	cl.Close()
	for _, g := range c.groups() {
		for {
			l, err := c.Leader(wctx, g)
			if err == nil && l != "" {
				break
			}
			if wctx.Err() != nil {
				return fail(fmt.Errorf("madkv: group %s elected no leader: %w", g, wctx.Err()))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c, nil
}

func roleOf(arg string) string {
	if arg == "manager" {
		return "manager"
	}
	return "server"
}

func (c *cluster3) groups() []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range c.nodes {
		if n.group != "" && !seen[n.group] {
			seen[n.group] = true
			out = append(out, n.group)
		}
	}
	return out
}

// NewClient dials the manager replicas for the map; the client then
// follows each partition's leader.
func (c *cluster3) NewClient(ctx context.Context, _ int) (impls.Client, error) {
	cl := &Client{outstanding: map[uint64]struct{}{}}
	cl.id = newClientID()
	return dialReplicated(ctx, cl, c.managers, c.unsafeReads)
}

// Nodes: managers (role "manager", group "manager") and replicas (role
// "replica", groups "p0".."pN"), each with its peer links as Net.
func (c *cluster3) Nodes() []impls.Node {
	out := make([]impls.Node, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = impls.Node{Name: n.name, Role: n.role, Group: n.group, Proc: n.proc, Net: n.links}
	}
	return out
}

// Leader asks every replica of group for its raft state and names the one
// that leads in the highest term; "" while none does (an election, or a
// majority down).
func (c *cluster3) Leader(ctx context.Context, group string) (string, error) {
	type answer struct {
		name string
		term uint64
	}
	var mu sync.Mutex
	var best answer
	var wg sync.WaitGroup
	found := false
	for _, n := range c.nodes {
		if n.group != group {
			continue
		}
		found = true
		wg.Go(func() {
			info, err := helloInfo(ctx, n.api)
			if err != nil || info["raft_state"] != "Leader" {
				return
			}
			term, _ := strconv.ParseUint(info["term"], 10, 64)
			mu.Lock()
			if term >= best.term {
				best = answer{n.name, term}
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if !found {
		return "", fmt.Errorf("madkv: no replica group %q", group)
	}
	return best.name, nil
}

// helloInfo asks addr HELLO, within half a second.
func helloInfo(ctx context.Context, addr string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	cn, err := dialConn(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer cn.close()
	resp, _, err := cn.call(ctx, &request{op: opHello})
	if err != nil {
		return nil, err
	}
	return pairMap(resp.pairs), nil
}

// Close stops the replicas, then the managers, then the proxies.
func (c *cluster3) Close() error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := len(c.nodes) - 1; i >= 0; i-- {
		n := c.nodes[i]
		wg.Go(func() {
			err := n.proc.Stop(5 * time.Second)
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, px := range c.proxies {
		px.Close()
	}
	return errors.Join(errs...)
}
