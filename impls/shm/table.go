package shm

import "sync"

// Table is the server's concurrent hash table from u32 keys to u32 values.
// A missing key reads as 0 (the course's GET semantics).
//
// Design: lock striping plus incremental rehashing. The key space is split
// into numShards shards by the top bits of a mixed hash; each shard is an
// independent chained hash table under its own mutex, padded to a cache line
// so that shards do not false-share. Two server threads contend only when
// they touch the same shard at the same moment.
//
// Growth never stops the world: when a shard's load factor exceeds 1 it
// allocates a bucket array twice as large and keeps the old one; every
// following operation on that shard moves up to migrateStep old buckets
// into the new array (relinking entries, no copying) before doing its own
// work, as Redis's dict does. A lookup goes to the old array for buckets not
// yet moved and to the new one otherwise. So the longest an operation holds
// a lock is one small migration step, plus, once per doubling of a shard,
// the allocation of the new bucket array: 1/numShards of the table's
// buckets (4 bytes each; 64 KiB for a shard of 16 Ki buckets, i.e. a
// million keys in all, a few microseconds to zero). Entries live in
// fixed-size chunks that are never moved, so growing them costs nothing
// either.
//
// The course hashes with k % table_size; we mix the key first (a
// multiplicative hash) because power-of-two tables indexed by the low bits
// of raw keys degrade badly on strided keys. The table is internal to the
// server, so the choice does not affect interoperability.
type Table struct {
	shards [numShards]shard
}

const (
	shardBits   = 6
	numShards   = 1 << shardBits
	chunkBits   = 10
	chunkSize   = 1 << chunkBits
	migrateStep = 4
)

type entry struct {
	key, val uint32
	next     int32 // index+1 of the next entry in the chain; 0 ends it
}

type shard struct {
	mu      sync.Mutex
	cur     []int32 // bucket heads: index+1 into the entries, 0 = empty
	old     []int32 // non-nil while migrating from it
	moved   int     // old buckets [0, moved) have been migrated
	count   int
	chunks  [][]entry
	maxStep int // longest migration step so far, in entries moved (tests)
	_       [64]byte
}

// NewTable returns a table whose initial number of buckets, over all
// shards, is at least size (the server's -s); size < 1 counts as 1.
func NewTable(size int) *Table {
	per := (size + numShards - 1) / numShards
	n := 1
	for n < per {
		n <<= 1
	}
	t := &Table{}
	for i := range t.shards {
		t.shards[i].cur = make([]int32, n)
	}
	return t
}

// mix is a multiplicative (Fibonacci) hash of k; its top bits choose the
// shard and its low bits the bucket.
func mix(k uint32) uint32 {
	h := k * 0x9E3779B1
	return h ^ h>>15
}

func (t *Table) shard(h uint32) *shard { return &t.shards[h>>(32-shardBits)] }

// Get returns the value of k, or 0 when k is absent.
func (t *Table) Get(k uint32) uint32 {
	h := mix(k)
	s := t.shard(h)
	s.mu.Lock()
	s.step()
	var v uint32
	if e := s.find(s.bucket(h), k); e != nil {
		v = e.val
	}
	s.mu.Unlock()
	return v
}

// Put sets k to v, overwriting an existing value.
func (t *Table) Put(k, v uint32) {
	h := mix(k)
	s := t.shard(h)
	s.mu.Lock()
	s.step()
	b := s.bucket(h)
	if e := s.find(b, k); e != nil {
		e.val = v
	} else {
		s.insert(b, k, v)
		if s.count > len(s.cur) && s.old == nil {
			s.grow()
		}
	}
	s.mu.Unlock()
}

// Len returns the number of keys.
func (t *Table) Len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += s.count
		s.mu.Unlock()
	}
	return n
}

// bucket returns the head word for hash h: in the old array if its bucket
// there has not been migrated yet, else in the current one.
func (s *shard) bucket(h uint32) *int32 {
	if s.old != nil {
		if i := int(h & uint32(len(s.old)-1)); i >= s.moved {
			return &s.old[i]
		}
	}
	return &s.cur[h&uint32(len(s.cur)-1)]
}

func (s *shard) at(i int32) *entry { return &s.chunks[(i-1)>>chunkBits][(i-1)&(chunkSize-1)] }

func (s *shard) find(head *int32, k uint32) *entry {
	for i := *head; i != 0; {
		e := s.at(i)
		if e.key == k {
			return e
		}
		i = e.next
	}
	return nil
}

func (s *shard) insert(head *int32, k, v uint32) {
	if s.count == len(s.chunks)*chunkSize {
		s.chunks = append(s.chunks, make([]entry, chunkSize))
	}
	s.count++
	i := int32(s.count)
	*s.at(i) = entry{key: k, val: v, next: *head}
	*head = i
}

// grow starts migrating to a bucket array twice as large.
func (s *shard) grow() {
	s.old, s.cur, s.moved = s.cur, make([]int32, 2*len(s.cur)), 0
}

// step migrates up to migrateStep old buckets, if a migration is running.
func (s *shard) step() {
	if s.old == nil {
		return
	}
	mask := uint32(len(s.cur) - 1)
	moved := 0
	for n := 0; n < migrateStep && s.moved < len(s.old); n++ {
		for i := s.old[s.moved]; i != 0; {
			e := s.at(i)
			nxt := e.next
			b := &s.cur[mix(e.key)&mask]
			e.next, *b = *b, i
			i = nxt
			moved++
		}
		s.old[s.moved] = 0
		s.moved++
	}
	s.maxStep = max(s.maxStep, moved)
	if s.moved == len(s.old) {
		s.old = nil
	}
}
