package madkv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// attemptTimeout bounds one attempt at one replica: a paused or cut-off
// leader holds the connection open without answering, so after this long
// the client tries another replica (a mutation keeps its (client, seq), so
// a retry is deduplicated if the first attempt committed after all).
const attemptTimeout = 1500 * time.Millisecond

// group is a client's view of one replica group (a partition's replicas,
// or the managers): every replica's address and the one it believes leads.
type group struct {
	peers  []*peer
	leader atomic.Int32
}

func newGroup(addrs []string) *group {
	g := &group{}
	for _, a := range addrs {
		g.peers = append(g.peers, &peer{addr: a})
	}
	return g
}

func (g *group) close() {
	for _, p := range g.peers {
		p.close()
	}
}

func (g *group) index(addr string) int {
	for i, p := range g.peers {
		if p.addr == addr {
			return i
		}
	}
	return -1
}

// moveOn stops sticking to replica i: the next one is tried.
func (g *group) moveOn(i int) {
	g.leader.CompareAndSwap(int32(i), int32((i+1)%len(g.peers)))
}

// do sends r to the replica believed to lead until one answers it or ctx
// ends. A redirect naming the leader moves the client there; "try another",
// a lost connection, "not ready" or an attempt timeout moves it to the next
// replica. anyReplica (reads under the test-only unsafe mode) sends to a
// random replica instead and takes its answer.
func (g *group) do(ctx context.Context, r *request, anyReplica bool) (response, error) {
	everSent := false
	backoff := retryMin
	hops := 0 // redirects followed in a row
	var last error
	for {
		i := int(g.leader.Load())
		if anyReplica {
			i = rand.IntN(len(g.peers))
		}
		p := g.peers[i]
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		cn, err := p.get(actx)
		var resp response
		if err == nil {
			var sent bool
			resp, sent, err = cn.call(actx, r)
			everSent = everSent || sent
		}
		cancel()
		redirected := false
		if err == nil {
			switch resp.status {
			case stOK:
				return resp, nil
			case stRedirect:
				if j := g.index(resp.val); j >= 0 && j != i {
					g.leader.CompareAndSwap(int32(i), int32(j))
					redirected = true
					err = fmt.Errorf("%s: redirected to %s", p.addr, resp.val)
				} else {
					g.moveOn(i)
					err = fmt.Errorf("%s: not the leader, leader unknown", p.addr)
				}
			case stNotReady:
				g.moveOn(i)
				err = fmt.Errorf("%s: not ready: %s", p.addr, resp.val)
			default:
				return response{}, fmt.Errorf("%w by %s: %s", ErrRefused, p.addr, resp.val)
			}
		} else {
			g.moveOn(i)
		}
		last = err
		if ctx.Err() != nil {
			if everSent && r.op.mutates() {
				return response{}, fmt.Errorf("%w: gave up on replica group (%v): %w", impls.ErrUnknownOutcome, last, ctx.Err())
			}
			return response{}, fmt.Errorf("gave up on replica group (%v): %w", last, ctx.Err())
		}
		if redirected && hops < len(g.peers) {
			hops++
			continue // straight to the named leader, unless replicas keep pointing at each other
		}
		hops = 0
		backoff = retryPause(ctx, backoff)
	}
}

// dialReplicated sets c up for a stage 3 cluster: it asks the managers
// (any that answers; followers answer from their replicated state) for
// the map and groups it into partitions of rf replicas.
func dialReplicated(ctx context.Context, c *Client, managers []string, unsafeReads bool) (*Client, error) {
	mg := newGroup(managers)
	defer mg.close()
	hello, err := mg.do(ctx, &request{op: opHello}, false)
	if err != nil {
		return nil, fmt.Errorf("madkv: managers %v: %w", managers, err)
	}
	info := pairMap(hello.pairs)
	rf, _ := strconv.Atoi(info["rf"])
	if info["role"] != "manager" || info["stage"] != "3" || rf < 1 {
		return nil, fmt.Errorf("%w: %v is not a stage 3 manager (role %q stage %q rf %q)", ErrBadAddress, managers, info["role"], info["stage"], info["rf"])
	}
	m, err := mg.do(ctx, &request{op: opMap}, false)
	if err != nil {
		return nil, fmt.Errorf("madkv: partition map from %v: %w", managers, err)
	}
	if len(m.pairs) == 0 || len(m.pairs)%rf != 0 {
		return nil, fmt.Errorf("%w: managers %v sent %d servers for rf %d", ErrBadAddress, managers, len(m.pairs), rf)
	}
	var addrs []string
	for i, p := range m.pairs {
		if p.k != strconv.Itoa(i) {
			return nil, fmt.Errorf("%w: managers %v sent a malformed partition map", ErrBadAddress, managers)
		}
		addrs = append(addrs, p.v)
	}
	for i := 0; i < len(addrs); i += rf {
		c.groups = append(c.groups, newGroup(addrs[i:i+rf]))
	}
	c.unsafeReads = unsafeReads
	c.info = fmt.Sprintf("managers %v (%d partitions of %d replicas)", managers, len(c.groups), rf)
	return c, nil
}

// nparts is how many partitions c routes among.
func (c *Client) nparts() int {
	if c.groups != nil {
		return len(c.groups)
	}
	return len(c.parts)
}

// send executes r at partition i: its server (stages 1, 2) or replica
// group (stage 3).
func (c *Client) send(ctx context.Context, i int, r *request) (response, error) {
	if c.groups != nil {
		return c.groups[i].do(ctx, r, c.unsafeReads && !r.op.mutates())
	}
	return retry(ctx, c.parts[i], r)
}

// newClientID returns a random nonzero client id.
func newClientID() uint64 {
	for {
		if id := rand.Uint64(); id != 0 {
			return id
		}
	}
}
