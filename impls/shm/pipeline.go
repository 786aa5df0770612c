package shm

import (
	"context"
	"errors"

	"github.com/kvbench/kvbench/impls"
)

// The client's impls.Pipeliner side: one goroutine submits a thread's
// requests with Send and collects them in order with Recv, as the course's
// C client thread does. Unlike Do it needs no submission lock, no done
// channel per request and no goroutine per request in flight: the order
// of the calls is the ring order and the completion order. Send and Recv
// must not run while Do calls of the same thread are under way (the
// driver uses one or the other).

// sentReq is a request Send submitted: its slot, the slot's offset, the
// descriptor and the server epoch read just after it was published.
type sentReq struct {
	slot, off int
	d         Desc
	epoch     uint32
}

// sentRing is the client's queue of sentReq, oldest first: a ring of a
// power-of-two size (Send holds at most w requests; it grows if ever
// full), filled and read in place. It replaced a fifo.Queue[sentReq],
// whose Push and Pop copied the request by value and took the index
// modulo the length (a division) each.
type sentRing struct {
	buf     []sentReq
	head, n int
}

// Len is the number of requests queued.
func (q *sentRing) Len() int { return q.n }

// next returns the entry the next commit appends, for the caller to fill.
func (q *sentRing) next() *sentReq {
	if q.n == len(q.buf) {
		buf := make([]sentReq, max(4, 2*len(q.buf)))
		for i := range q.n {
			buf[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
		}
		q.buf, q.head = buf, 0
	}
	return &q.buf[(q.head+q.n)&(len(q.buf)-1)]
}

// commit appends the entry next returned.
func (q *sentRing) commit() { q.n++ }

// pop removes the oldest entry (there must be one) and returns it; it
// stays valid until the next call of next.
func (q *sentRing) pop() *sentReq {
	r := &q.buf[q.head]
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	return r
}

// errNothingSent is Recv's error when no request is pending.
var errNothingSent = errors.New("shm: Recv with no request sent")

// Send submits a GET or PUT without waiting for its answer (see
// impls.Pipeliner). It waits only for a free slot (all w of the thread's
// may be in use or quarantined) and for room in the ring, honouring ctx;
// an error then means nothing was submitted. An error wrapping
// impls.ErrUnknownOutcome means the request claimed a ring entry that could
// not be published (a corrupt p_tail): it may be yet, so its slot is
// quarantined.
func (c *client) Send(ctx context.Context, req impls.Request) error {
	d, err := descOf(req)
	if err != nil {
		return err
	}
	if c.closed.Load() {
		return errClosed
	}
	t := c.t
	c.holdRegion()
	defer c.letGo()
	st := c.stopper(ctx)
	if err := st.Err(); err != nil {
		return err
	}
	slot, ok := t.popSpare()
	if !ok {
		if slot, err = t.acquire(*st); err != nil {
			return err
		}
	}
	r := c.sent.next()
	r.slot, r.d = slot, d
	if err := t.submit(st, &t.pipeWait, t.ring, r); err != nil {
		return err
	}
	c.sent.commit()
	return nil
}

// submit publishes d with the slot the caller acquired, waiting per p. An
// error wrapping impls.ErrUnknownOutcome means it claimed a ring entry it
// could not publish (the slot is quarantined); any other, that nothing was
// submitted (the slot is free again).
func (t *thread) submit(st *stopper, p *waitPolicy, ring *ringLock, r *sentReq) error {
	r.off = t.base + r.slot*DescSize
	r.d.ResOff = int32(r.off)
	epoch, err := t.publish(st, p, ring, r.off, &r.d)
	if claimedUnpublished(err) {
		return t.quarantineSlot(r.slot, epoch, err)
	} else if err != nil {
		t.free <- r.slot
		return err
	}
	r.epoch = epoch
	return nil
}

// collect waits per p for the answer to r and frees its slot, or gives r
// up (quarantining the slot) if st stops first.
func (t *thread) collect(st *stopper, p *waitPolicy, r *sentReq) (impls.Response, error) {
	if err := t.await(st, p, r.off); err != nil {
		return impls.Response{}, t.quarantineSlot(r.slot, r.epoch, err)
	}
	var res Desc
	if err := t.take(r.slot, r.off, &res); err != nil {
		return impls.Response{}, err
	}
	return responseOf(&res, &r.d, r.off)
}

// Recv waits for the answer to the oldest request Send submitted (see
// impls.Pipeliner). If ctx ends or the cluster closes first, the request is
// given up: an error wrapping impls.ErrUnknownOutcome, and its slot is
// quarantined until its fate is known (see reclaim).
func (c *client) Recv(ctx context.Context) (impls.Response, error) {
	if c.sent.Len() == 0 {
		return impls.Response{}, errNothingSent
	}
	r := c.sent.pop()
	t := c.t
	c.holdRegion()
	defer c.letGo()
	st := c.stopper(ctx)
	if err := st.Err(); err != nil {
		return impls.Response{}, t.quarantineSlot(r.slot, r.epoch, err) // closed: the region may be unmapped
	}
	if t.w == 1 {
		return t.collect(st, &t.pipeWait, r)
	}
	// collect, keeping the slot for the next Send (spare) instead of
	// handing it back through t.free: two channel operations (a lock and
	// an unlock each) less per request.
	if err := t.await(st, &t.pipeWait, r.off); err != nil {
		return impls.Response{}, t.quarantineSlot(r.slot, r.epoch, err)
	}
	var res Desc
	err := t.r.readAnswer(r.off, &res)
	t.spare = append(t.spare, r.slot)
	if err != nil {
		return impls.Response{}, err
	}
	return responseOf(&res, &r.d, r.off)
}

// popSpare takes a slot Recv kept, if any.
func (t *thread) popSpare() (int, bool) {
	n := len(t.spare)
	if n == 0 {
		return 0, false
	}
	s := t.spare[n-1]
	t.spare = t.spare[:n-1]
	return s, true
}

// returnSpare hands the slots Recv kept back to free, for Do (Do calls
// may run concurrently with each other, never with Send or Recv).
func (t *thread) returnSpare() {
	t.spareMu.Lock()
	for _, s := range t.spare {
		t.free <- s // never blocks: free has room for all w slots
	}
	t.spare = t.spare[:0]
	t.spareMu.Unlock()
}

// stopper returns the client's stopper for ctx: one in the client, not a
// new one per call (see await).
func (c *client) stopper(ctx context.Context) *stopper {
	c.st = stopper{ctx: ctx, closing: c.c.closing}
	return &c.st
}

// holdRegion takes the thread's inUse read lock, which keeps the
// cluster's Close from unmapping the region, unless the client holds it
// already. A client keeps it across calls while it has requests in flight
// (letGo): taking and releasing it in every Send and Recv cost four atomic
// read-modify-writes per request, each of which waited for the stores to
// the ring and the slots before it to reach the server's core (4-7% of
// the throughput at -n 1 -w 16, measured).
func (c *client) holdRegion() {
	if !c.session {
		c.t.inUse.RLock()
		c.session = true
	}
}

// letGo ends a Send or Recv: the client keeps its read lock only while it
// has requests in flight and the cluster is not closing, so Close, which
// waits for the lock, waits at most until the client's next call (see
// cluster.Close).
func (c *client) letGo() {
	if c.sent.Len() > 0 {
		select {
		case <-c.c.closing:
		default:
			return
		}
	}
	c.releaseRegion()
}

// releaseRegion lets go of the read lock if the client holds it.
func (c *client) releaseRegion() {
	if c.session {
		c.session = false
		c.t.inUse.RUnlock()
	}
}

// dropSent gives up every request sent and not received (a client closed
// with requests in flight): their slots are quarantined, so a later client
// of the thread never takes their answers for its own.
func (c *client) dropSent() {
	for c.sent.Len() > 0 {
		r := c.sent.pop()
		_ = c.t.quarantineSlot(r.slot, r.epoch, errClosed)
	}
}
