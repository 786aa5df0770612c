package etcd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/proc"
)

// Group is the replica group every etcd member belongs to.
const Group = "etcd"

// member is one etcd process kvbench manages.
type member struct {
	name     string
	endpoint string // its client address, when known
	proc     *proc.Process
}

// cluster is an etcd cluster: its client endpoints and the members kvbench
// started (none for a cluster it only connects to).
type cluster struct {
	endpoints []string
	members   []member
}

var (
	_ impls.Cluster      = (*cluster)(nil)
	_ impls.LeaderFinder = (*cluster)(nil)
)

// NewClient opens one etcd client over every endpoint.
func (c *cluster) NewClient(ctx context.Context, _ int) (impls.Client, error) {
	return dial(ctx, c.endpoints)
}

// Nodes lists the members kvbench started, in one replica group.
func (c *cluster) Nodes() []impls.Node {
	nodes := make([]impls.Node, len(c.members))
	for i, m := range c.members {
		nodes[i] = impls.Node{Name: m.name, Role: "member", Group: Group, Proc: m.proc}
	}
	return nodes
}

// Leader asks each reachable endpoint for its status and returns the name of
// the member that leads, or "" while there is no leader.
func (c *cluster) Leader(ctx context.Context, _ string) (string, error) {
	cl, err := clientv3.New(clientv3.Config{Endpoints: c.endpoints, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		return "", err
	}
	defer cl.Close()
	ids := map[uint64]string{} // member id -> endpoint
	var leader uint64
	var errs []error
	for _, ep := range c.endpoints {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := cl.Status(sctx, ep)
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ids[st.Header.MemberId] = ep
		if st.Leader != 0 {
			leader = st.Leader
		}
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("no etcd endpoint answered: %w", errors.Join(errs...))
	}
	if leader == 0 {
		return "", nil
	}
	ep, ok := ids[leader]
	if !ok {
		return "", nil // the leader's endpoint did not answer: it is not known to be up
	}
	for _, m := range c.members {
		if m.endpoint == ep {
			return m.name, nil
		}
		if m.endpoint == "" {
			if owns, _ := m.proc.Owns("tcp", ep); owns {
				return m.name, nil
			}
		}
	}
	return ep, nil
}

// waitLeader polls until the cluster has a leader.
func (c *cluster) waitLeader(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		l, err := c.Leader(ctx, Group)
		if err == nil && l != "" {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			if last == nil {
				last = errors.New("no leader elected")
			}
			return fmt.Errorf("etcd not ready within %v: %w", timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close stops every member kvbench started.
func (c *cluster) Close() error {
	var errs []error
	for _, m := range c.members {
		errs = append(errs, m.proc.Stop(5*time.Second))
	}
	return errors.Join(errs...)
}

// etcdBinary is Debian's etcd-server.
const etcdBinary = "etcd"

// startLocal starts an n-member etcd cluster on free loopback ports, with
// its data under dir, and waits for a leader. A port taken between probing
// and binding fails the start; it is retried with new ports.
func startLocal(ctx context.Context, n int, dir string, log io.Writer) (*cluster, error) {
	bin, err := exec.LookPath(etcdBinary)
	if err != nil {
		return nil, fmt.Errorf("etcd:cluster needs etcd on PATH (Debian: apt-get install etcd-server): %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3 && ctx.Err() == nil; attempt++ {
		c, err := tryStartLocal(ctx, bin, n, filepath.Join(dir, "etcd-"+strconv.Itoa(attempt)), log)
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func tryStartLocal(ctx context.Context, bin string, n int, dir string, log io.Writer) (*cluster, error) {
	clientAddrs, peerAddrs := make([]string, n), make([]string, n)
	var initial []string
	for i := range n {
		var err error
		if clientAddrs[i], err = proc.FreeTCPAddr(); err != nil {
			return nil, err
		}
		if peerAddrs[i], err = proc.FreeTCPAddr(); err != nil {
			return nil, err
		}
		initial = append(initial, fmt.Sprintf("etcd-%d=http://%s", i, peerAddrs[i]))
	}
	c := &cluster{endpoints: clientAddrs}
	for i := range n {
		name := "etcd-" + strconv.Itoa(i)
		args := []string{
			"--name", name, "--data-dir", filepath.Join(dir, name),
			"--listen-client-urls", "http://" + clientAddrs[i], "--advertise-client-urls", "http://" + clientAddrs[i],
			"--listen-peer-urls", "http://" + peerAddrs[i], "--initial-advertise-peer-urls", "http://" + peerAddrs[i],
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", filepath.Base(filepath.Dir(dir)),
		}
		p, err := proc.Start(ctx, proc.Spec{Name: name, Path: bin, Args: args, Log: log,
			Probe: proc.OwnedTCPReady(clientAddrs[i]), ReadyTimeout: 20 * time.Second})
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		c.members = append(c.members, member{name: name, endpoint: clientAddrs[i], proc: p})
	}
	if err := c.waitLeader(ctx, 30*time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
