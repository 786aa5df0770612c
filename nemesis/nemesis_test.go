package nemesis

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// fakeNet records what the nemesis did to one node's links.
type fakeNet struct {
	mu    sync.Mutex
	name  string
	log   *[]string
	state string
}

func (f *fakeNet) note(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state = s
	*f.log = append(*f.log, f.name+":"+s)
}

func (f *fakeNet) Isolate() error { f.note("isolate"); return nil }
func (f *fakeNet) Degrade(d, j time.Duration, loss, dup float64) error {
	switch {
	case loss > 0:
		f.note("loss")
	case dup > 0:
		f.note("dup")
	default:
		f.note("delay")
	}
	return nil
}
func (f *fakeNet) Heal() error { f.note("heal"); return nil }

var _ impls.NetFaulter = (*fakeNet)(nil)

// fakeCluster has two groups of three replicas and a manager without a
// proxy; p1/r2 and p2/r1 lead.
type fakeCluster struct {
	nodes   []impls.Node
	leaders map[string]string
	mu      sync.Mutex
	log     []string
}

func newFakeCluster() *fakeCluster {
	c := &fakeCluster{leaders: map[string]string{"p1": "p1/r2", "p2": "p2/r1"}}
	for _, g := range []string{"p1", "p2"} {
		for _, r := range []string{"r1", "r2", "r3"} {
			name := g + "/" + r
			c.nodes = append(c.nodes, impls.Node{Name: name, Role: "replica", Group: g,
				Net: &fakeNet{name: name, log: &c.log}})
		}
	}
	c.nodes = append(c.nodes, impls.Node{Name: "manager", Role: "manager"})
	return c
}

func (c *fakeCluster) NewClient(context.Context, int) (impls.Client, error) {
	return nil, errors.New("none")
}
func (c *fakeCluster) Nodes() []impls.Node                                { return c.nodes }
func (c *fakeCluster) Close() error                                       { return nil }
func (c *fakeCluster) Leader(_ context.Context, g string) (string, error) { return c.leaders[g], nil }

var (
	_ impls.Cluster      = (*fakeCluster)(nil)
	_ impls.LeaderFinder = (*fakeCluster)(nil)
)

// plainCluster has nodes and no leader.
type plainCluster struct{ nodes []impls.Node }

func (c *plainCluster) NewClient(context.Context, int) (impls.Client, error) {
	return nil, errors.New("none")
}
func (c *plainCluster) Nodes() []impls.Node { return c.nodes }
func (c *plainCluster) Close() error        { return nil }

func TestPickPolicies(t *testing.T) {
	for _, tc := range []struct {
		target string
		check  func(t *testing.T, nodes []impls.Node, role string)
	}{
		{TargetLeader, func(t *testing.T, nodes []impls.Node, role string) {
			if len(nodes) != 1 || (nodes[0].Name != "p1/r2" && nodes[0].Name != "p2/r1") {
				t.Errorf("leader picked %v", nodes)
			}
			if !strings.HasPrefix(role, "leader of group p") {
				t.Errorf("role %q", role)
			}
		}},
		{TargetFollower, func(t *testing.T, nodes []impls.Node, role string) {
			if len(nodes) != 1 || nodes[0].Name == "p1/r2" || nodes[0].Name == "p2/r1" || nodes[0].Role != "replica" {
				t.Errorf("follower picked %v", nodes)
			}
		}},
		{TargetMinority, func(t *testing.T, nodes []impls.Node, role string) {
			if len(nodes) != 1 || nodes[0].Role != "replica" {
				t.Errorf("minority of 3 picked %v", nodes)
			}
		}},
		{TargetMajority, func(t *testing.T, nodes []impls.Node, role string) {
			if len(nodes) != 2 || nodes[0].Group != nodes[1].Group || nodes[0].Name == nodes[1].Name {
				t.Errorf("majority of 3 picked %v, want 2 distinct nodes of one group", nodes)
			}
			if !strings.Contains(role, "2 of 3") {
				t.Errorf("role %q", role)
			}
		}},
		{"p2/r3", func(t *testing.T, nodes []impls.Node, role string) {
			if len(nodes) != 1 || nodes[0].Name != "p2/r3" {
				t.Errorf("by name picked %v", nodes)
			}
		}},
		{"p1/r1,p2/r3", func(t *testing.T, nodes []impls.Node, role string) {
			if len(nodes) != 2 || nodes[0].Name != "p1/r1" || nodes[1].Name != "p2/r3" || role != "nodes p1/r1, p2/r3" {
				t.Errorf("by list picked %v (%q), want p1/r1 and p2/r3 together", nodes, role)
			}
		}},
		{"replica", func(t *testing.T, nodes []impls.Node, role string) {
			if len(nodes) != 1 || nodes[0].Role != "replica" {
				t.Errorf("by role picked %v", nodes)
			}
		}},
	} {
		t.Run(tc.target, func(t *testing.T) {
			n, err := New(newFakeCluster(), Config{Kinds: []Kind{Partition}, Target: tc.target, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			for range 20 {
				nodes, role, err := n.pick(context.Background(), Partition)
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, nodes, role)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	one := &fakeCluster{nodes: []impls.Node{{Name: "s0", Role: "server"}}}
	for _, tc := range []struct {
		name string
		c    impls.Cluster
		cfg  Config
		want string
	}{
		{"no nodes", &fakeCluster{}, Config{Kinds: []Kind{Crash}}, "kvbench manages"},
		{"no proxy", one, Config{Kinds: []Kind{Partition}}, "proxy"},
		{"no leader", &plainCluster{nodes: one.nodes}, Config{Kinds: []Kind{Crash}, Target: TargetLeader}, "does not report a leader"},
		{"minority of one", one, Config{Kinds: []Kind{Crash}, Target: TargetMinority}, "group of 3"},
		{"unknown name", one, Config{Kinds: []Kind{Crash}, Target: "nosuch"}, `"nosuch" is no policy`},
		{"no kinds", one, Config{}, "no fault kinds"},
		{"unknown name in a list", newFakeCluster(), Config{Kinds: []Kind{Crash}, Target: "p1/r1,p9/r1"}, `"p9/r1" is not one distinct node name`},
		{"role in a list", newFakeCluster(), Config{Kinds: []Kind{Crash}, Target: "p1/r1,replica"}, `"replica" is not one distinct node name`},
		{"name twice in a list", newFakeCluster(), Config{Kinds: []Kind{Crash}, Target: "p1/r1,p1/r1"}, `"p1/r1" is not one distinct`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.c, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestRunFaultsANodeListTogether: --fault-target s1,s2 puts both named
// nodes in every window, applied together and healed together.
func TestRunFaultsANodeListTogether(t *testing.T) {
	c := newFakeCluster()
	n, err := New(c, Config{Kinds: []Kind{Partition}, Target: "p1/r3,p2/r2", Interval: 20 * time.Millisecond,
		Duration: 5 * time.Millisecond, Epoch: time.Now(), Seed: 3, MinFaults: 2})
	if err != nil {
		t.Fatal(err)
	}
	runUntilEnough(t, n)
	ws := n.Windows()
	for i, w := range ws {
		if w.Process != "p1/r3,p2/r2" || w.Error != "" {
			t.Errorf("window %d = %+v, want both nodes", i, w)
		}
	}
	c.mu.Lock()
	got := strings.Join(c.log[:4], " ")
	c.mu.Unlock()
	if got != "p1/r3:isolate p2/r2:isolate p1/r3:heal p2/r2:heal" {
		t.Errorf("proxy calls %s, want both isolated, then both healed", got)
	}
}

// TestRunRecordsWindows runs the nemesis with alternating partition and
// loss faults on the majority of a group and checks every fault was applied
// to the recorded nodes and healed, in order.
func TestRunRecordsWindows(t *testing.T) {
	c := newFakeCluster()
	n, err := New(c, Config{Kinds: []Kind{Partition, Loss}, Target: TargetMajority, Interval: 20 * time.Millisecond,
		Duration: 5 * time.Millisecond, Epoch: time.Now(), Seed: 7, MinFaults: 4})
	if err != nil {
		t.Fatal(err)
	}
	runUntilEnough(t, n)
	ws := n.Windows()
	if len(ws) < 4 {
		t.Fatalf("%d windows", len(ws))
	}
	var want []string
	for i, w := range ws {
		kind := []string{"partition", "loss"}[i%2]
		if w.Kind != kind || w.Error != "" || w.Target != TargetMajority || w.End < w.Start {
			t.Errorf("window %d = %+v", i, w)
		}
		names := strings.Split(w.Process, ",")
		if len(names) != 2 {
			t.Errorf("window %d hit %v, want 2 nodes", i, names)
		}
		applied := map[string]string{"partition": "isolate", "loss": "loss"}[kind]
		for _, nm := range names {
			want = append(want, nm+":"+applied)
		}
		for _, nm := range names {
			want = append(want, nm+":heal")
		}
	}
	c.mu.Lock()
	got := c.log[:len(want)]
	c.mu.Unlock()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("proxy calls\n got %v\nwant %v", got, want)
	}
}

// runUntilEnough runs n until it has injected its MinFaults (failing the
// test if that takes over 10 s), then stops it and waits for it to heal.
func runUntilEnough(t *testing.T, n *Nemesis) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	select {
	case <-n.Enough():
	case <-time.After(10 * time.Second):
		t.Fatal("the faults asked for did not happen within 10 s")
	}
}
