package dkvs

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kvbench/kvbench/impls"
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
//	--servers-file F  instead of --servers/--nodes: start one server per
//	              distinct (loopback) address of servers.txt F, at that
//	              address, and keep F's ring; clients reach the servers
//	              through kvbench's proxies
//	--timeout D   per-operation timeout (default 1s, the original's)
//	--seed S      seed of the network-fault proxies' random decisions (default 1)
type ClusterFlags struct {
	Servers, Nodes int
	// File is --servers-file: a servers.txt whose servers to start.
	File    string
	Q       Quorum
	Timeout time.Duration
	Seed    int64
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
	fs.StringVar(&c.File, "servers-file", "", "servers.txt whose servers to start (instead of --servers/--nodes)")
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("dkvs --impl-flags %q: %w (want --servers S --nodes V -n N -w W -r R)", strings.Join(args, " "), err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("dkvs --impl-flags: unexpected %q", fs.Arg(0))
	}
	shape := false
	fs.Visit(func(f *flag.Flag) { shape = shape || f.Name == "servers" || f.Name == "nodes" })
	if c.File != "" && shape {
		return c, fmt.Errorf("dkvs --impl-flags: give --servers-file or --servers/--nodes, not both")
	}
	if c.Servers < 1 || c.Nodes < 1 || c.Servers*c.Nodes > maxRingNodes || n < 0 || w < 0 || r < 0 || c.Timeout <= 0 {
		return c, fmt.Errorf("dkvs --impl-flags: --servers, --nodes, -n, -w, -r and --timeout must be positive")
	}
	c.Q = quorumOf(n, w, r)
	if err := c.Q.Validate(); err != nil {
		return c, fmt.Errorf("dkvs --impl-flags: %w", err)
	}
	if c.File == "" && c.Q.N > c.Servers {
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

// quorumOf fills in the original client's defaults for the -n, -w and -r
// not given (0): N is the larger of W and R, else 3; W and R are min(N, 2).
func quorumOf(n, w, r int) Quorum {
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
	return Quorum{N: n, W: w, R: r}
}
