package memkv

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/kvbench/kvbench/impls"
)

// The adapter's impls.Pipeliner side, which the driver uses with -w > 1:
// one goroutine sends a client's requests with Send and collects the
// answers in order with Recv, instead of a goroutine per request in flight
// calling Do. On a connection no Do has used (no reader or flusher
// goroutine yet), that goroutine drives the socket itself, as the
// course's C client does: Send appends the request to the connection's
// output, and Recv, when it has no answer buffered, writes all that
// accumulated and waits for the answers (one write and one read carry
// many requests; the write goes from inside RawConn.Read, see
// client_solo.go). Once Do has used the connection, Send queues requests
// for the flusher and Recv waits for the reader, as Do does. A Swap (a
// gets, then a cas or an add that depends on its answer) and any request
// on a window-1 client are carried out by Send itself, which keeps their
// outcome for their Recv; a Swap first receives the requests pending
// before it, as Do cannot share the socket with them.

var _ impls.Pipeliner = (*Client)(nil)

var (
	// errNothingSent is Recv's error when no request is pending.
	errNothingSent = errors.New("memcached client: Recv with no request sent")
	// errInlinePending: Do while requests Send wrote itself await Recv.
	errInlinePending = errors.New("memcached client: Do with requests sent by Send not yet received")
)

// pending is a request Send accepted: on cn (cl; inline when Recv writes
// it and reads its answer itself), or already carried out (cl nil; resp
// and err are its outcome).
type pending struct {
	cn     *clientConn
	cl     *call
	inline bool
	resp   impls.Response
	err    error
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
		c.settle(ctx)
		resp, err := c.Do(ctx, req)
		c.sent.Push(pending{resp: resp, err: err})
		return nil
	}
	if p, err := c.sendInline(ctx, op, req.Key, req.Value); err != nil || p.cl != nil {
		if err == nil {
			c.sent.Push(p)
		}
		return err
	}
	cn, cl, err := c.send(ctx, op, req.Key, req.Value, 0)
	if err != nil {
		return err
	}
	c.sent.Push(pending{cn: cn, cl: cl})
	return nil
}

// sendInline appends the request to the output of a connection no Do has
// used, for Recv to write; it returns a zero pending (and no error) when
// Do has used the connection. Before the first request of a burst on a
// connection idle for soloIdleCheck, it checks that the server has not
// hung up (see Client).
func (c *Client) sendInline(ctx context.Context, op byte, key, value string) (pending, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cn, err := c.connLocked(ctx)
	if err != nil || cn.started {
		return pending{}, err
	}
	if c.inline == 0 && cn.solo.idle() && cn.peerClosed() {
		c.breakLocked(cn)
		if cn, err = c.connLocked(ctx); err != nil || cn.started {
			return pending{}, err
		}
	}
	cl := callPool.Get().(*call)
	cl.op, cl.key = op, key
	cn.out = appendRequest(cn.out, op, key, value, 0)
	c.inline++
	return pending{cn: cn, cl: cl, inline: true}, nil
}

// Recv returns the outcome of the oldest request sent and not yet
// received (see impls.Pipeliner). If ctx ends first, the connection is
// dropped and the request's outcome is unknown, as are those of the
// requests sent after it on that connection.
func (c *Client) Recv(ctx context.Context) (impls.Response, error) {
	if c.sent.Len() == 0 {
		return impls.Response{}, errNothingSent
	}
	p := c.sent.Pop()
	if p.inline {
		return c.recvInline(ctx, p.cn, p.cl)
	}
	if p.cl == nil {
		return p.resp, p.err
	}
	cl, err := c.await(ctx, p.cn, p.cl)
	if err != nil {
		return impls.Response{}, err
	}
	return answer(cl)
}

// recvInline reads the answer to cl, a request sendInline put on cn: when
// no answer is buffered, it first writes all of cn's output (cl's request
// among it, if not written yet). If the connection fails or ctx ends
// (which closes it, see watchLocked), cl's outcome is unknown, and so is
// that of every request still pending on cn.
func (c *Client) recvInline(ctx context.Context, cn *clientConn, cl *call) (impls.Response, error) {
	c.mu.Lock()
	c.inline--
	broken := cn.broken
	if !broken {
		c.watchLocked(ctx)
	}
	c.mu.Unlock()
	var err error = net.ErrClosed
	if !broken {
		s := cn.solo
		staged := cn.br.Buffered() == 0
		if staged {
			s.stage(cn.out, false)
		}
		err = readResponse(cn.br, cl)
		c.busy.Store(0)
		switch {
		case staged && len(s.req) > 0 && err == nil:
			err = errProtocol // cannot happen: the first Read writes it all
		case staged:
			cn.out = cn.out[:0]
		}
		s.markAnswered()
	}
	if err != nil {
		c.breakConn(cn)
		err = fmt.Errorf("memcached client: %s %q: %w: %w", opName(cl.op), cl.key, impls.ErrUnknownOutcome, ctxOr(ctx, err))
		release(cl)
		return impls.Response{}, err
	}
	if cl.err != nil {
		err := cl.err
		release(cl)
		return impls.Response{}, err
	}
	return answer(cl)
}

// settle receives every pending request Recv would write or read itself,
// keeping the outcomes for their Recv, so that Do may use the connection.
func (c *Client) settle(ctx context.Context) {
	for i := 0; i < c.sent.Len() && c.inline > 0; i++ {
		p := c.sent.At(i)
		if p.inline {
			resp, err := c.recvInline(ctx, p.cn, p.cl)
			*p = pending{resp: resp, err: err}
		}
	}
}
