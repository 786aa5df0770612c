package impls

import (
	"context"
	"time"

	"github.com/kvbench/kvbench/impls/proc"
)

// Node is one process of a cluster, as the nemesis sees it.
type Node struct {
	// Name identifies the node in fault windows and reports: "memkv-0",
	// "manager", "p1/r2".
	Name string
	// Role is what the node does: "server", "manager", "replica". A
	// --fault-target that names a role picks among the nodes that have it.
	Role string
	// Group is the replica group the node belongs to ("p1"), or "" when
	// the store does not replicate. leader/follower/minority/majority
	// targets choose within one group.
	Group string
	// Proc is the process; crash kills and restarts it, pause stops and
	// continues it.
	Proc *proc.Process
	// Net, when not nil, cuts or degrades this node's links through a
	// proxy kvbench owns. Nil: network faults cannot reach this node.
	Net NetFaulter
}

// NetFaulter is a node's network, seen through kvbench's proxy.
type NetFaulter interface {
	// Isolate drops every packet to and from the node until Heal.
	Isolate() error
	// Degrade delays each packet by delay (plus up to jitter), drops a
	// fraction loss and duplicates a fraction dup of them, until Heal.
	Degrade(delay, jitter time.Duration, loss, dup float64) error
	// Heal restores normal delivery.
	Heal() error
}

// LeaderFinder is an optional Cluster capability: who leads a replica group
// now. leader returns a Node.Name, or "" with no error when the group has no
// leader at the moment (an election is under way).
type LeaderFinder interface {
	Leader(ctx context.Context, group string) (leader string, err error)
}

// ProcNodes describes plain server processes with one role, for stores
// without replica groups.
func ProcNodes(role string, procs ...*proc.Process) []Node {
	nodes := make([]Node, 0, len(procs))
	for _, p := range procs {
		if p != nil {
			nodes = append(nodes, Node{Name: p.Name(), Role: role, Proc: p})
		}
	}
	return nodes
}
