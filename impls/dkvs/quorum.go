package dkvs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultTimeout is how long one operation waits for replies, as the
// original's 1 s socket timeout.
const DefaultTimeout = time.Second

// Quorum is N (servers contacted), W (acks a put needs) and R (equal values
// a get needs).
type Quorum struct{ N, W, R int }

// Validate checks 1 <= W, R <= N and R < 255 (the original's limits).
func (q Quorum) Validate() error {
	if q.N < 1 || q.W < 1 || q.R < 1 || q.W > q.N || q.R > q.N || q.R >= 255 {
		return fmt.Errorf("%w: N=%d W=%d R=%d (need 1 <= W,R <= N, R < 255)", ErrInvalidCommand, q.N, q.W, q.R)
	}
	return nil
}

func (q Quorum) String() string { return fmt.Sprintf("N=%d W=%d R=%d", q.N, q.W, q.R) }

// QuorumClient runs dkvs operations against a ring. Each operation uses a
// fresh UDP socket, sends to all N replica servers at once, ignores replies
// from any other address and counts at most one reply per replica server.
// It is safe for concurrent use.
type QuorumClient struct {
	Ring *Ring
	Q    Quorum
	// Timeout bounds one operation; 0 means DefaultTimeout.
	Timeout time.Duration
	// Route, when set, maps a server's address in the ring to the address
	// datagrams for it are sent to (kvbench's proxy in front of it); its
	// replies must come from that address. The ring, and so every key's
	// placement, stays the one servers.txt describes.
	Route map[netip.AddrPort]netip.AddrPort
}

// ErrQuorum is wrapped (with the original's code) when an operation did not
// reach its quorum.
var ErrQuorum = errors.New("quorum not reached")

// GetResult is the outcome of a Get.
type GetResult struct {
	// Value is the value R replicas returned; Found is true then.
	Value string
	Found bool
	// Absent: no value reached R but at least R replicas answered "not
	// found" (the original reports this as FAIL like any other failed get).
	Absent bool
	// Answered is how many replicas answered before the deadline.
	Answered int
}

// Get asks key's N replicas and succeeds as soon as one value was returned
// R times. Otherwise, once all N answered or the timeout passed, it returns
// an error wrapping ErrNotFound and ErrQuorum, with res.Absent set when R
// replicas said "not found". An empty or oversized key is ErrInvalidArgument.
func (c *QuorumClient) Get(ctx context.Context, key string) (res GetResult, err error) {
	if key == "" || len(key) > MaxElemSize {
		return res, fmt.Errorf("%w: get of a %d-byte key", ErrInvalidArgument, len(key))
	}
	counts := map[string]int{}
	notFound := 0
	answered, err := c.exchange(ctx, key, EncodeGet(key), func(reply []byte) bool {
		v, found, derr := DecodeGetReply(reply)
		switch {
		case derr != nil:
			return false
		case !found:
			notFound++
			return false
		}
		counts[v]++
		if counts[v] >= c.Q.R {
			res.Value, res.Found = v, true
			return true
		}
		return false
	})
	res.Answered = answered
	if err != nil || res.Found {
		return res, err
	}
	res.Absent = notFound >= c.Q.R
	return res, fmt.Errorf("%w: %w: get %q: %d of %d replicas answered, %d not found (%s)",
		ErrNotFound, ErrQuorum, key, answered, c.Q.N, notFound, c.Q)
}

// Put sends key=value to key's N replicas and succeeds after W
// acknowledgements. Otherwise it returns an error wrapping ErrNetwork and
// ErrQuorum: the write may still have reached some replicas.
func (c *QuorumClient) Put(ctx context.Context, key, value string) error {
	if len(key) > MaxElemSize || len(value) > MaxElemSize {
		return fmt.Errorf("%w: put of a %d-byte key and a %d-byte value", ErrInvalidArgument, len(key), len(value))
	}
	acks := 0
	answered, err := c.exchange(ctx, key, EncodePut(key, value), func(reply []byte) bool {
		if DecodePutReply(reply) {
			acks++
		}
		return acks >= c.Q.W
	})
	if err != nil || acks >= c.Q.W {
		return err
	}
	return fmt.Errorf("%w: %w: put %q: %d acks of %d answers, %d needed (%s)",
		ErrNetwork, ErrQuorum, key, acks, answered, c.Q.W, c.Q)
}

// exchange sends req to key's replicas on a fresh socket and feeds each
// replica's first reply to done until done returns true, every replica
// answered, or the timeout. It returns how many replicas answered. Errors
// are for failures to open or use the socket (ErrNetwork) and ctx.
func (c *QuorumClient) exchange(ctx context.Context, key string, req []byte, done func(reply []byte) bool) (int, error) {
	if err := c.Q.Validate(); err != nil {
		return 0, err
	}
	replicas := c.Ring.Replicas(key, c.Q.N)
	if c.Route != nil {
		for i, r := range replicas {
			if to, ok := c.Route[r]; ok {
				replicas[i] = to
			}
		}
	}
	conn, err := net.ListenUDP("udp4", nil)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNetwork, err)
	}
	defer conn.Close()
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	if err := conn.SetReadDeadline(deadline); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNetwork, err)
	}
	for _, r := range replicas {
		// A send that fails (no route) is a replica that never answers.
		_, _ = conn.WriteToUDPAddrPort(req, r)
	}
	answered := make([]bool, len(replicas))
	n := 0
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for n < len(replicas) {
		m, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return n, nil
			}
			// ICMP port unreachable from a down server surfaces here on
			// some systems; keep listening for the others until the deadline.
			continue
		}
		i := indexOf(replicas, unmap(from))
		if i < 0 || answered[i] {
			continue // foreign or duplicate reply
		}
		answered[i] = true
		n++
		if done(buf[:m]) {
			return n, nil
		}
	}
	return n, nil
}

// bufPool holds datagram buffers: a fresh 64 KiB buffer per operation
// costs more than the round trip itself (allocation, zeroing, GC).
var bufPool = sync.Pool{New: func() any { b := make([]byte, 1<<16); return &b }}

func indexOf(s []netip.AddrPort, a netip.AddrPort) int {
	for i, x := range s {
		if x == a {
			return i
		}
	}
	return -1
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}
