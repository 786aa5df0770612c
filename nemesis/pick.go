package nemesis

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// leaderTimeout bounds one question to the cluster about its leader.
const leaderTimeout = 2 * time.Second

// pick chooses the nodes the next fault of kind hits, by the target policy,
// and says what they were when chosen.
func (n *Nemesis) pick(ctx context.Context, kind Kind) ([]impls.Node, string, error) {
	cands := n.nodes
	if kind.network() {
		cands = withNet(cands)
	}
	if len(cands) == 0 {
		return nil, "", fmt.Errorf("%w for %s", ErrNoNodes, kind)
	}
	switch n.cfg.Target {
	case TargetRandom:
		nd := cands[n.rng.IntN(len(cands))]
		return []impls.Node{nd}, nd.Role, nil
	case TargetLeader, TargetFollower:
		group, members := n.randomGroup(cands)
		lctx, cancel := context.WithTimeout(ctx, leaderTimeout)
		leader, err := n.leaders.Leader(lctx, group)
		cancel()
		if err != nil {
			return nil, "", fmt.Errorf("ask for the leader of group %q: %w", group, err)
		}
		if leader == "" {
			return nil, "", fmt.Errorf("group %q has no leader now (election under way)", group)
		}
		var followers []impls.Node
		for _, nd := range members {
			switch {
			case nd.Name == leader && n.cfg.Target == TargetLeader:
				return []impls.Node{nd}, "leader of " + groupName(group), nil
			case nd.Name != leader:
				followers = append(followers, nd)
			}
		}
		if n.cfg.Target == TargetLeader {
			return nil, "", fmt.Errorf("the leader of group %q, %q, is not a node kvbench can fault", group, leader)
		}
		if len(followers) == 0 {
			return nil, "", fmt.Errorf("group %q has no follower", group)
		}
		return []impls.Node{followers[n.rng.IntN(len(followers))]}, "follower in " + groupName(group), nil
	case TargetMinority, TargetMajority:
		group, members := n.randomGroup(cands)
		size := len(members)
		k := (size - 1) / 2
		if n.cfg.Target == TargetMajority {
			k = size/2 + 1
		}
		if k == 0 {
			return nil, "", fmt.Errorf("a group of %d has no %s to fault", size, n.cfg.Target)
		}
		chosen := append([]impls.Node(nil), members...)
		n.rng.Shuffle(len(chosen), func(i, j int) { chosen[i], chosen[j] = chosen[j], chosen[i] })
		chosen = chosen[:k]
		sort.Slice(chosen, func(i, j int) bool { return chosen[i].Name < chosen[j].Name })
		return chosen, fmt.Sprintf("%s: %d of %d in %s", n.cfg.Target, k, size, groupName(group)), nil
	default:
		if names := nodeList(n.cfg.Target); names != nil {
			return n.pickList(names, kind)
		}
		named := n.named(n.cfg.Target)
		var ok []impls.Node
		for _, nd := range named {
			if !kind.network() || nd.Net != nil {
				ok = append(ok, nd)
			}
		}
		if len(ok) == 0 {
			return nil, "", fmt.Errorf("%w: no %q node can take a %s fault", ErrNoNodes, n.cfg.Target, kind)
		}
		nd := ok[n.rng.IntN(len(ok))]
		return []impls.Node{nd}, nd.Role, nil
	}
}

// randomGroup picks one replica group among cands; nodes without a group
// form one group "".
func (n *Nemesis) randomGroup(cands []impls.Node) (string, []impls.Node) {
	groups := map[string][]impls.Node{}
	var names []string
	for _, nd := range cands {
		if _, ok := groups[nd.Group]; !ok {
			names = append(names, nd.Group)
		}
		groups[nd.Group] = append(groups[nd.Group], nd)
	}
	// With replica groups, nodes outside any group (a lone manager) are
	// not part of a quorum: leave them out of group policies.
	if len(names) > 1 {
		delete(groups, "")
		names = names[:0]
		for g := range groups {
			names = append(names, g)
		}
	}
	sort.Strings(names)
	g := names[n.rng.IntN(len(names))]
	return g, groups[g]
}

func groupName(g string) string {
	if g == "" {
		return "the cluster"
	}
	return "group " + g
}

// nodeList splits a comma-separated list of node names (s1,s2), or returns
// nil when target is a single word.
func nodeList(target string) []string {
	if !strings.Contains(target, ",") {
		return nil
	}
	var names []string
	for _, s := range strings.Split(target, ",") {
		names = append(names, strings.TrimSpace(s))
	}
	return names
}

// pickList returns the nodes named in names, all of them, to be faulted
// together in one window (the course crashes "servers 1 and 2" at once).
func (n *Nemesis) pickList(names []string, kind Kind) ([]impls.Node, string, error) {
	var out []impls.Node
	for _, name := range names {
		nd, ok := n.byName(name)
		if !ok {
			return nil, "", fmt.Errorf("%w: --fault-target %s: no node is named %q (nodes: %s)", ErrNoNodes, n.cfg.Target, name, describe(n.nodes))
		}
		if kind.network() && nd.Net == nil {
			return nil, "", fmt.Errorf("%w: node %q cannot take a %s fault (no proxy)", ErrNoNodes, name, kind)
		}
		out = append(out, nd)
	}
	return out, "nodes " + strings.Join(names, ", "), nil
}

// byName returns the node called name.
func (n *Nemesis) byName(name string) (impls.Node, bool) {
	for _, nd := range n.nodes {
		if nd.Name == name {
			return nd, true
		}
	}
	return impls.Node{}, false
}

// named returns the nodes whose role or name is s.
func (n *Nemesis) named(s string) []impls.Node {
	var out []impls.Node
	for _, nd := range n.nodes {
		if nd.Role == s || nd.Name == s {
			out = append(out, nd)
		}
	}
	return out
}

func withNet(nodes []impls.Node) []impls.Node {
	var out []impls.Node
	for _, nd := range nodes {
		if nd.Net != nil {
			out = append(out, nd)
		}
	}
	return out
}

// describe lists nodes as "name (role)" for error messages.
func describe(nodes []impls.Node) string {
	parts := make([]string, len(nodes))
	for i, nd := range nodes {
		parts[i] = nd.Name + " (" + nd.Role + ")"
	}
	return strings.Join(parts, ", ")
}
