package checker

import (
	"context"
	"math/bits"
	"slices"
	"sort"

	"github.com/anishathalye/porcupine"
	"github.com/kvbench/kvbench/impls"
)

// fastLinearize searches one segment for a linearization with the
// Wing-Gong-Lowe algorithm Porcupine uses (linearize a minimal op, memoize
// the (linearized set, state) pairs already explored, backtrack), plus one
// reduction that is sound for this model: a read (a Get with a known
// answer, or a scan's projected read) that can be linearized now and
// matches the current state is linearized at once, and never retried
// elsewhere. Reads change no state, and every op that must precede such a
// read is already linearized, so any linearization that places it later can
// move it here. With many clients on few keys half the ops are reads and
// this prunes most of the orders Porcupine would try. Two more cuts (see
// pending and unreachable) abandon a prefix as soon as it has overwritten
// a value that an op not yet placed still has to read and no op left
// writes again, or left an op that needs the key absent (present) no
// delete (write) it can follow.
//
// It only ever proves linearizability: found is true with a linearization
// that an independent replay (verifyOrder) accepted. Otherwise (a
// violation, the step budget spent, ctx done) the caller asks Porcupine,
// which stays the authority for every violation and its witness.
func fastLinearize(ctx context.Context, ops []porcupine.Operation, maxSteps int) (found bool) {
	n := len(ops)
	if n == 0 {
		return true
	}
	// Entries: a call and a return per op, in time order (a call before a
	// return at the same instant, as Porcupine orders them).
	type entry struct {
		op         int
		isCall     bool
		t          int64
		prev, next *entry
		match      *entry // the call's return entry
	}
	es := make([]*entry, 0, 2*n)
	for i, o := range ops {
		c := &entry{op: i, isCall: true, t: o.Call}
		r := &entry{op: i, t: o.Return}
		c.match = r
		es = append(es, c, r)
	}
	sort.SliceStable(es, func(a, b int) bool {
		if es[a].t != es[b].t {
			return es[a].t < es[b].t
		}
		return es[a].isCall && !es[b].isCall
	})
	head := &entry{op: -1}
	prev := head
	for _, e := range es {
		prev.next, e.prev = e, prev
		prev = e
	}
	lift := func(e *entry) { // remove a call and its return
		e.prev.next = e.next
		if e.next != nil {
			e.next.prev = e.prev
		}
		r := e.match
		r.prev.next = r.next
		if r.next != nil {
			r.next.prev = r.prev
		}
	}
	unlift := func(e *entry) {
		r := e.match
		r.prev.next = r
		if r.next != nil {
			r.next.prev = r
		}
		e.prev.next = e
		if e.next != nil {
			e.next.prev = e
		}
	}

	linearized := newLinSet(ops)
	type memo struct {
		low         int
		bits, ubits []uint64
		state       *state
	}
	cache := map[uint64][]memo{}
	memoBytes := 0
	seen := func(st *state) bool { // records (linearized, st); reports whether it was there
		low, window := linearized.known.window()
		ubits := linearized.unknown
		h := (st.hash ^ uint64(low)) * 0x100000001b3
		for _, w := range window {
			h = (h ^ w) * 0x100000001b3
			h ^= h >> 29
		}
		for _, w := range ubits {
			h = (h ^ w) * 0x100000001b3
			h ^= h >> 29
		}
		for _, m := range cache[h] {
			if m.low == low && m.state.present == st.present && m.state.value == st.value &&
				slices.Equal(m.bits, window) && slices.Equal(m.ubits, ubits) {
				return true
			}
		}
		cache[h] = append(cache[h], memo{low: low, bits: slices.Clone(window), ubits: slices.Clone(ubits), state: st})
		memoBytes += 8*(len(window)+len(ubits)) + 100 // the bits, the memo, the map's share
		return false
	}
	type frame struct {
		e      *entry
		state  *state
		forced bool // a matching read linearized at once: no alternative to try
	}
	var stack []frame
	st := absent
	in := func(i int) *op { return ops[i].Input.(*op) }
	// A Get, or a Delete that found the key absent, reads: it leaves the
	// state as it is wherever it is placed.
	isRead := func(o *op) bool {
		return !o.unknown && (o.kind == impls.Get || o.kind == impls.Delete && o.found == impls.Absent)
	}
	left := newPending(ops)
	// unreachable reports whether, once op skip has made the state next,
	// an op left that needs the key absent returns before any delete left
	// is called (or, next being absent, one that needs it present returns
	// before any write left is called): then nothing can give it the state
	// it saw. The first such return is near the head of the list, so the
	// scan is short.
	unreachable := func(skip int, next *state) bool {
		if next.present && left.needAbsent == 0 || !next.present && left.needPresent == 0 {
			return false
		}
		for c := head.next; c != nil; c = c.next {
			if c.op == skip {
				continue
			}
			po := &left.ops[c.op]
			switch {
			case c.isCall && (next.present && po.del || !next.present && po.write >= 0):
				return false
			case !c.isCall && (next.present && po.needAbsent || !next.present && po.needPresent):
				return true
			}
		}
		return false
	}

	steps := 0
	e := head.next
	for head.next != nil {
		if steps++; steps > maxSteps || memoBytes > maxFastMemo || steps%4096 == 0 && ctx.Err() != nil {
			return false
		}
		if e == head.next {
			// A minimal read that matches the state is linearized at once.
			var forced *entry
			for c := head.next; c != nil && c.isCall; c = c.next {
				if o := in(c.op); isRead(o) && o.matches(st) {
					forced = c
					break
				}
			}
			if forced != nil {
				left.add(forced.op, -1)
				linearized.set(forced.op)
				stack = append(stack, frame{e: forced, state: st, forced: true})
				lift(forced)
				e = head.next
				continue
			}
		}
		if e.isCall {
			ok, next := step(st, in(e.op))
			if ok {
				linearized.set(e.op)
				left.add(e.op, -1)
				if !left.dead(st, next) && !unreachable(e.op, next) && !seen(next) {
					stack = append(stack, frame{e: e, state: st})
					st = next
					lift(e)
					e = head.next
					continue
				}
				left.add(e.op, 1)
				linearized.clear(e.op)
			}
			e = e.next
			continue
		}
		// A return: the op it closes cannot come later; backtrack past
		// every forced read to the last real choice.
		for {
			if len(stack) == 0 {
				return false
			}
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			linearized.clear(f.e.op)
			left.add(f.e.op, 1)
			st = f.state
			unlift(f.e)
			if !f.forced {
				e = f.e.next
				break
			}
		}
	}
	order := make([]int, len(stack))
	for i, f := range stack {
		order[i] = f.e.op
	}
	return verifyOrder(ops, order)
}

// pending counts, over the ops not linearized yet, those that need the key
// to hold a given value (a Get or Swap that returned it) or to be absent,
// and those that write a given value or delete. It prunes the search: once
// a write replaces value v while an op still needs v and no op left writes
// v again, or makes the key present while an op still needs it absent and
// no delete is left, no extension of the current prefix is a
// linearization. With unique written values (the fuzz mix writes random
// ones) this cuts every branch that overwrote a value too early, which is
// what makes tens of clients on a few keys blow up the plain search.
type pending struct {
	ids                           map[string]int32 // value -> index in need, writes
	need, writes                  []int32
	needAbsent, needPresent, dels int32
	ops                           []pendingOp
}

// pendingOp is what one op needs and writes: value indices, -1 for none;
// whether it needs the key absent, or present whatever its value (a Put
// or Delete that found it), and whether it deletes.
type pendingOp struct {
	need, write                  int32
	needAbsent, needPresent, del bool
}

func newPending(ops []porcupine.Operation) *pending {
	p := &pending{ids: map[string]int32{}, ops: make([]pendingOp, len(ops))}
	id := func(v string) int32 {
		i, ok := p.ids[v]
		if !ok {
			i = int32(len(p.need))
			p.ids[v] = i
			p.need, p.writes = append(p.need, 0), append(p.writes, 0)
		}
		return i
	}
	for i := range ops {
		o := ops[i].Input.(*op)
		po := pendingOp{need: -1, write: -1, needAbsent: !o.unknown && o.found == impls.Absent, del: o.kind == impls.Delete,
			needPresent: !o.unknown && o.found == impls.Present && (o.kind == impls.Put || o.kind == impls.Delete)}
		if !o.unknown && o.found == impls.Present && (o.kind == impls.Get || o.kind == impls.Swap) {
			po.need = id(o.out)
		}
		if o.kind == impls.Put || o.kind == impls.Swap {
			po.write = id(o.after.value)
		}
		p.ops[i] = po
		p.add(i, 1)
	}
	return p
}

// add counts op i as left (d = 1) or linearized (d = -1).
func (p *pending) add(i int, d int32) {
	o := &p.ops[i]
	if o.need >= 0 {
		p.need[o.need] += d
	}
	if o.write >= 0 {
		p.writes[o.write] += d
	}
	if o.needAbsent {
		p.needAbsent += d
	}
	if o.needPresent {
		p.needPresent += d
	}
	if o.del {
		p.dels += d
	}
}

// dead reports whether the step from prev to next leaves an op left that
// can never be linearized (see pending).
func (p *pending) dead(prev, next *state) bool {
	if prev.present && (!next.present || next.value != prev.value) {
		if v, ok := p.ids[prev.value]; ok && p.need[v] > 0 && p.writes[v] == 0 {
			return true
		}
	}
	return next.present && p.needAbsent > 0 && p.dels == 0
}

// linSet is the set of linearized ops of a segment: the ops that returned
// in an opSet, and those whose outcome is unknown in a bitmap of their own.
// An unknown op returns at +infinity, so the search may leave it unplaced
// to the end; in the opSet it would hold the window open from its call on.
type linSet struct {
	known   *opSet
	unknown []uint64
	index   []int32 // per op: its number among the known, or the unknown, ops
	isUnk   []bool
}

func newLinSet(ops []porcupine.Operation) *linSet {
	s := &linSet{index: make([]int32, len(ops)), isUnk: make([]bool, len(ops))}
	var nk, nu int32
	for i := range ops {
		if ops[i].Input.(*op).unknown {
			s.isUnk[i], s.index[i] = true, nu
			nu++
		} else {
			s.index[i] = nk
			nk++
		}
	}
	s.known = newOpSet(int(nk))
	s.unknown = make([]uint64, (nu+63)/64)
	return s
}

func (s *linSet) set(i int) {
	if j := s.index[i]; s.isUnk[i] {
		s.unknown[j/64] |= 1 << (j % 64)
	} else {
		s.known.set(int(j))
	}
}

func (s *linSet) clear(i int) {
	if j := s.index[i]; s.isUnk[i] {
		s.unknown[j/64] &^= 1 << (j % 64)
	} else {
		s.known.clear(int(j))
	}
}

// opSet is a set of ops numbered in call order, all of which return. The search memoizes it at every step, so it is kept as the
// first op not in it (low: every op before is in) and a window of the
// bitmap from low to its last member. Ops beyond low are only those called
// before an op still to place returned: a window of about as many ops as
// run concurrently, whatever the segment's length (an unknown op, which
// does not return, is kept out of it: see linSet). Memoizing the whole
// bitmap cost O(n) bytes per step, O(n²) per segment: 85 clients on one
// key (42 000 ops, never quiescent) needed 5 KB per step.
type opSet struct {
	bits   []uint64
	low, n int // n counts members
}

func newOpSet(n int) *opSet { return &opSet{bits: make([]uint64, (n+63)/64)} }

func (s *opSet) has(i int) bool { return s.bits[i/64]&(1<<(i%64)) != 0 }

func (s *opSet) set(i int) {
	s.bits[i/64] |= 1 << (i % 64)
	s.n++
	for s.low < len(s.bits)*64 && s.has(s.low) {
		s.low++
	}
}

func (s *opSet) clear(i int) {
	s.bits[i/64] &^= 1 << (i % 64)
	s.n--
	s.low = min(s.low, i)
}

// window returns low and the words of the bitmap from low's to the last
// member's; with low they determine the set.
func (s *opSet) window() (low int, words []uint64) {
	left := s.n - s.low // members above low
	w := s.low / 64
	end := w
	if left > 0 {
		left -= bits.OnesCount64(s.bits[w] &^ (1<<(s.low%64) - 1))
		for end = w + 1; left > 0; end++ {
			left -= bits.OnesCount64(s.bits[end])
		}
	}
	return s.low, s.bits[w:end]
}

// verifyOrder replays order independently of the search: every op appears
// once, each step is legal from the initial state, and no op is placed
// before one that returned before it was called.
func verifyOrder(ops []porcupine.Operation, order []int) bool {
	if len(order) != len(ops) {
		return false
	}
	used := make([]uint64, (len(ops)+63)/64)
	st := absent
	maxCall := int64(-1 << 63)
	for _, i := range order {
		if i < 0 || i >= len(ops) || used[i/64]&(1<<(i%64)) != 0 {
			return false
		}
		used[i/64] |= 1 << (i % 64)
		o := ops[i]
		if o.Return < maxCall { // o returned before an earlier-placed op was called
			return false
		}
		maxCall = max(maxCall, o.Call)
		ok, next := step(st, o.Input.(*op))
		if !ok {
			return false
		}
		st = next
	}
	total := 0
	for _, w := range used {
		total += bits.OnesCount64(w)
	}
	return total == len(ops)
}
