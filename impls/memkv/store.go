package memkv

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// itemOverhead is what one entry costs beyond its key and value when
// --max-bytes is counted (the item struct, map slot and list links).
const itemOverhead = 64

// item is one stored entry. Every field is guarded by the owning shard's
// lock, except value's bytes: a value is never modified after an item holds
// it, so a reader may keep the slice after releasing the lock (and a
// snapshot may write it out concurrently with later updates).
type item struct {
	key        string
	value      []byte
	flags      uint32
	exp        int64 // expiry, Unix nanoseconds; 0 means never
	cas        uint64
	prev, next *item // per-shard LRU list, most recently used first
}

func (it *item) expired(now int64) bool { return it.exp != 0 && it.exp <= now }

func (it *item) size() int64 { return int64(len(it.key)+len(it.value)) + itemOverhead }

// shard is one lock domain of the store. Appending a mutation's log record
// and applying it to items happen in one critical section, so the log holds
// each key's mutations in the order clients observed them.
type shard struct {
	mu    sync.RWMutex
	items map[string]*item
	// seq is the log position just past the newest record for this shard; a
	// reader waits for it to be durable before answering (see conn.flush).
	seq int64
	lru item // sentinel of the LRU list; lru.next is the most recent
	_   [40]byte
}

// view is what a read copies out of an item under the shard lock.
type view struct {
	value []byte // shared, read-only
	flags uint32
	cas   uint64
}

// storeMode is the storage command of a write.
type storeMode uint8

const (
	modeSet storeMode = iota
	modeAdd
	modeReplace
	modeAppend
	modePrepend
	modeCas
)

// storeResult is the outcome of a storage command, as memcached names it.
type storeResult uint8

const (
	resStored storeResult = iota
	resNotStored
	resExists
	resNotFound
)

var storeResultLines = [...]string{"STORED", "NOT_STORED", "EXISTS", "NOT_FOUND"}

// memStore is the sharded in-memory map behind memkv. It is safe for concurrent
// use; operations on different shards never contend, and reads of one shard
// share its lock unless the LRU bound is on (a read then moves the entry to
// the front of its shard's list).
type memStore struct {
	shards   []shard
	mask     uint64
	seed     maphash.Seed
	j        *wal // nil: memory only
	maxValue int
	maxItems int64 // 0: unbounded
	maxBytes int64 // 0: unbounded
	bounded  bool

	cas       atomic.Uint64
	nItems    atomic.Int64
	nBytes    atomic.Int64
	evictions atomic.Uint64
	total     atomic.Uint64 // items ever stored
	evictNext atomic.Uint64 // round-robin cursor for fallback evictions

	flushMu sync.Mutex   // serializes flush_all and the firing of a delayed one
	flushAt atomic.Int64 // pending delayed flush_all deadline, Unix ns; 0 none
}

// storeConfig sizes a memStore.
type storeConfig struct {
	shards   int // rounded up to a power of two
	maxValue int
	maxItems int64
	maxBytes int64
}

func newStore(cfg storeConfig, j *wal) *memStore {
	n := 1
	for n < cfg.shards {
		n <<= 1
	}
	s := &memStore{
		shards: make([]shard, n), mask: uint64(n - 1), seed: maphash.MakeSeed(), j: j,
		maxValue: cfg.maxValue, maxItems: cfg.maxItems, maxBytes: cfg.maxBytes,
		bounded: cfg.maxItems > 0 || cfg.maxBytes > 0,
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.items = make(map[string]*item)
		sh.lru.next, sh.lru.prev = &sh.lru, &sh.lru
	}
	return s
}

func (s *memStore) shardOf(key []byte) *shard {
	return &s.shards[maphash.Bytes(s.seed, key)&s.mask]
}

func (s *memStore) log(sh *shard, r *record) int64 {
	if s.j == nil {
		return 0
	}
	sh.seq = s.j.Append(r)
	return sh.seq
}

// --- LRU and accounting; callers hold sh.mu for writing ---

func (sh *shard) unlinkLRU(it *item) {
	if it.prev != nil {
		it.prev.next, it.next.prev = it.next, it.prev
		it.prev, it.next = nil, nil
	}
}

func (sh *shard) pushLRU(it *item) {
	it.prev, it.next = &sh.lru, sh.lru.next
	sh.lru.next.prev = it
	sh.lru.next = it
}

func (s *memStore) bump(sh *shard, it *item) {
	if s.bounded && sh.lru.next != it {
		sh.unlinkLRU(it)
		sh.pushLRU(it)
	}
}

func (s *memStore) insert(sh *shard, it *item) {
	sh.items[it.key] = it
	if s.bounded {
		sh.pushLRU(it)
	}
	s.nItems.Add(1)
	s.nBytes.Add(it.size())
	s.total.Add(1)
}

func (s *memStore) remove(sh *shard, it *item) {
	delete(sh.items, it.key)
	sh.unlinkLRU(it)
	s.nItems.Add(-1)
	s.nBytes.Add(-it.size())
}

// replaceValue swaps in a new value, keeping byte accounting right.
func (s *memStore) replaceValue(it *item, v []byte) {
	s.nBytes.Add(int64(len(v) - len(it.value)))
	it.value = v
}

func (s *memStore) overLimit() bool {
	return (s.maxItems > 0 && s.nItems.Load() > s.maxItems) ||
		(s.maxBytes > 0 && s.nBytes.Load() > s.maxBytes)
}

// evictLocked evicts least recently used entries of sh, never keep, while
// the store is over its bound. It reports whether it got under the bound.
func (s *memStore) evictLocked(sh *shard, keep *item) bool {
	for s.overLimit() {
		victim := sh.lru.prev
		if victim == &sh.lru || victim == keep {
			return false
		}
		s.remove(sh, victim)
		s.log(sh, &record{op: opDelete, key: victim.key})
		s.evictions.Add(1)
	}
	return true
}

// evictElsewhere runs after a write whose own shard could not make room: it
// walks the other shards round-robin, evicting each one's LRU tail.
func (s *memStore) evictElsewhere() {
	for tries := 0; s.overLimit() && tries < 2*len(s.shards); tries++ {
		sh := &s.shards[s.evictNext.Add(1)&s.mask]
		sh.mu.Lock()
		if victim := sh.lru.prev; victim != &sh.lru && s.overLimit() {
			s.remove(sh, victim)
			s.log(sh, &record{op: opDelete, key: victim.key})
			s.evictions.Add(1)
		}
		sh.mu.Unlock()
	}
}

// lookup returns the live item for key, dropping an expired one (expiry is
// a function of the logged expiry time, so dropping needs no record).
func (s *memStore) lookup(sh *shard, key []byte, now int64, write bool) *item {
	it := sh.items[string(key)]
	if it != nil && it.expired(now) {
		if write {
			s.remove(sh, it)
		}
		return nil
	}
	return it
}

// checkFlush fires a delayed flush_all whose deadline has passed, before the
// caller takes any shard lock.
func (s *memStore) checkFlush(now int64) {
	if d := s.flushAt.Load(); d != 0 && now >= d {
		s.flushMu.Lock()
		if s.flushAt.Load() == d {
			s.flushNowLocked()
		}
		s.flushMu.Unlock()
	}
}

// --- operations ---

// get returns the value of key. seq is the log position the answer depends
// on (the shard's newest record), to be durable before the answer is sent.
func (s *memStore) get(key []byte, now int64) (v view, ok bool, seq int64) {
	s.checkFlush(now)
	sh := s.shardOf(key)
	if s.bounded {
		sh.mu.Lock()
		it := s.lookup(sh, key, now, true)
		if it != nil {
			s.bump(sh, it)
			v, ok = view{it.value, it.flags, it.cas}, true
		}
		seq = sh.seq
		sh.mu.Unlock()
		return v, ok, seq
	}
	sh.mu.RLock()
	if it := s.lookup(sh, key, now, false); it != nil {
		v, ok = view{it.value, it.flags, it.cas}, true
	}
	seq = sh.seq
	sh.mu.RUnlock()
	return v, ok, seq
}

// touch sets key's expiry and returns its value (for touch and gat).
func (s *memStore) touch(key []byte, exp, now int64) (v view, ok bool, seq int64) {
	s.checkFlush(now)
	sh := s.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	it := s.lookup(sh, key, now, true)
	if it == nil {
		return v, false, sh.seq
	}
	it.exp = exp
	s.bump(sh, it)
	seq = s.log(sh, &record{op: opTouch, key: it.key, exp: exp})
	return view{it.value, it.flags, it.cas}, true, seq
}

// store runs a storage command. value becomes owned by the store.
func (s *memStore) store(mode storeMode, key []byte, flags uint32, exp int64, value []byte, casIn uint64, now int64) (storeResult, int64) {
	s.checkFlush(now)
	sh := s.shardOf(key)
	sh.mu.Lock()
	res, seq, spill := s.storeLocked(sh, mode, key, flags, exp, value, casIn, now)
	sh.mu.Unlock()
	if spill {
		s.evictElsewhere()
	}
	return res, seq
}

func (s *memStore) storeLocked(sh *shard, mode storeMode, key []byte, flags uint32, exp int64, value []byte, casIn uint64, now int64) (res storeResult, seq int64, spill bool) {
	// seq is the shard's newest log position, the one the answer depends on.
	old := s.lookup(sh, key, now, true)
	if old != nil {
		switch mode {
		case modeAdd:
			s.bump(sh, old)
			return resNotStored, sh.seq, false
		case modeCas:
			if casIn == 0 || casIn != old.cas {
				return resExists, sh.seq, false
			}
		case modeAppend, modePrepend:
			if len(old.value)+len(value) > s.maxValue {
				return resNotStored, sh.seq, false
			}
			nv := make([]byte, 0, len(old.value)+len(value))
			if mode == modeAppend {
				nv = append(append(nv, old.value...), value...)
			} else {
				nv = append(append(nv, value...), old.value...)
			}
			value, flags, exp = nv, old.flags, old.exp
		}
		s.replaceValue(old, value)
		old.flags, old.exp, old.cas = flags, exp, s.cas.Add(1)
		s.bump(sh, old)
		// The answer depends on sh.seq, which also covers the evictions below.
		s.log(sh, &record{op: opSet, key: old.key, value: value, flags: flags, exp: exp, cas: old.cas})
		if s.bounded && !s.evictLocked(sh, old) {
			spill = true
		}
		return resStored, sh.seq, spill
	}
	switch mode {
	case modeCas:
		return resNotFound, sh.seq, false
	case modeReplace, modeAppend, modePrepend:
		return resNotStored, sh.seq, false
	}
	it := &item{key: string(key), value: value, flags: flags, exp: exp, cas: s.cas.Add(1)}
	s.insert(sh, it)
	s.log(sh, &record{op: opSet, key: it.key, value: value, flags: flags, exp: exp, cas: it.cas})
	if s.bounded && !s.evictLocked(sh, it) {
		spill = true
	}
	return resStored, sh.seq, spill
}

// unlink removes key without counting it as a delete: memcached drops the
// old value when a set is refused as too large, so a stale value cannot
// survive a failed overwrite.
func (s *memStore) unlink(key []byte, now int64) int64 {
	_, seq := s.delete(key, now)
	return seq
}

// delete removes key and reports whether it existed.
func (s *memStore) delete(key []byte, now int64) (bool, int64) {
	s.checkFlush(now)
	sh := s.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	it := s.lookup(sh, key, now, true)
	if it == nil {
		return false, sh.seq
	}
	s.remove(sh, it)
	return true, s.log(sh, &record{op: opDelete, key: it.key})
}

// deltaResult is the outcome of incr/decr.
type deltaResult uint8

const (
	deltaOK deltaResult = iota
	deltaNotFound
	deltaNonNumeric
)

// incr adds delta to (or, for decr, subtracts it from) the decimal number
// stored at key, the way memcached does: incr wraps at 2^64, decr stops at
// zero, and a shorter result is padded with spaces to the old length.
func (s *memStore) incr(key []byte, delta uint64, decr bool, now int64) (uint64, deltaResult, int64) {
	s.checkFlush(now)
	sh := s.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	it := s.lookup(sh, key, now, true)
	if it == nil {
		return 0, deltaNotFound, sh.seq
	}
	n, ok := parseStoredNumber(it.value)
	if !ok {
		return 0, deltaNonNumeric, sh.seq
	}
	if decr {
		if delta > n {
			n = 0
		} else {
			n -= delta
		}
	} else {
		n += delta
	}
	var digits [20]byte
	d := appendUint(digits[:0], n)
	nv := make([]byte, max(len(d), len(it.value)))
	copy(nv, d)
	for i := len(d); i < len(nv); i++ {
		nv[i] = ' '
	}
	s.replaceValue(it, nv)
	it.cas = s.cas.Add(1)
	s.bump(sh, it)
	seq := s.log(sh, &record{op: opSet, key: it.key, value: nv, flags: it.flags, exp: it.exp, cas: it.cas})
	return n, deltaOK, seq
}

// flushAll invalidates every entry now (deadline 0) or at deadline (Unix ns).
// A later flush_all replaces a pending deadline, as in memcached.
func (s *memStore) flushAll(deadline, now int64) int64 {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if deadline == 0 || deadline <= now {
		return s.flushNowLocked()
	}
	s.flushAt.Store(deadline)
	if s.j == nil {
		return 0
	}
	return s.j.Append(&record{op: opFlushAt, exp: deadline})
}

// flushNowLocked clears every shard under all shard locks, so the FLUSH
// record sits in the log after every record applied before it and before
// every record applied after it. The caller holds flushMu.
func (s *memStore) flushNowLocked() int64 {
	for i := range s.shards {
		s.shards[i].mu.Lock()
	}
	var seq int64
	if s.j != nil {
		seq = s.j.Append(&record{op: opFlush})
	}
	s.flushAt.Store(0)
	for i := range s.shards {
		sh := &s.shards[i]
		for _, it := range sh.items {
			s.remove(sh, it)
		}
		sh.items = make(map[string]*item)
		sh.seq = seq
		sh.mu.Unlock()
	}
	return seq
}

// apply replays one log record during recovery, before the store serves.
// It deliberately ignores expiry: a TOUCH was logged for an item that was
// live then, and it must extend that item even if it has expired since.
func (s *memStore) apply(r *record) {
	if r.cas > s.cas.Load() {
		s.cas.Store(r.cas)
	}
	switch r.op {
	case opSet:
		sh := s.shardOf([]byte(r.key))
		if it := sh.items[r.key]; it != nil {
			s.replaceValue(it, r.value)
			it.flags, it.exp, it.cas = r.flags, r.exp, r.cas
			s.bump(sh, it)
			return
		}
		s.insert(sh, &item{key: r.key, value: r.value, flags: r.flags, exp: r.exp, cas: r.cas})
	case opDelete:
		sh := s.shardOf([]byte(r.key))
		if it := sh.items[r.key]; it != nil {
			s.remove(sh, it)
		}
	case opTouch:
		if it := s.shardOf([]byte(r.key)).items[r.key]; it != nil {
			it.exp = r.exp
		}
	case opFlush:
		for i := range s.shards {
			sh := &s.shards[i]
			for _, it := range sh.items {
				s.remove(sh, it)
			}
		}
		s.flushAt.Store(0)
	case opFlushAt:
		s.flushAt.Store(r.exp)
	}
}

// enforceLimits evicts after recovery when the bound is smaller than what
// was recovered (the bound is a flag and may have changed).
func (s *memStore) enforceLimits() {
	if !s.bounded {
		return
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		s.evictLocked(sh, nil)
		sh.mu.Unlock()
	}
}

// snapItem is one entry as a snapshot writes it.
type snapItem struct {
	key   string
	value []byte
	flags uint32
	exp   int64
	cas   uint64
}

// copyShard appends shard i's live entries to dst under its read lock.
func (s *memStore) copyShard(i int, dst []snapItem, now int64) []snapItem {
	sh := &s.shards[i]
	sh.mu.RLock()
	for _, it := range sh.items {
		if !it.expired(now) {
			dst = append(dst, snapItem{it.key, it.value, it.flags, it.exp, it.cas})
		}
	}
	sh.mu.RUnlock()
	return dst
}

// parseStoredNumber parses a stored value as memcached's incr does
// (safe_strtoull on the data followed by "\r\n"): optional leading white
// space and sign, decimal digits, then white space or the end of the value.
func parseStoredNumber(v []byte) (uint64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	n, neg, end, ok := parseCNumber(v)
	if !ok || n.overflow {
		return 0, false
	}
	if end < len(v) && !isCSpace(v[end]) {
		return 0, false
	}
	x := n.val
	if neg {
		x = -x
	}
	if int64(x) < 0 && containsByte(v, '-') {
		return 0, false
	}
	return x, true
}
