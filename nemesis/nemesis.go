package nemesis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

// Kind is one kind of fault.
type Kind string

// The fault kinds, in the order `kvbench fuzz --help` lists them.
const (
	Crash     Kind = "crash"     // SIGKILL the node's process group, restart it on the same data
	Pause     Kind = "pause"     // SIGSTOP, then SIGCONT
	Partition Kind = "partition" // cut every link of the node through kvbench's proxy
	Loss      Kind = "loss"      // drop a fraction of the node's packets
	Delay     Kind = "delay"     // delay the node's packets
	Dup       Kind = "dup"       // duplicate a fraction of the node's packets
)

// Kinds is the explicit list of fault kinds.
var Kinds = []Kind{Crash, Pause, Partition, Loss, Delay, Dup}

// network reports whether k acts through a node's proxy (impls.Node.Net).
func (k Kind) network() bool { return k == Partition || k == Loss || k == Delay || k == Dup }

// ParseKind parses a fault kind name.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown fault kind %q (kinds: %s)", s, strings.Join(names, ", "))
}

// The --fault-target policies; any other value names a role or a node.
const (
	TargetRandom   = "random"
	TargetLeader   = "leader"
	TargetFollower = "follower"
	TargetMinority = "minority"
	TargetMajority = "majority"
)

// Policies lists the built-in target policies.
var Policies = []string{TargetRandom, TargetLeader, TargetFollower, TargetMinority, TargetMajority}

// NetParams are the degraded-link settings of the loss, delay and dup kinds.
type NetParams struct {
	Delay, Jitter time.Duration
	Loss, Dup     float64
}

// DefaultNet is used when Config.Net is zero.
var DefaultNet = NetParams{Delay: 50 * time.Millisecond, Jitter: 50 * time.Millisecond, Loss: 0.3, Dup: 0.3}

// Config says what to inject, where and how often.
type Config struct {
	// Kinds are injected in turn, starting with the first.
	Kinds []Kind
	// Target is the policy that picks nodes ("" means random), a role or
	// node name (one node of that name or role per fault), or a
	// comma-separated list of node names ("server-1,server-2"), all faulted
	// together in one window.
	Target string
	// Interval is the mean time between faults (±25% jitter); the first
	// fault comes after half of it. Duration is how long a fault holds.
	Interval, Duration time.Duration
	// Net sets the loss, delay and dup kinds; zero means DefaultNet.
	Net NetParams
	// Epoch is the run's time zero: fault windows are recorded from it.
	Epoch time.Time
	// Seed makes node choice and timing reproducible.
	Seed int64
	// MinFaults: Enough is closed once this many faults have been healed.
	MinFaults int
	// Log receives a line for each fault that could not be healed.
	Log io.Writer
	// RestartTimeout bounds one restart after a crash; 0 means 15 s.
	RestartTimeout time.Duration
}

// Nemesis injects faults into a cluster's nodes. Run it in its own
// goroutine; Windows and Enough may be called concurrently with Run.
type Nemesis struct {
	cfg     Config
	nodes   []impls.Node
	leaders impls.LeaderFinder // nil when the cluster cannot tell
	rng     *rand.Rand
	enough  chan struct{}

	mu     sync.Mutex
	faults []results.Fault
}

// ErrNoNodes is returned when a policy or kind can reach no node.
var ErrNoNodes = errors.New("no node to fault")

// New checks that every kind and the target policy can act on c's nodes and
// returns a nemesis for them.
func New(c impls.Cluster, cfg Config) (*Nemesis, error) {
	if len(cfg.Kinds) == 0 {
		return nil, errors.New("nemesis: no fault kinds")
	}
	if cfg.Target == "" {
		cfg.Target = TargetRandom
	}
	if cfg.Net == (NetParams{}) {
		cfg.Net = DefaultNet
	}
	if cfg.RestartTimeout <= 0 {
		cfg.RestartTimeout = 15 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	n := &Nemesis{cfg: cfg, nodes: c.Nodes(), rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6e656d)),
		enough: make(chan struct{})}
	n.leaders, _ = c.(impls.LeaderFinder)
	if len(n.nodes) == 0 {
		return nil, fmt.Errorf("%w: faults need a server kvbench manages: use --impl, or --target with --serve 'CMD'", ErrNoNodes)
	}
	for _, k := range cfg.Kinds {
		if k.network() && len(withNet(n.nodes)) == 0 {
			return nil, fmt.Errorf("%w: %s faults go through kvbench's proxy, and no node of this store has one", ErrNoNodes, k)
		}
	}
	switch cfg.Target {
	case TargetRandom:
	case TargetMinority, TargetMajority:
		if _, members := n.randomGroup(n.nodes); len(members) < 3 && cfg.Target == TargetMinority {
			return nil, fmt.Errorf("%w: --fault-target minority needs a group of 3 or more nodes (this store has %s)", ErrNoNodes, describe(n.nodes))
		}
	case TargetLeader, TargetFollower:
		if n.leaders == nil {
			return nil, fmt.Errorf("%w: --fault-target %s: this store does not report a leader", ErrNoNodes, cfg.Target)
		}
	default:
		if names := nodeList(cfg.Target); names != nil {
			seen := map[string]bool{}
			for _, name := range names {
				if _, ok := n.byName(name); !ok || seen[name] {
					return nil, fmt.Errorf("%w: --fault-target %q: %q is not one distinct node name of this store (nodes: %s)",
						ErrNoNodes, cfg.Target, name, describe(n.nodes))
				}
				seen[name] = true
			}
			break
		}
		if len(n.named(cfg.Target)) == 0 {
			return nil, fmt.Errorf("%w: --fault-target %q is no policy (%s), role or node name of this store (nodes: %s)",
				ErrNoNodes, cfg.Target, strings.Join(Policies, ", "), describe(n.nodes))
		}
	}
	if cfg.MinFaults <= 0 {
		close(n.enough)
	}
	return n, nil
}

// Enough is closed once Config.MinFaults faults have been healed.
func (n *Nemesis) Enough() <-chan struct{} { return n.enough }

// Run injects faults until ctx is done; an active fault is healed before it
// returns, whatever ctx says.
func (n *Nemesis) Run(ctx context.Context) {
	for i := 0; ; i++ {
		wait := n.cfg.Interval
		if i == 0 {
			wait /= 2 // the first fault comes early, so short runs see one too
		}
		wait = time.Duration(float64(wait) * (0.75 + 0.5*n.rng.Float64()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		kind := n.cfg.Kinds[i%len(n.cfg.Kinds)]
		nodes, role, err := n.pick(ctx, kind)
		if err != nil {
			n.record(results.Fault{Kind: string(kind), Target: n.cfg.Target, Start: n.since(), End: n.since(), Error: err.Error()})
			continue
		}
		n.inject(ctx, kind, nodes, role)
	}
}

// Windows returns the recorded fault windows in order.
func (n *Nemesis) Windows() []results.Fault {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]results.Fault(nil), n.faults...)
}

func (n *Nemesis) since() int64 { return int64(time.Since(n.cfg.Epoch)) }

func (n *Nemesis) record(f results.Fault) {
	n.mu.Lock()
	n.faults = append(n.faults, f)
	if len(n.faults) == n.cfg.MinFaults {
		close(n.enough)
	}
	n.mu.Unlock()
	if f.Error != "" {
		fmt.Fprintf(n.cfg.Log, "nemesis: %s of %s: %s\n", f.Kind, orNone(f.Process), f.Error)
	}
}

func orNone(s string) string {
	if s == "" {
		return "no node"
	}
	return s
}

// inject applies kind to every node at once, holds it for the fault
// duration (or until ctx ends), heals it, and records the window. A crashed
// node is restarted even when the run is over: the store must serve after.
func (n *Nemesis) inject(ctx context.Context, kind Kind, nodes []impls.Node, role string) {
	names := make([]string, len(nodes))
	for i, nd := range nodes {
		names[i] = nd.Name
	}
	f := results.Fault{Kind: string(kind), Process: strings.Join(names, ","), Target: n.cfg.Target, Role: role, Start: n.since()}
	var errs []error
	applied := nodes[:0:0]
	for _, nd := range nodes {
		if err := n.apply(kind, nd); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", nd.Name, err))
			continue
		}
		applied = append(applied, nd)
	}
	if len(applied) > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(n.cfg.Duration):
		}
	}
	for _, nd := range applied {
		if err := n.heal(kind, nd); err != nil {
			errs = append(errs, fmt.Errorf("heal %s: %w", nd.Name, err))
		}
	}
	f.End = n.since()
	if err := errors.Join(errs...); err != nil {
		f.Error = err.Error()
	}
	n.record(f)
}

func (n *Nemesis) apply(kind Kind, nd impls.Node) error {
	switch kind {
	case Crash:
		return nd.Proc.Kill()
	case Pause:
		return nd.Proc.Pause()
	case Partition:
		return nd.Net.Isolate()
	case Loss:
		return nd.Net.Degrade(0, 0, n.cfg.Net.Loss, 0)
	case Delay:
		return nd.Net.Degrade(n.cfg.Net.Delay, n.cfg.Net.Jitter, 0, 0)
	case Dup:
		return nd.Net.Degrade(0, 0, 0, n.cfg.Net.Dup)
	}
	return fmt.Errorf("unknown fault kind %q", kind)
}

func (n *Nemesis) heal(kind Kind, nd impls.Node) error {
	switch kind {
	case Crash:
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			rctx, cancel := context.WithTimeout(context.Background(), n.cfg.RestartTimeout)
			err = nd.Proc.Restart(rctx)
			cancel()
			if err == nil {
				return nil
			}
		}
		return err
	case Pause:
		return nd.Proc.Resume()
	default:
		return nd.Net.Heal()
	}
}
