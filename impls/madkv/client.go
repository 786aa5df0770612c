package madkv

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// Client is the madkv client: given a stage 1 server's address it talks to
// that server; given the manager's, it fetches the partition map and talks
// to each partition's server directly. It is safe for concurrent use; calls
// pipeline on one connection per server.
//
// Failures: a request that fails because a server is down, restarting or not
// registered is retried, with backoff, until it succeeds or ctx ends. A
// retried mutation carries the same (client id, sequence number), so a
// server executes it at most once and answers a retry with the first
// execution's reply (see dedup in store.go): a reply is always the true
// one. When ctx ends before a mutation that may have been sent got its
// reply, Do returns an error wrapping impls.ErrUnknownOutcome. A server's
// refusal (bad request, wrong partition, failed commit) is a definite
// error: nothing was written.
type Client struct {
	id    uint64 // random, never 0: names this client's mutations
	parts []*peer
	info  string // "stage 1 server ..." or "manager ... (P partitions)"

	groups      []*group // stage 3: one replica group per partition (parts unused)
	unsafeReads bool     // stage 3, test only: reads go to any replica

	seq         atomic.Uint64
	closed      atomic.Bool
	mu          sync.Mutex
	outstanding map[uint64]struct{} // mutation seqs awaiting their reply
}

var _ impls.Client = (*Client)(nil)

// Errors the client returns.
var (
	// ErrRefused: the server refused the request; nothing was executed.
	ErrRefused = errors.New("madkv: request refused")
	// ErrClosed: Do after Close.
	ErrClosed = errors.New("madkv: client closed")
	// ErrBadAddress: the address is not a madkv stage 1 server or manager.
	ErrBadAddress = errors.New("madkv: not a madkv server or manager")
)

// Retry backoff between attempts.
const (
	retryMin = 5 * time.Millisecond
	retryMax = 200 * time.Millisecond
)

// Dial connects to a stage 1 server or a stage 2 manager at addr, retrying
// until it answers (and, for a manager, until every server registered) or
// ctx ends.
func Dial(ctx context.Context, addr string) (*Client, error) {
	c := &Client{outstanding: map[uint64]struct{}{}}
	var b [8]byte
	for c.id == 0 {
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		c.id = binary.BigEndian.Uint64(b[:])
	}
	if strings.Contains(addr, ",") { // stage 3: the manager replicas
		return dialReplicated(ctx, c, strings.Split(addr, ","), false)
	}
	seed := &peer{addr: addr}
	hello, err := retry(ctx, seed, &request{op: opHello})
	if err != nil {
		seed.close()
		return nil, fmt.Errorf("madkv: %s: %w", addr, err)
	}
	info := pairMap(hello.pairs)
	switch info["role"] {
	case "server":
		if info["partitions"] != "0" {
			seed.close()
			return nil, fmt.Errorf("%w: %s is stage 2 server %s; give the client the manager's address", ErrBadAddress, addr, info["id"])
		}
		c.parts = []*peer{seed}
		c.info = "stage 1 server " + addr
		return c, nil
	case "manager":
		if info["stage"] == "3" {
			seed.close()
			return dialReplicated(ctx, c, []string{addr}, false)
		}
		m, err := retry(ctx, seed, &request{op: opMap})
		seed.close()
		if err != nil {
			return nil, fmt.Errorf("madkv: partition map from %s: %w", addr, err)
		}
		for i, p := range m.pairs {
			if p.k != strconv.Itoa(i) {
				return nil, fmt.Errorf("%w: manager %s sent a malformed partition map", ErrBadAddress, addr)
			}
			c.parts = append(c.parts, &peer{addr: p.v})
		}
		if len(c.parts) == 0 {
			return nil, fmt.Errorf("%w: manager %s has no servers", ErrBadAddress, addr)
		}
		c.info = fmt.Sprintf("manager %s (%d partitions)", addr, len(c.parts))
		return c, nil
	default:
		seed.close()
		return nil, fmt.Errorf("%w: %s says role %q", ErrBadAddress, addr, info["role"])
	}
}

func pairMap(ps []pair) map[string]string {
	m := make(map[string]string, len(ps))
	for _, p := range ps {
		m[p.k] = p.v
	}
	return m
}

// Resent returns how many times this client sent a mutation again after
// an attempt that may have reached its server (stages 1 and 2).
func (c *Client) Resent() uint64 {
	var n uint64
	for _, p := range c.parts {
		n += p.resent.Load()
	}
	return n
}

// String describes what the client talks to.
func (c *Client) String() string { return c.info }

// Close closes every connection.
func (c *Client) Close() error {
	c.closed.Store(true)
	for _, p := range c.parts {
		p.close()
	}
	for _, g := range c.groups {
		g.close()
	}
	return nil
}

// Do executes one request.
func (c *Client) Do(ctx context.Context, req impls.Request) (impls.Response, error) {
	if c.closed.Load() {
		return impls.Response{}, fmt.Errorf("madkv %s: %w", req.Kind, ErrClosed)
	}
	r := request{key: req.Key}
	switch req.Kind {
	case impls.Get:
		r.op = opGet
	case impls.Put:
		r.op, r.val = opPut, req.Value
	case impls.Swap:
		r.op, r.val = opSwap, req.Value
	case impls.Delete:
		r.op = opDelete
	case impls.Scan:
		r.op, r.val = opScan, req.End
		return c.scan(ctx, &r)
	default:
		return impls.Response{}, fmt.Errorf("madkv %s: %w", req.Kind, impls.ErrUnsupported)
	}
	switch {
	case r.key == "":
		return impls.Response{}, fmt.Errorf("madkv %s: empty key: %w", req.Kind, ErrRefused)
	case len(r.key) > MaxKey || len(r.val) > MaxValue:
		return impls.Response{}, fmt.Errorf("madkv %s: key or value over %d/%d bytes: %w", req.Kind, MaxKey, MaxValue, ErrRefused)
	}
	part := partitionOf(r.key, c.nparts())
	if r.op.mutates() {
		r.client = c.id
		r.seq = c.seq.Add(1)
		c.mu.Lock()
		c.outstanding[r.seq] = struct{}{}
		r.acked = r.seq
		for s := range c.outstanding {
			r.acked = min(r.acked, s)
		}
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			delete(c.outstanding, r.seq)
			c.mu.Unlock()
		}()
	}
	resp, err := c.send(ctx, part, &r)
	if err != nil {
		return impls.Response{}, fmt.Errorf("madkv %s %q: %w", r.op, r.key, err)
	}
	out := impls.Response{Found: impls.FoundOf(resp.found)}
	if r.op != opPut && r.op != opDelete && resp.found {
		out.Value = resp.val
	}
	return out, nil
}

// scan asks every partition (concurrently) and merges their sorted
// answers. Each entry is as of its own partition's read; the whole is not
// one atomic snapshot across partitions.
func (c *Client) scan(ctx context.Context, r *request) (impls.Response, error) {
	if r.key == "" || r.val == "" || len(r.key) > MaxKey || len(r.val) > MaxKey {
		return impls.Response{}, fmt.Errorf("madkv SCAN: empty or over-long key: %w", ErrRefused)
	}
	if r.key > r.val {
		return impls.Response{}, nil
	}
	results := make([][]pair, c.nparts())
	errs := make([]error, c.nparts())
	var wg sync.WaitGroup
	for i := range c.nparts() {
		wg.Go(func() {
			rr := *r
			resp, err := c.send(ctx, i, &rr)
			results[i], errs[i] = resp.pairs, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return impls.Response{}, fmt.Errorf("madkv SCAN %q %q: %w", r.key, r.val, err)
	}
	var out []impls.Pair
	for _, ps := range results {
		for _, p := range ps {
			out = append(out, impls.Pair{Key: p.k, Value: p.v})
		}
	}
	if len(results) > 1 {
		slices.SortFunc(out, func(a, b impls.Pair) int { return strings.Compare(a.Key, b.Key) })
	}
	return impls.Response{Pairs: out}, nil
}

// retry sends r to p until a definite answer or ctx ends. Connection
// failures and "not ready" answers are retried with backoff.
func retry(ctx context.Context, p *peer, r *request) (response, error) {
	everSent := false
	backoff := retryMin
	var last error
	for {
		cn, err := p.get(ctx)
		if err == nil {
			var resp response
			var sent bool
			if everSent && r.op.mutates() {
				p.resent.Add(1)
			}
			resp, sent, err = cn.call(ctx, r)
			everSent = everSent || sent
			if err == nil {
				switch resp.status {
				case stOK:
					return resp, nil
				case stNotReady, stRedirect:
					err = fmt.Errorf("%s: not ready: %s", p.addr, resp.val)
				default:
					return response{}, fmt.Errorf("%w by %s: %s", ErrRefused, p.addr, resp.val)
				}
			}
		}
		if err != nil {
			last = err
		}
		if ctx.Err() != nil {
			if everSent && r.op.mutates() {
				return response{}, fmt.Errorf("%w: gave up waiting for %s (%v): %w", impls.ErrUnknownOutcome, p.addr, last, ctx.Err())
			}
			return response{}, fmt.Errorf("gave up on %s (%v): %w", p.addr, last, ctx.Err())
		}
		backoff = retryPause(ctx, backoff)
	}
}

// retryPause waits backoff before a retry, or until ctx ends, and returns
// the next backoff (doubled, at most retryMax).
func retryPause(ctx context.Context, backoff time.Duration) time.Duration {
	t := time.NewTimer(backoff)
	select {
	case <-ctx.Done():
		t.Stop()
	case <-t.C:
	}
	return min(2*backoff, retryMax)
}
