package shm

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// MapKey maps a request key to the u32 the protocol carries: a canonical
// decimal u32 ("0", "42", no sign, no leading zeros; the course's workloads)
// is itself; any other string (YCSB's "user6284...") is its 32-bit FNV-1a
// hash. Caveat: distinct strings can collide (for 10^4 random keys the
// chance of at least one collision is about 1%, for 10^5 about 69%); two
// colliding keys share one entry, which a linearizability check sees as a
// violation. Use numeric keys when checking.
func MapKey(s string) uint32 {
	if v, ok := parseU32(s); ok {
		return v
	}
	return fnv1a(s)
}

// MapValue maps a written value to a u32: a canonical decimal u32 is
// itself; any other string (YCSB's long random values) is its 32-bit FNV-1a
// checksum, with 0 replaced by 1. A GET returns the stored number as a
// decimal string, so a checker compares MapValue(written) with what a GET
// returned. The value 0 is indistinguishable from "absent" (the course's GET
// of a missing key returns 0): a GET that reads 0 reports Found = Absent, so
// a PUT of "0" reads back as absent (the course's generator writes values in
// [1, 4e9), so it never does).
func MapValue(s string) uint32 {
	if v, ok := parseU32(s); ok {
		return v
	}
	if h := fnv1a(s); h != 0 {
		return h
	}
	return 1
}

// parseU32 parses a canonical decimal u32.
func parseU32(s string) (uint32, bool) {
	if len(s) == 0 || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if v > 1<<32-1 {
		return 0, false
	}
	return uint32(v), true
}

// fnv1a is the 32-bit FNV-1a hash.
func fnv1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// errClosed is returned by Do on a closed client or cluster.
var errClosed = errors.New("shm: client closed")

// thread is the state of one client thread id: its w status slots, the
// order of its requests and the slots it had to give up. It belongs to the
// cluster and outlives the Client values NewClient returns for the id, so
// a reopened client knows which slots may still receive a late answer.
type thread struct {
	r *region
	// doWait is how Do waits, pipeWait how Send and Recv do: forBusy of
	// the cluster's policy for n*w and for n waiting goroutines.
	doWait, pipeWait waitPolicy
	poller           *poller
	// ring is the cluster's producer lock, which Do with w > 1 and Send
	// take; oneRing the one doOne takes: nil when the cluster's threads
	// have a P each (see newThread).
	ring, oneRing *ringLock
	base          int // offset of the thread's first slot
	w             int

	// lock serializes submission (a channel so that waiting honours ctx).
	// Under it, last is the done channel of the newest request: closed once
	// that request was consumed from its slot or abandoned.
	lock chan struct{}
	last chan struct{}
	// free holds the slot numbers (0..w-1) no request uses, but for those
	// in spare: the slots Recv freed, kept for the next Send (w > 1 only;
	// Send and Recv run from one goroutine, never with Do), which Do hands
	// back to free under spareMu (returnSpare).
	free    chan int
	spare   []int
	spareMu sync.Mutex

	qmu        sync.Mutex
	quarantine []abandoned

	// st is the stopper of the Do holding the slot when w = 1 (doOne).
	st stopper

	// inUse is held shared by every Do of the thread and exclusively by the
	// cluster's Close (one per thread, so that Do calls of different
	// threads do not bounce one cache line).
	inUse sync.RWMutex
}

// abandoned is a slot whose request's caller gave up (ctx) before the
// answer came. The slot is reused only once the answer has arrived, or once
// it is certain that none will (see reclaim).
type abandoned struct {
	slot  int
	epoch uint32 // the server epoch read just after the request was published
}

// newThread makes thread id of n, with w slots.
func newThread(r *region, wait waitPolicy, pl *poller, ring *ringLock, id, n, w int) *thread {
	t := &thread{r: r, poller: pl, ring: ring, oneRing: ring, base: ResOff(id, w, 0), w: w,
		lock: make(chan struct{}, 1), last: make(chan struct{}), free: make(chan int, w)}
	if n <= runtime.GOMAXPROCS(0) {
		// One producing goroutine per thread (Do with w = 1), each on
		// a P of its own (see raiseProcs): a producer descheduled
		// between its claim and its publish is so by the kernel, as a
		// C client's thread is, and the others' yields let it run; no
		// lock, as the C client takes none. (Pipelining threads keep
		// the lock: they submit in bursts, and without it -n 4 -w 16
		// lost a quarter of its throughput, measured.)
		t.oneRing = nil
	}
	t.setWait(wait, n)
	close(t.last)
	for i := range w {
		t.free <- i
	}
	return t
}

// setWait sets the thread's policies from p, for a cluster of n threads.
// A pipelined thread yields at once instead of spinning: when the oldest
// of its requests in flight is not answered yet the server is behind, and
// spinning would take the processor from it (CPU per operation lower at 7
// of 8 interleaved comparisons, 4 rounds each; see doc.go).
func (t *thread) setWait(p waitPolicy, n int) {
	t.doWait, t.pipeWait = forBusy(p, n*t.w), forBusy(p, n)
	t.doWait.YieldAtOnce = true // see waitPolicy.YieldAtOnce
	t.pipeWait.SpinFor = 0
	t.pipeWait.LazyWake = true
}

// ringLock serializes the producers of one process (every thread of a
// cluster): they would otherwise claim entries concurrently and then wait
// for each other to publish in ring order, and a goroutine descheduled
// between its claim and its publish stalls every later one while they spin
// and yield (profiled at -n 4 -w 16: half the client's time). Waiting on
// the lock parks in the Go scheduler instead, so the holder runs at once,
// and the ring's in-order wait remains only for other processes' producers.
// The lock only spares producers that wait: produce is correct with any
// number of concurrent producers (the ring protocol), so a cluster of one
// thread, whose producers its thread already serializes (one goroutine
// pipelining, the holder of the only slot, or Do's submission lock), has
// none (nil). Nor do one-slot Do calls when each thread has a P
// (thread.oneRing).
//
// It is a mutex in the manner of a futex: an uncontended lock and unlock
// are one atomic operation each; a producer that finds it taken spins a
// little (the holder is publishing one entry), then sleeps on a channel,
// so that waiting honours ctx. It used to be a buffered channel alone: at
// -n 2 -w 8 the channel's runtime lock, taken by both pipelining
// goroutines for every request, was a fifth of the process's CPU.
type ringLock struct {
	state atomic.Int32  // 0 free, 1 held, 2 held and a producer may sleep
	wake  chan struct{} // a token for one sleeper, sent by unlock
}

// newRingLock is the producer lock of a cluster of n threads.
func newRingLock(n int) *ringLock {
	if n <= 1 {
		return nil
	}
	return &ringLock{wake: make(chan struct{}, 1)}
}

// ringSpin is how many times lock looks at a taken lock before it sleeps.
const ringSpin = 64

// lock takes the lock, or returns st's error (nothing was submitted).
func (l *ringLock) lock(st stopper) error {
	if l == nil || l.state.CompareAndSwap(0, 1) {
		return nil
	}
	for range ringSpin {
		if l.state.Load() == 0 && l.state.CompareAndSwap(0, 1) {
			return nil
		}
	}
	for l.state.Swap(2) != 0 {
		select {
		case <-l.wake:
		case <-st.ctx.Done():
			return st.ctx.Err()
		case <-st.closing:
			return errClosed
		}
	}
	return nil
}

func (l *ringLock) unlock() {
	if l != nil && l.state.Swap(0) == 2 {
		select {
		case l.wake <- struct{}{}:
		default: // a token is already there
		}
	}
}

// client is one Client for a thread id.
type client struct {
	c      *cluster
	t      *thread
	closed atomic.Bool
	// sent holds the requests Send submitted and Recv has not collected,
	// st the stopper of the Send or Recv under way (pipeline.go).
	sent sentRing
	st   stopper
	// session: the client holds its thread's inUse read lock across its
	// Send and Recv calls while it has requests in flight (see
	// pipeline.go's holdRegion), instead of taking and releasing it in
	// every call.
	session bool
}

var (
	_ impls.Client    = (*client)(nil)
	_ impls.Pipeliner = (*client)(nil)
)

// stopper is what a wait checks besides spinning: the caller's ctx and
// whether the cluster is closing.
type stopper struct {
	ctx     context.Context
	closing <-chan struct{}
}

// Err returns errClosed once the cluster is closing, else ctx's error.
func (s stopper) Err() error {
	select {
	case <-s.closing:
		return errClosed
	default:
		return s.ctx.Err()
	}
}

// Do executes a GET or PUT. Up to w calls may run concurrently; they are
// submitted to the ring in the order they take the submission lock and
// return strictly in that order (the course's in-order completion): a call
// returns only after the previous request of this thread was consumed from
// its slot (or abandoned). Delete, Swap and Scan return ErrUnsupported.
//
// If ctx ends while the request is in the ring or being served, Do returns
// an error wrapping impls.ErrUnknownOutcome and the slot is quarantined
// until its answer arrives (a paused server answers late) or a restarted
// server has drained the ring without answering it (a crashed server lost
// it); the thread keeps working with its other slots meanwhile, and a late
// answer is never taken for a later request's.
func (c *client) Do(ctx context.Context, req impls.Request) (impls.Response, error) {
	d, err := descOf(req)
	if err != nil {
		return impls.Response{}, err
	}
	if c.closed.Load() {
		return impls.Response{}, errClosed
	}
	c.t.inUse.RLock() // the cluster's Close waits for Do calls before it unmaps
	defer c.t.inUse.RUnlock()
	st := stopper{ctx: ctx, closing: c.c.closing}
	if err := st.Err(); err != nil {
		return impls.Response{}, err
	}
	t := c.t
	if t.w > 1 {
		t.returnSpare() // slots Send and Recv used last
	}
	slot, err := t.acquire(st)
	if err != nil {
		return impls.Response{}, err
	}
	if t.w == 1 {
		return t.doOne(st, slot, d)
	}
	off := t.base + slot*DescSize
	d.ResOff = int32(off)

	// Submit under the lock, so the ring order is the completion order. The
	// lock is usually free: try it before a blocking select, which would
	// lock ctx.Done() (often one channel shared by every worker) as well.
	select {
	case t.lock <- struct{}{}:
	default:
		select {
		case t.lock <- struct{}{}:
		case <-ctx.Done():
			t.free <- slot
			return impls.Response{}, ctx.Err()
		case <-st.closing:
			t.free <- slot
			return impls.Response{}, errClosed
		}
	}
	prev, mine := t.last, make(chan struct{})
	epoch, err := t.publish(&st, &t.doWait, t.ring, off, &d)
	if claimedUnpublished(err) {
		// Claimed, not published: it may be yet, if the ring is repaired.
		t.last = mine
		<-t.lock
		return impls.Response{}, t.abandon(slot, epoch, prev, mine, err)
	} else if err != nil {
		<-t.lock
		t.free <- slot
		return impls.Response{}, err // nothing was submitted
	}
	t.last = mine
	<-t.lock

	select {
	case <-prev:
	default:
		if err := waitChan(st, prev); err != nil {
			return impls.Response{}, t.abandon(slot, epoch, prev, mine, err)
		}
	}
	if err := t.await(&st, &t.doWait, off); err != nil {
		return impls.Response{}, t.abandon(slot, epoch, prev, mine, err)
	}
	var res Desc
	err = t.take(slot, off, &res)
	close(mine)
	if err != nil {
		return impls.Response{}, err
	}
	return responseOf(&res, &d, off)
}

// doOne is Do for a thread of one slot, once the caller holds it: that
// serializes the calls, so the ring order is the completion order without
// the submission lock and the done channels, and the thread's stopper is
// the holder's (a stopper of its own would be allocated: see await).
func (t *thread) doOne(st stopper, slot int, d Desc) (impls.Response, error) {
	t.st = st
	r := sentReq{slot: slot, d: d}
	if err := t.submit(&t.st, &t.doWait, t.oneRing, &r); err != nil {
		return impls.Response{}, err
	}
	return t.collect(&t.st, &t.doWait, &r)
}

// descOf is the descriptor of a GET or PUT (its ResOff left to the caller),
// or ErrUnsupported.
func descOf(req impls.Request) (Desc, error) {
	switch req.Kind {
	case impls.Get:
		return Desc{Type: TypeGet, Key: MapKey(req.Key)}, nil
	case impls.Put:
		return Desc{Type: TypePut, Key: MapKey(req.Key), Value: MapValue(req.Value)}, nil
	default:
		return Desc{}, fmt.Errorf("shm %v: %w", req.Kind, impls.ErrUnsupported)
	}
}

// publish marks d's status slot at off and publishes d on the ring, under
// the producer lock ring (nil: none), waiting per p. It returns the server epoch read just after
// (see abandoned) and, on failure, an error for which claimedUnpublished
// holds if the entry may have been claimed but not published (the outcome
// is unknown), any other if nothing was submitted.
func (t *thread) publish(st *stopper, p *waitPolicy, ring *ringLock, off int, d *Desc) (uint32, error) {
	if err := t.r.markSlot(off, d); err != nil {
		return 0, err
	}
	if err := ring.lock(*st); err != nil {
		return 0, err
	}
	epoch, err := t.produceLocked(st, p, d)
	ring.unlock()
	if err != nil && !claimedUnpublished(err) {
		return 0, err
	}
	return epoch, err
}

// produceLocked is produce under the producer lock, and the epoch read
// after it; a fault on the mapping is errFaultSubmit.
func (t *thread) produceLocked(st *stopper, p *waitPolicy, d *Desc) (epoch uint32, err error) {
	defer catchFault(onFault(), &err, errFaultSubmit)
	err = t.r.produce(st, d, p)
	return load(t.r.word(offEpoch)), err
}

// await waits for the answer in the status slot at off: spinning and
// yielding first, then parked through the cluster's poller. (publish and
// await take st by pointer: a stopper converted to the canceller
// interface would be allocated on every call.)
func (t *thread) await(st *stopper, p *waitPolicy, off int) error {
	if ok, err := t.spinReady(st, p, off); err != nil || ok {
		return err
	}
	return t.park(*st, off)
}

// spinReady is region.spinReady; a fault on the mapping is errClientFault.
func (t *thread) spinReady(st *stopper, p *waitPolicy, off int) (ok bool, err error) {
	defer catchFault(onFault(), &err, errClientFault)
	return t.r.spinReady(st, off, p)
}

// take copies the answer out of the slot at off and frees the slot. If the
// access faults the answer is lost (errFaultAnswer); the slot is free all
// the same, as the server answered it already.
func (t *thread) take(slot, off int, res *Desc) error {
	err := t.r.readAnswer(off, res)
	t.free <- slot
	return err
}

// readAnswer copies the answer out of the slot at off into *res (see
// readPayload) and clears ready.
func (r *region) readAnswer(off int, res *Desc) (err error) {
	defer catchFault(onFault(), &err, errFaultAnswer)
	r.readPayload(off, res)
	storeRelease(r.ready(off), 0) // as the C client does: the answer's loads stay before it
	return nil
}

// responseOf is the response to d that the answer res in the slot at off
// gives, or an error if res answers another request (see echoMatches).
func responseOf(res, d *Desc, off int) (impls.Response, error) {
	if !echoMatches(res, d, off) {
		why := errWrongAnswer
		if d.Type == TypeGet {
			why = errWrongAnswerRead // a read changed nothing: its failure is definite
		}
		return impls.Response{}, fmt.Errorf("shm: slot %d answered {req_type=%d k=%d res_off=%d} for {req_type=%d k=%d}: %w",
			off, res.Type, res.Key, res.ResOff, d.Type, d.Key, why)
	}
	if d.Type == TypePut {
		return impls.Response{Found: impls.Unknown}, nil
	}
	if res.Value == 0 {
		return impls.Response{Found: impls.Absent}, nil
	}
	return impls.Response{Found: impls.Present, Value: strconv.FormatUint(uint64(res.Value), 10)}, nil
}

// errWrongAnswer is returned when a server echoed another request's fields
// into a slot: the answer belongs to some other request. The outcome of
// this request is unknown (the server may yet apply and answer it).
var errWrongAnswer = fmt.Errorf("the server answered another request in this slot: %w", impls.ErrUnknownOutcome)

// errWrongAnswerRead is errWrongAnswer for a GET: whatever became of it, a
// read left the table unchanged, so it failed definitely.
var errWrongAnswerRead = errors.New("the server answered another request in this slot")

// Slot marks. Before it submits a request the client fills the fields of
// its status slot that a server may echo with values no echo of this
// request can have: an impossible req_type, the key's complement and
// res_off -1. The course's server writes only v (for a GET) and ready, so
// the marks survive; kvbench's server writes the whole descriptor. After
// the answer each field must hold either its mark (not written) or this
// request's value (echoed): anything else is another request's answer.
const (
	markType   = ^uint32(0)
	markResOff = int32(-1)
)

// markSlot writes the marks for request d into its status slot at off and
// clears ready. The slot is the caller's (no answer for it is pending); the
// plain stores are published by produce's (release) store of p_tail. A fault
// on the mapping is errClientFault (nothing was submitted).
func (r *region) markSlot(off int, d *Desc) (err error) {
	defer catchFault(onFault(), &err, errClientFault)
	r.writePayload(off, &Desc{Type: markType, Key: ^d.Key, Value: d.Value, ResOff: markResOff})
	storeRelease(r.ready(off), 0) // published with p_tail
	return nil
}

// echoMatches reports whether the answer res read from the slot at off can
// be the answer to d: each echoable field holds its mark or d's value.
func echoMatches(res, d *Desc, off int) bool {
	return (res.Type == markType || res.Type == d.Type) &&
		(res.Key == ^d.Key || res.Key == d.Key) &&
		(res.ResOff == markResOff || res.ResOff == int32(off))
}

// waitChan waits for ch (the previous request's done channel) to close, or
// for ctx to end. It does not watch the cluster's closing channel: the
// oldest request of the thread is never here but in spinReady or park,
// which do, and its abandonment closes the chain behind it. It polls a few
// times first, yielding to the other goroutines (the predecessor usually
// completes within a microsecond): a blocking select locks every channel it
// waits on, and ctx.Done() is often one channel shared by every worker.
func waitChan(st stopper, ch <-chan struct{}) error {
	for range 4 {
		runtime.Gosched()
		select {
		case <-ch:
			return nil
		default:
		}
	}
	select {
	case <-ch:
		return nil
	case <-st.ctx.Done():
		return st.ctx.Err()
	}
}

// park hands the wait for the slot at off to the cluster's poller and
// blocks until the answer is there or st stops.
func (t *thread) park(st stopper, off int) error {
	reg, err := t.poller.register(off)
	if reg == nil {
		return err
	}
	select {
	case <-reg.done:
		return nil
	case <-st.ctx.Done():
	case <-st.closing:
	}
	if !t.poller.cancel(reg) {
		return nil // completed meanwhile
	}
	return st.Err()
}

// abandon gives up on a submitted request: its slot is quarantined and its
// turn passes on once its predecessor's has (so later calls still complete
// in order). The returned error wraps ErrUnknownOutcome.
func (t *thread) abandon(slot int, epoch uint32, prev, mine chan struct{}, cause error) error {
	go func() { <-prev; close(mine) }()
	return t.quarantineSlot(slot, epoch, cause)
}

// quarantineSlot gives up on the request submitted in slot: the slot is
// reused only once its fate is known (see reclaim). The returned error
// wraps ErrUnknownOutcome.
func (t *thread) quarantineSlot(slot int, epoch uint32, cause error) error {
	t.qmu.Lock()
	t.quarantine = append(t.quarantine, abandoned{slot: slot, epoch: epoch})
	t.qmu.Unlock()
	return fmt.Errorf("shm: request in the ring: %w (%w)", impls.ErrUnknownOutcome, cause)
}

// acquire returns a free slot, reclaiming quarantined ones when none is.
func (t *thread) acquire(st stopper) (int, error) {
	select {
	case s := <-t.free:
		return s, nil
	default:
	}
	for {
		if t.reclaim() {
			continue
		}
		t.qmu.Lock()
		q := len(t.quarantine)
		t.qmu.Unlock()
		var poll <-chan time.Time
		if q > 0 {
			poll = time.After(time.Millisecond)
		}
		select {
		case s := <-t.free:
			return s, nil
		case <-st.ctx.Done():
			return 0, st.ctx.Err()
		case <-st.closing:
			return 0, errClosed
		case <-poll:
		}
	}
}

// reclaim frees quarantined slots whose fate is now known, and reports
// whether it freed any. A slot is free again when
//   - its ready flag is 1: the late answer arrived (and is dropped), or
//   - the drained word exceeds the epoch read after the request was
//     published: a server that started later has answered everything that
//     was in the ring when it started (see server.start), so an answer not
//     here by now was taken by a dead server and will never come. (This
//     assumes kvbench's rule that a server is killed before it is
//     restarted; a C server never sets the word, so with one only late
//     answers free slots.)
//
// drained is loaded before ready: the server stores ready = 1 before it
// stores drained.
func (t *thread) reclaim() bool {
	t.qmu.Lock()
	defer t.qmu.Unlock()
	drained, ok := tryLoad(t.r.word(offDrained))
	if !ok {
		return false // the file is truncated
	}
	freed := false
	q := t.quarantine[:0]
	for _, a := range t.quarantine {
		rd := t.r.ready(t.base + a.slot*DescSize)
		if v, ok := tryLoad(rd); ok && (v == 1 || drained > a.epoch) && tryStore(rd, 0) {
			t.free <- a.slot
			freed = true
			continue
		}
		q = append(q, a)
	}
	t.quarantine = q
	return freed
}

// Close closes the client: later calls of Do and Send fail (calls under
// way finish); requests sent and not received are given up (quarantined,
// see dropSent). Call it after the last Send or Recv returned. The
// thread's slots and quarantine stay with the cluster for the next
// NewClient of the same id.
func (c *client) Close() error {
	c.closed.Store(true)
	c.dropSent()
	c.releaseRegion()
	return nil
}
