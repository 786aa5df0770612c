package etcd

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/conformance"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		rest      string
		endpoints string
		members   int
		err       string
	}{
		{"cluster:3", "", 3, ""},
		{"cluster:1", "", 1, ""},
		{"cluster:0", "", 0, "want 1..9"},
		{"cluster:10", "", 0, "want 1..9"},
		{"cluster:x", "", 0, "want 1..9"},
		{"//127.0.0.1:2379", "127.0.0.1:2379", 0, ""},
		{"//127.0.0.1:2379,127.0.0.1:22379/", "127.0.0.1:2379 127.0.0.1:22379", 0, ""},
		{"//", "", 0, "want etcd://"},
		{"127.0.0.1:2379", "", 0, "want etcd://"},
		{"//localhost", "", 0, "want host:port"},
		{"//h:1/path", "", 0, "want host:port"},
	} {
		eps, n, err := parse(tc.rest)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parse(%q) err = %v, want %q", tc.rest, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(eps, " ") != tc.endpoints || n != tc.members {
			t.Errorf("parse(%q) = %v, %d, %v", tc.rest, eps, n, err)
		}
	}
}

func needEtcd(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(etcdBinary); err != nil {
		t.Skip("etcd not installed (apt-get install etcd-server)")
	}
	if testing.Short() {
		t.Skip("starts a 3-member etcd cluster")
	}
}

// TestConformance runs the shared suite against a local 3-member cluster;
// a crash of every member loses nothing (etcd fsyncs its log).
func TestConformance(t *testing.T) {
	needEtcd(t)
	im := describe()
	im.Claims = func([]string, impls.Faults) impls.Claim {
		return impls.Claim{Linearizable: true, Why: "etcd commits through Raft with fsync"}
	}
	conformance.Run(t, conformance.Subject{
		Name: "etcd", Impl: im,
		Start: func(ctx context.Context, env impls.StartEnv) (impls.Cluster, error) {
			_, c, err := open(ctx, impls.TargetEnv{URL: "etcd:cluster:3", Rest: "cluster:3", Dir: env.Dir, Log: env.Log})
			return c, err
		},
	})
}

// TestLeaderFollowsCrash kills the leader and checks that a new one, a
// different member, is reported and that writes go on.
func TestLeaderFollowsCrash(t *testing.T) {
	needEtcd(t)
	ctx := context.Background()
	c, err := startLocal(ctx, 3, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	old, err := c.Leader(ctx, Group)
	if err != nil || old == "" {
		t.Fatalf("leader %q, %v", old, err)
	}
	var killed impls.Node
	for _, n := range c.Nodes() {
		if n.Name == old {
			killed = n
		}
	}
	if err := killed.Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := c.waitLeader(ctx, 20e9); err != nil {
		t.Fatal(err)
	}
	now, err := c.Leader(ctx, Group)
	if err != nil || now == "" || now == old {
		t.Fatalf("after killing %s the leader is %q (%v)", old, now, err)
	}
	cl, err := c.NewClient(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.Do(ctx, impls.Request{Kind: impls.Put, Key: "k", Value: "v"}); err != nil {
		t.Fatalf("put with 2 of 3 members: %v", err)
	}
	if r, err := cl.Do(ctx, impls.Request{Kind: impls.Get, Key: "k"}); err != nil || r.Value != "v" {
		t.Fatalf("get = %+v, %v", r, err)
	}
}
