package shm

import (
	"fmt"
	"sync/atomic"

	"github.com/kvbench/kvbench/impls"
)

// canceller is what a wait that may give up looks at: a context.Context, or
// a client's stopper (its caller's ctx plus the cluster's Close).
type canceller interface{ Err() error }

// The ring index protocol of specs/shm.md, on the mapped words.
//
// Memory ordering. Every index word (p_head, p_tail, c_head, c_tail) and
// every ready flag is read with atomic.Load and written with atomic.Store,
// CompareAndSwap or Swap; Go's sync/atomic operations are sequentially
// consistent, which is at least the acquire/release pairing the protocol
// needs (and on amd64 a Store is an XCHG, a full fence). Descriptor payloads
// are written and read with plain accesses, and each is published by exactly
// one atomic store that the reader observes with an atomic load before it
// reads the payload:
//
//   - A producer writes buffer[h] after its CAS on p_head and before its
//     store p_tail = next(h). A consumer reads buffer[h] only after its load
//     of p_tail returned a value past h. Producers publish in index order
//     (each waits for p_tail == h, i.e. for its predecessor's store), so
//     seeing p_tail past h means every producer up to h has stored, and each
//     of those stores followed its payload writes: the payload is visible.
//   - A consumer copies buffer[h] out before its store c_tail = next(h); a
//     producer writes buffer[h] again (a lap later) only after a load of
//     c_tail showed the entry free, so a payload is never overwritten while
//     it is being read.
//   - The server writes the result payload into the status slot and then
//     swaps ready to 1; the client loads ready == 1 before it reads the
//     payload, and stores ready = 0 only after it has copied it out.
//
// The other process is just another thread for these arguments: both map
// the same physical pages, and the hardware's coherence and the fences the
// atomics compile to are the same across processes. A C peer that uses the
// template's C11 atomics or __sync builtins pairs with ours the same way.
//
// Known limit of the protocol (shared with the course template, because
// indices are stored modulo 1024 and cannot carry a generation): if a
// producer is descheduled between its load of p_head and its CAS while
// exactly a multiple of 1024 other requests pass through a full ring, the
// CAS succeeds on a stale view (ABA). It needs a thread to sleep across
// 1024 round trips between two instructions; we accept it.

// errUnpublished is returned by produce when it claimed an entry but p_tail
// went out of range (something other than the protocol wrote it), so the
// entry cannot be published in turn; whoever repairs the ring may still
// publish it, so the outcome is unknown.
var errUnpublished = fmt.Errorf("p_tail out of range: the request cannot be published: %w", impls.ErrUnknownOutcome)

// produce publishes d on the ring. While the ring is full, or p_head or
// c_tail is out of range, it waits and honours ctx (returning ctx's error:
// nothing was submitted). Once it has claimed an entry it no longer looks
// at ctx, unless p_tail is out of range (then errUnpublished): a claimed
// entry that is never published would stall every later producer, so it
// waits (briefly, for earlier producers) and publishes.
func (r *region) produce(ctx canceller, d *Desc, p *waitPolicy) error {
	pHead, pTail, cTail := r.pHead(), r.pTail(), r.cTail()
	b := backoff{p: p}
	woke := false
	for {
		h := load(pHead)
		ct := load(cTail)
		if next(h) == ct || h >= RingSize || ct >= RingSize {
			if p.LazyWake && !woke {
				r.wakeServer() // our own lazy publishes may be what it waits for
				woke = true
			}
			if b.step() {
				if err := ctx.Err(); err != nil {
					return err
				}
				if b.parking() {
					b.park(cTail, ct, r.word(offCTailWaiters))
				}
			}
			continue
		}
		if !atomic.CompareAndSwapUint32(pHead, h, next(h)) {
			continue
		}
		off := bufOff(h)
		r.writePayload(off, d)
		*r.ready(off) = 0 // the course submits with ready = 0
		// Wait for earlier producers to publish. Never park here: the one
		// we wait for has claimed its entry and is a few instructions from
		// publishing, but it may be a goroutine of this process that the Go
		// scheduler descheduled; parking in FUTEX_WAIT would hold a Go P in
		// the kernel, so with two Ps it could not run again until the
		// runtime's sysmon took a P back (measured: -n 40 runs fell from
		// ~300 000 to 1 000-10 000 ops/s, both processes mostly idle).
		// Yielding lets it run at once.
		publish := *p
		publish.Park = parkNone
		if err := r.awaitPublish(ctx, h, &publish); err != nil {
			return err
		}
		if p.LazyWake {
			storeRelease(pTail, next(h))
			return nil
		}
		store(pTail, next(h))
		// Wake parked server threads only if none is awake: one that is
		// will see the request. (Sequentially consistent: a thread
		// decrements offAwake before it loads p_tail to park, so if this
		// load sees it awake, that load sees the new p_tail.) A parked
		// thread woken for every request found it taken by its sibling
		// most of the time: a FUTEX_WAKE and a context switch per request
		// at -n 1 -w 1.
		if load(r.word(offAwake)) == 0 {
			wakeWaiters(pTail, r.word(offPTailWaiters))
		}
		return nil
	}
}

// wakeServer wakes the parked server threads if none is awake, for the
// requests published with waitPolicy.LazyWake. The read-modify-write of
// offAwake (adding 0) orders the release stores of p_tail before it
// against the server's decrement of offAwake before it parks on p_tail:
// either this sees the decrement (and wakes) or the parking thread's
// futex sees the new p_tail.
func (r *region) wakeServer() {
	if atomic.AddUint32(r.word(offAwake), 0) == 0 {
		wakeWaiters(r.pTail(), r.word(offPTailWaiters))
	}
}

// consumeResult says how consume ended.
type consumeResult uint8

const (
	// consumed: a descriptor was taken and released.
	consumed consumeResult = iota
	// halted: quit() said to give up (the server stops, or another thread
	// wants the consumer side to itself). A claimed entry may be left
	// unreleased; repair hands it back.
	halted
	// corrupt: an index was out of range or out of order (something other
	// than the protocol wrote it); nothing was taken, a claimed entry may be
	// left unreleased. The caller must fix the consumer indices (see
	// server.fix) before consuming again.
	corrupt
)

// consumer is what consume needs besides the region.
type consumer struct {
	// quit says to give up waiting (checked now and then while waiting).
	quit func() bool
	// threads is the number of threads consuming (only one server
	// consumes a file, each of its threads holding at most one claim).
	threads uint32
	wait    *waitPolicy
	// released numbers the descriptors released from the ring, in ring
	// order (incremented while the thread holds the release turn, so it is
	// exact).
	released *atomic.Uint64
	// tail is the server's own copy of c_tail: the last value a thread of
	// this process stored there (see server.fix).
	tail *atomic.Uint32
	// release is how a thread waits for its turn to release (see
	// releaseWait); nil means wait.
	release *waitPolicy
	// batch is the most entries one claim takes (see consumeBatch); every
	// consumer of the ring must use the same (0 means 1).
	batch uint32
}

// maxBehind is the most entries c_tail may lag behind a claim: every other
// thread holds at most one claim of at most batch entries.
func (c *consumer) maxBehind() uint32 { return c.threads * max(c.batch, 1) }

// releaseWait is p for awaitRelease: yield at once, no spinning phase. The
// thread it waits for is a few instructions from its release, so when that
// thread runs the first checks see it; when the wait is longer, that thread
// was descheduled, and spinning only keeps it off the processor (profiled,
// C client at -n 1 -w 8 against 2 server threads: 72% of the server's CPU
// in awaitRelease, most of it spinning; the C server yields at once).
func releaseWait(p waitPolicy) waitPolicy {
	p.SpinFor = 0
	return p
}

// ordered reports whether indices loaded in the order c_tail, c_head,
// p_tail, p_head can come from a ring that follows the protocol: all in
// range, and c_tail <= c_head <= p_tail <= p_head going forward from c_tail.
// Each index only moves forward and never passes the next one in this
// order, so loads in this order always see them ordered, except when a
// whole lap passes between the first and the last load (then it is a false
// alarm, which server.fix recognizes and treats as nothing).
func ordered(ct, ch, pt, ph uint32) bool {
	return ct < RingSize && ch < RingSize && pt < RingSize && ph < RingSize &&
		dist(ct, ch) <= dist(ct, pt) && dist(ct, pt) <= dist(ct, ph)
}

// dist is the number of steps from index a forward to index b.
func dist(a, b uint32) uint32 { return (b + RingSize - a) % RingSize }

// consume takes the next descriptor off the ring. Every index it reads is
// validated first, every time (see ordered), and, while it waits for its
// turn to release, c_tail must stay in range and at most threads-1 entries
// behind its own claim. A violation returns corrupt instead of consuming
// garbage or waiting forever. While the ring is empty or it waits for its
// turn it backs off per c.wait and looks at c.quit now and then.
func (r *region) consume(c consumer) (d Desc, ordinal uint64, res consumeResult) {
	var buf [1]Desc
	c.batch = 1
	_, ordinal, res = r.consumeBatch(c, buf[:])
	return buf[0], ordinal, res
}

// consumeBatch is consume taking up to len(buf) (at most c.batch) entries
// with one claim: a CAS of c_head past all of them, one copy, one wait for
// the turn to release and one store of c_tail. It returns how many it took
// into buf, the ordinal of the first, and how it ended. Claiming what is
// queued at once, where the course's server claims one entry at a time,
// spares a deep window's requests a CAS, a release turn (whose wait for a
// descheduled sibling is where two server threads sharing two cores with
// the client yielded most) and a c_tail store each; the spec's protocol is
// the case of one entry, and producers look only at c_tail.
func (r *region) consumeBatch(c consumer, buf []Desc) (n int, ordinal uint64, res consumeResult) {
	cHead, cTail, pTail, pHead := r.cHead(), r.cTail(), r.pTail(), r.pHead()
	limit := uint32(min(len(buf), int(max(c.batch, 1))))
	b := backoff{p: c.wait}
	for {
		ct := load(cTail)
		h := load(cHead)
		pt := load(pTail)
		if h == pt {
			// Empty: p_head is read (and checked) only when there is
			// something to claim. Read on every check, its line was
			// shared with this thread whenever a producer's CAS wanted
			// it, a transfer per request on the producer's path.
			if ct >= RingSize || h >= RingSize {
				return 0, 0, corrupt
			}
			if b.step() {
				if c.quit() {
					return 0, 0, halted
				}
				if b.parking() {
					awake := r.word(offAwake)
					atomic.AddUint32(awake, ^uint32(0))
					b.park(pTail, pt, r.word(offPTailWaiters))
					atomic.AddUint32(awake, 1)
				}
			}
			continue
		}
		if !ordered(ct, h, pt, load(pHead)) {
			return 0, 0, corrupt
		}
		k := min(dist(h, pt), limit)
		end := (h + k) % RingSize
		if !atomic.CompareAndSwapUint32(cHead, h, end) {
			continue
		}
		if end != pt && b.phase == 2 {
			// Back from a park with more work queued: wake a parked
			// sibling, which a C client never does.
			wakeWaiters(pTail, r.word(offPTailWaiters))
		}
		for i := range k {
			r.readDesc(bufOff(h+i), &buf[i])
		}
		if res := r.awaitRelease(h, c); res != consumed {
			return 0, 0, res
		}
		ordinal = c.released.Add(uint64(k)) - uint64(k)
		// The copy first: the next thread's store (after it sees c_tail
		// reach its claim) then always lands after ours.
		c.tail.Store(end)
		store(cTail, end)
		wakeWaiters(cTail, r.word(offCTailWaiters))
		return int(k), ordinal, consumed
	}
}

// awaitRelease waits until c_tail == h, the consumer's turn to release its
// claim from h. c_tail must stay in range and less than c.maxBehind()
// entries behind h.
func (r *region) awaitRelease(h uint32, c consumer) consumeResult {
	cTail := r.cTail()
	b := backoff{p: c.wait}
	if c.release != nil {
		b.p = c.release
	}
	for {
		v := load(cTail)
		if v == h {
			return consumed
		}
		if v >= RingSize || dist(v, h) >= c.maxBehind() {
			return corrupt
		}
		if b.step() {
			if c.quit() {
				return halted
			}
			if b.parking() {
				b.park(cTail, v, r.word(offCTailWaiters))
			}
		}
	}
}

// awaitPublish waits until p_tail == h, the producer's turn to publish its
// claim h. It gives up only when p_tail is out of range and ctx is done.
func (r *region) awaitPublish(ctx canceller, h uint32, p *waitPolicy) error {
	pTail := r.pTail()
	b := backoff{p: p}
	for {
		v := load(pTail)
		if v == h {
			return nil
		}
		if b.step() {
			if v >= RingSize && ctx.Err() != nil {
				return errUnpublished
			}
			if b.parking() {
				b.park(pTail, v, r.word(offPTailWaiters))
			}
		}
	}
}

// answer posts the result d into the status slot at d.ResOff (which the
// caller validated): payload first, then ready = 1. If the client's poller
// watches the slot (ready was readyParked) it is woken through the client
// wake word (see poller).
func (r *region) answer(d Desc) {
	off := int(d.ResOff)
	r.writePayload(off, &d)
	if atomic.SwapUint32(r.ready(off), 1) == readyParked {
		wake := r.word(offClientWake)
		atomic.AddUint32(wake, 1)
		futexWake(wake, 1)
	}
}

// spinReady spins and then yields on the ready word of the status slot at
// off. It returns true once ready == 1, or false when the policy says to
// park (the caller hands the wait to its poller), or ctx's error.
func (r *region) spinReady(ctx canceller, off int, p *waitPolicy) (bool, error) {
	rd := r.ready(off)
	b := backoff{p: p}
	for {
		if load(rd) == 1 {
			return true, nil
		}
		if p.LazyWake && b.phase == 0 && b.n == 0 {
			r.wakeServer() // first miss: the request may be published lazily
		}
		if !b.step() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if b.parking() {
			return false, nil
		}
	}
}

// repair makes the consumer side consistent when a server starts: entries
// claimed (c_head advanced) but not released (c_tail not advanced) by a
// consumer that died are handed back by setting c_head = c_tail, so this
// server takes them again instead of waiting forever for their release.
// Call it only when no other consumer is running on the file.
func (r *region) repair() {
	store(r.cHead(), load(r.cTail()))
}

// indicesValid reports whether all four indices are in [0, RingSize) (a
// file written by something else may hold anything).
func (r *region) indicesValid() bool {
	for _, w := range []*uint32{r.pHead(), r.pTail(), r.cHead(), r.cTail()} {
		if load(w) >= RingSize {
			return false
		}
	}
	return true
}
