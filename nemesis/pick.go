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
