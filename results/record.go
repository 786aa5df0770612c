package results

import (
	"cmp"
	"slices"
	"strings"
	"unsafe"

	"github.com/kvbench/kvbench/impls"
)

// A recorded history is held compactly while a run records it: a Recorder
// per worker keeps its operations as fixed-size records in chunks that never
// move (no append doubling, no copy), copies strings into a byte arena
// (exact lengths, one allocation per chunk instead of one per string), and
// shares repeated strings:
//   - keys (and scan bounds) are interned, up to maxInterned per recorder;
//   - a value equal to the last value this recorder saw for the same key
//     (a read returning what an earlier read or write of it returned, a
//     scan's unchanged pairs) shares that copy;
//   - error texts are interned, up to maxInterned.
//
// A History is the recorders of one run; Events materializes it, sorted by
// call time, as the []Event that WriteHistory and the checker take.
// Materialized events share the recorders' strings (no copies).

const (
	maxInterned    = 4096    // distinct keys (or errors) a recorder interns
	minRecordChunk = 16      // records in a recorder's first chunk
	maxRecordChunk = 256     // records per chunk once grown (24 KiB)
	minArenaChunk  = 1 << 10 // bytes in a recorder's first string chunk
	maxArenaChunk  = 32 << 10
	pairChunk      = 256 // pairs per chunk (8 KiB)
)

// record is one operation: 96 bytes on 64-bit platforms. text is the
// response value of a completed op or the error text of a failed or
// unknown one (the driver keeps no response for those).
type record struct {
	call, ret             int64
	key, value, end, text string
	pairs                 pairRef
	kind                  impls.Kind
	found                 impls.Found
	outcome               uint8 // index in outcomes
}

var outcomes = [...]Outcome{OK, Fail, Unknown}

// pairRef locates a scan's pairs: n pairs from off in pair chunk chunk.
type pairRef struct{ chunk, off, n uint32 }

// keyInfo is an interned key and the last value recorded for it.
type keyInfo struct{ key, last string }

// Recorder records one worker's operations, in the order it finishes them.
// It is not safe for concurrent use: each worker has its own.
type Recorder struct {
	client int
	chunks [][]record
	n      int
	arena  []byte // the current string chunk; strings point into it
	pairs  [][]impls.Pair
	keys   map[string]*keyInfo
	errs   map[string]string
}

// NewRecorder returns an empty recorder whose events carry client.
func NewRecorder(client int) *Recorder {
	return &Recorder{client: client, keys: map[string]*keyInfo{}, errs: map[string]string{}}
}

// Len returns the number of recorded operations.
func (r *Recorder) Len() int { return r.n }

// Add records one operation sent at call and answered (or given up on) at
// ret, in nanoseconds since the run's epoch. A nil err is outcome OK with
// resp kept; otherwise the outcome is Unknown if impls.IsUnknown(err), else
// Fail, with err's text and no response.
func (r *Recorder) Add(req impls.Request, resp impls.Response, call, ret int64, err error) {
	rec := r.next()
	var k *keyInfo
	*rec = record{call: call, ret: ret, kind: req.Kind}
	rec.key, k = r.key(req.Key)
	rec.end, _ = r.key(req.End)
	switch {
	case err == nil:
		// The response first: a Swap's previous value, then its new one,
		// which is what the key's next read most likely returns.
		rec.found = resp.Found
		rec.text = r.value(k, resp.Value)
		rec.pairs = r.addPairs(resp.Pairs)
	case impls.IsUnknown(err):
		rec.outcome, rec.text = 2, r.errText(err.Error())
	default:
		rec.outcome, rec.text = 1, r.errText(err.Error())
	}
	rec.value = r.value(k, req.Value)
}

// next returns the slot of the next record, starting a chunk when the last
// one is full; chunks grow from minRecordChunk to maxRecordChunk records,
// so an idle worker costs little and a busy one never copies.
func (r *Recorder) next() *record {
	last := len(r.chunks) - 1
	if last < 0 || len(r.chunks[last]) == cap(r.chunks[last]) {
		size := minRecordChunk
		if last >= 0 {
			size = min(2*cap(r.chunks[last]), maxRecordChunk)
		}
		r.chunks = append(r.chunks, make([]record, 0, size))
		last++
	}
	r.chunks[last] = r.chunks[last][:len(r.chunks[last])+1]
	r.n++
	return &r.chunks[last][len(r.chunks[last])-1]
}

// str returns a copy of s in the arena. A string too big for a chunk gets
// an allocation of its own.
func (r *Recorder) str(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > cap(r.arena)-len(r.arena) {
		if len(s) > maxArenaChunk/4 {
			return strings.Clone(s)
		}
		size := minArenaChunk
		if cap(r.arena) > 0 {
			size = min(2*cap(r.arena), maxArenaChunk)
		}
		r.arena = make([]byte, 0, max(size, len(s)))
	}
	off := len(r.arena)
	r.arena = append(r.arena, s...)
	return unsafe.String(&r.arena[off], len(s))
}

// key interns key s; it returns its shared copy and, while the table has
// room, its entry (nil once maxInterned keys are interned: then s is copied).
func (r *Recorder) key(s string) (string, *keyInfo) {
	if s == "" {
		return "", nil
	}
	if k, ok := r.keys[s]; ok {
		return k.key, k
	}
	if len(r.keys) >= maxInterned {
		return r.str(s), nil
	}
	k := &keyInfo{key: r.str(s)}
	r.keys[k.key] = k
	return k.key, k
}

// value returns a copy of v, shared with the last value recorded for key k
// when they are equal.
func (r *Recorder) value(k *keyInfo, v string) string {
	if v == "" {
		return ""
	}
	if k != nil && k.last == v {
		return k.last
	}
	s := r.str(v)
	if k != nil {
		k.last = s
	}
	return s
}

// errText interns an error text (failures repeat the same few).
func (r *Recorder) errText(s string) string {
	if t, ok := r.errs[s]; ok {
		return t
	}
	t := r.str(s)
	if len(r.errs) < maxInterned {
		r.errs[t] = t
	}
	return t
}

// addPairs stores a scan's pairs contiguously in a pair chunk.
func (r *Recorder) addPairs(ps []impls.Pair) pairRef {
	if len(ps) == 0 {
		return pairRef{}
	}
	last := len(r.pairs) - 1
	if last < 0 || cap(r.pairs[last])-len(r.pairs[last]) < len(ps) {
		r.pairs = append(r.pairs, make([]impls.Pair, 0, max(pairChunk, len(ps))))
		last++
	}
	c := r.pairs[last]
	ref := pairRef{chunk: uint32(last), off: uint32(len(c)), n: uint32(len(ps))}
	for _, p := range ps {
		key, k := r.key(p.Key)
		c = append(c, impls.Pair{Key: key, Value: r.value(k, p.Value)})
	}
	r.pairs[last] = c
	return ref
}

// event materializes rec; its strings and pairs are the recorder's.
func (r *Recorder) event(rec *record) Event {
	e := Event{
		Client: r.client, Req: impls.Request{Kind: rec.kind, Key: rec.key, Value: rec.value, End: rec.end},
		Call: rec.call, Return: rec.ret, Outcome: outcomes[rec.outcome],
	}
	if e.Outcome != OK {
		e.Err = rec.text
		return e
	}
	e.Resp = impls.Response{Found: rec.found, Value: rec.text}
	if p := rec.pairs; p.n > 0 {
		e.Resp.Pairs = r.pairs[p.chunk][p.off : p.off+p.n : p.off+p.n]
	}
	return e
}

// History is a recorded history: one Recorder per worker.
type History struct {
	parts []*Recorder
}

// NewHistory returns the history made of parts (nil ones are skipped).
func NewHistory(parts ...*Recorder) *History {
	h := &History{}
	for _, p := range parts {
		if p != nil {
			h.parts = append(h.parts, p)
		}
	}
	return h
}

// Len returns the number of operations; 0 for a nil History.
func (h *History) Len() (n int) {
	if h == nil {
		return 0
	}
	for _, p := range h.parts {
		n += p.Len()
	}
	return n
}

// Events returns the operations sorted by call time (ties in the order of
// the parts, then of recording); nil for a nil or empty History.
func (h *History) Events() []Event {
	if h.Len() == 0 {
		return nil
	}
	return h.AppendEvents(make([]Event, 0, h.Len()), 0)
}

// AppendEvents appends the operations to dst with shift added to their
// call and return times, sorted by call time as Events sorts them, and
// returns the extended slice. The events already in dst stay as they are.
func (h *History) AppendEvents(dst []Event, shift int64) []Event {
	if h == nil {
		return dst
	}
	start := len(dst)
	dst = slices.Grow(dst, h.Len())
	for _, p := range h.parts {
		for _, c := range p.chunks {
			for i := range c {
				e := p.event(&c[i])
				e.Call += shift
				e.Return += shift
				dst = append(dst, e)
			}
		}
	}
	slices.SortStableFunc(dst[start:], func(a, b Event) int { return cmp.Compare(a.Call, b.Call) })
	return dst
}
