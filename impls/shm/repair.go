package shm

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"
)

// What the server does when something other than the protocol changes the
// file under it: a hostile or buggy writer scribbling on the ring indices,
// or the client truncating the file (it is the client's to create, truncate
// and remove: the course's client opens it with O_TRUNC on every run).
//
// Detection is per step: consume validates every index it reads (see
// region.consume) and returns corrupt instead of taking garbage or waiting
// forever; a truncated file makes the next access fault, which the server
// threads turn into a panic (debug.SetPanicOnFault) and recover. Either way
// the thread calls fix, which takes every thread's gate, so it has the
// consumer indices and the mapping to itself, and then:
//   - after a fault, waits until the file at the path is a whole region
//     again (the same file grown back, or a new one) and maps it afresh;
//   - while p_tail or p_head is out of range or order (only producers
//     may write them), waits for the client to repair or recreate the
//     ring, sleeping, so that a broken ring costs no CPU;
//   - sets c_head back to c_tail, which hands back entries claimed by
//     threads that left their step; if c_tail and c_head were out of range
//     or order, both are set from the server's own copy of c_tail instead,
//     counted as a repair (summary on exit, first few on stderr).
//
// Every wait looks at the stop flag, so SIGTERM works throughout.

// errFault is returned by guarded when the mapping faulted.
var errFault = errors.New("the shared file was truncated under the mapping")

// isFault reports whether a recovered panic value is a memory fault at an
// address (what SetPanicOnFault turns a SIGBUS or SIGSEGV into).
func isFault(e any) bool {
	_, ok := e.(interface{ Addr() uintptr })
	return ok
}

// guarded runs f, turning a fault on the mapping into errFault.
func (s *server) guarded(f func()) (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if e := recover(); e != nil {
			if !isFault(e) {
				panic(e)
			}
			err = errFault
		}
	}()
	f()
	return nil
}

// maxFixWait is the longest sleep between two looks while the server waits
// for a usable ring or file.
const maxFixWait = 100 * time.Millisecond

// fix repairs the ring (and, after a fault, the mapping) with every gate
// held; see the comment at the top of this file. It returns when the ring
// is usable again or the server stops. gen is the number of remaps before
// the step that failed: if another thread has mapped the file again since,
// a fault needs no second remap.
func (s *server) fix(remap bool, gen uint64) {
	s.fixMu.Lock()
	defer s.fixMu.Unlock()
	s.fixing.Store(true)
	defer s.fixing.Store(false)
	for i := range s.gates {
		s.gates[i].Lock()
	}
	defer func() {
		for i := range s.gates {
			s.gates[i].Unlock()
		}
	}()
	if s.remaps.Load() != gen {
		remap = false
	}
	delay := time.Millisecond
	waiting := false
	for !s.stop.Load() {
		if remap {
			if !s.remap() {
				return
			}
			remap = false
		}
		var ok bool
		if err := s.guarded(func() { ok = s.repairIndices(&waiting) }); err != nil {
			remap = true
			continue
		}
		if ok {
			return
		}
		sleep(delay)
		delay = min(2*delay, maxFixWait)
	}
}

// repairIndices makes the consumer indices consistent (every thread is out
// of its step). If the shared c_tail and c_head are in order with the
// producers' indices, with at most one claim (of at most serverBatch
// entries) per thread between them, they
// are kept (the owner may have reinitialized the ring): c_head = c_tail
// hands back the entries that threads claimed and left without releasing
// them. Otherwise something else wrote them, and the server's own copy of
// c_tail (only this server stores c_tail, releases happen in ring order,
// so every entry from it on was claimed and left, or not taken yet) is the
// truth: c_tail = c_head = that copy, counted as a repair. It returns false
// while the producers' indices are out of range or out of order (p_tail
// not between c_tail and p_head): only the client can repair those.
// *waiting says whether that was reported already.
func (s *server) repairIndices(waiting *bool) bool {
	r := s.r
	ct, ch, pt, ph := load(r.cTail()), load(r.cHead()), load(r.pTail()), load(r.pHead())
	base := ct
	trusted := ordered(ct, ch, pt, ph) && dist(ct, ch) <= uint32(len(s.gates))*serverBatch
	if !trusted {
		base = s.tail.Load()
	}
	if pt >= RingSize || ph >= RingSize || dist(base, pt) > dist(base, ph) {
		if !*waiting {
			*waiting = true
			s.repairs.Add(1)
			s.logf("p_tail=%d p_head=%d (c_tail %d): producer indices out of range or order; waiting for the client to repair or recreate the ring",
				pt, ph, base)
		}
		return false
	}
	if !trusted {
		if !*waiting {
			s.repairs.Add(1)
		}
		s.logf("corrupt consumer indices c_tail=%d c_head=%d (p_tail=%d p_head=%d): reset to %d", ct, ch, pt, ph, base)
	}
	s.tail.Store(base)
	store(r.cTail(), base)
	store(r.cHead(), base)
	wakeWaiters(r.cTail(), r.word(offCTailWaiters))
	return true
}

// remap waits until the file at the path holds a whole region again and
// maps it in place of the old mapping (every gate is held). It returns
// false if the server stops first.
func (s *server) remap() bool {
	s.logf("%s was truncated under the mapping (%d bytes mapped): waiting for the client to recreate it", s.o.File, s.r.size())
	delay := time.Millisecond
	for !s.stop.Load() {
		if st, err := os.Stat(s.o.File); err == nil && validSize(st.Size()) {
			if nr, err := mapFile(s.o.File); err == nil {
				_ = s.r.unmap()
				s.r.mem = nr.mem
				if err := s.guarded(s.start); err == nil {
					s.remaps.Add(1)
					s.logf("%s mapped again (%d bytes, epoch %d)", s.o.File, s.r.size(), s.epoch)
					return true
				}
			}
		}
		sleep(delay)
		delay = min(2*delay, maxFixWait)
	}
	return false
}

// maxLogged bounds the stderr lines about repairs.
const maxLogged = 16

// logf reports a repair on stderr (the first maxLogged, then only counts).
func (s *server) logf(format string, args ...any) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.logged++
	if s.logged > maxLogged {
		return
	}
	fmt.Fprintf(s.log, "shm server: "+format+"\n", args...)
	if s.logged == maxLogged {
		fmt.Fprintf(s.log, "shm server: further repairs are only counted\n")
	}
}
