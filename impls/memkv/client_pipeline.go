package memkv

import (
	"context"
	"errors"

	"github.com/kvbench/kvbench/impls"
)

// The adapter's impls.Pipeliner side, which the driver uses with -w > 1:
// one goroutine sends a client's requests with Send and collects the
// answers in order with Recv, instead of a goroutine per request in flight
// calling Do. Send queues the request on the connection as Do does (the
// flusher writes what accumulated in one write, the reader matches the
// answers); Recv waits for the oldest one's. A Swap (a gets, then a cas or
// an add that depends on its answer) and any request on a window-1 client
// are carried out by Send itself, which keeps their outcome for their Recv.

var _ impls.Pipeliner = (*Client)(nil)

// errNothingSent is Recv's error when no request is pending.
var errNothingSent = errors.New("memcached client: Recv with no request sent")

// pending is a request Send accepted: queued (cl on cn), or already carried
// out (cl nil; resp and err are its outcome).
type pending struct {
	cn   *clientConn
	cl   *call
	resp impls.Response
	err  error
}

// Send submits req (see impls.Pipeliner). A request that cannot be sent
// (an unsupported kind, a bad key, ctx already ended, no connection) fails
// here, definitely.
func (c *Client) Send(ctx context.Context, req impls.Request) error {
	op, ok := opOf(req.Kind)
	if !ok && req.Kind != impls.Swap {
		return errUnsupported(req.Kind)
	}
	if err := checkRequest(ctx, req.Key); err != nil {
		return err
	}
	if !ok || c.window == 1 {
		resp, err := c.Do(ctx, req)
		c.sent.push(pending{resp: resp, err: err})
		return nil
	}
	cn, cl, err := c.send(ctx, op, req.Key, req.Value, 0)
	if err != nil {
		return err
	}
	c.sent.push(pending{cn: cn, cl: cl})
	return nil
}

// Recv returns the outcome of the oldest request sent and not yet
// received (see impls.Pipeliner). If ctx ends first, the connection is
// dropped and the request's outcome is unknown, as are those of the
// requests sent after it on that connection.
func (c *Client) Recv(ctx context.Context) (impls.Response, error) {
	if c.sent.n == 0 {
		return impls.Response{}, errNothingSent
	}
	p := c.sent.pop()
	if p.cl == nil {
		return p.resp, p.err
	}
	cl, err := c.await(ctx, p.cn, p.cl)
	if err != nil {
		return impls.Response{}, err
	}
	return answer(cl)
}

// ring is the FIFO of pending requests, oldest first.
type ring struct {
	buf     []pending
	head, n int
}

func (r *ring) push(p pending) {
	if r.n == len(r.buf) {
		buf := make([]pending, max(8, 2*len(r.buf)))
		for i := 0; i < r.n; i++ {
			buf[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = buf, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = p
	r.n++
}

func (r *ring) pop() pending {
	p := r.buf[r.head]
	r.buf[r.head] = pending{}
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return p
}
