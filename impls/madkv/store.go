package madkv

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/google/btree"
)

// store executes data operations for one server. Both implementations are
// linearizable: memStore (stage 1) under one lock, pebbleStore (stage 2)
// by reading durable snapshots and applying writes in one commit loop.
type store interface {
	// read executes a GET or SCAN now and returns its response.
	read(r *request) response
	// mutate executes a PUT, SWAP or DELETE and calls done exactly once
	// with its response, once the write is as durable as the store makes
	// it. done may run on another goroutine and must not block. A request
	// with a nonzero client whose (client, seq) the store has already
	// executed is not executed again: done gets the first execution's
	// response (see dedup).
	mutate(r *request, done func(response))
	// stats returns how many commits (syncs) carried how many writes.
	stats() (commits, writes uint64)
	close() error
}

// Deduplication. A client retries a mutation whose answer it did not get
// (connection lost, server restarted) with the same (client, seq); the
// server remembers the response of every executed mutation per client and
// answers a retry with it, so a retried PUT reports whether the key existed
// before the first execution, not "found" because of it. A request also
// carries acked: every seq below it has been answered to the client, which
// will not retry them, so the server forgets them. A client that vanishes
// leaves at most its window of entries, which expire after dedupTTL; a
// retry later than that is executed again.
const dedupTTL = 10 * time.Minute

// partitionOf is the partition that owns key among parts partitions:
// FNV-1a 64 of the key, modulo parts. Hashing spreads YCSB's common
// "user..." prefix evenly; a SCAN asks every partition and merges.
func partitionOf(key string, parts int) int {
	if parts <= 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return int(h.Sum64() % uint64(parts))
}

// result is what a mutation's response says, as deduplication stores it.
type result struct {
	found bool
	val   string
}

func (r result) response() response { return response{status: stOK, found: r.found, val: r.val} }

// encodeResult and decodeResult are the durable form of a result: unix
// nanoseconds of the execution, found, the value.
func encodeResult(at time.Time, r result) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 9+len(r.val)), uint64(at.UnixNano()))
	f := byte(0)
	if r.found {
		f = 1
	}
	return append(append(b, f), r.val...)
}

func decodeResult(b []byte) (time.Time, result, bool) {
	if len(b) < 9 || b[8] > 1 {
		return time.Time{}, result{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b))), result{found: b[8] == 1, val: string(b[9:])}, true
}

// validate checks a data request's key and value before execution.
func validate(r *request) error {
	switch {
	case r.key == "":
		return fmt.Errorf("empty key")
	case r.op == opScan && r.val == "":
		return fmt.Errorf("SCAN with an empty end key")
	case r.op == opGet && r.val != "", r.op == opDelete && r.val != "":
		return fmt.Errorf("%s carries a value", r.op)
	}
	return nil
}

// memStore is stage 1's store: a B-tree under one lock, and per-client
// deduplication tables, all in memory.
type memStore struct {
	mu       sync.RWMutex
	t        *btree.BTreeG[pair]
	sessions map[uint64]*session
	muts     uint64
}

type session struct {
	results map[uint64]result
	last    time.Time
}

var _ store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{
		t:        btree.NewG(32, func(a, b pair) bool { return a.k < b.k }),
		sessions: map[uint64]*session{},
	}
}

func (s *memStore) read(r *request) response {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r.op == opGet {
		p, ok := s.t.Get(pair{k: r.key})
		return response{status: stOK, found: ok, val: p.v}
	}
	var out []pair
	size, over := 0, false
	s.t.AscendRange(pair{k: r.key}, pair{k: r.val + "\x00"}, func(p pair) bool {
		size += len(p.k) + len(p.v)
		if size > MaxScanBytes {
			over = true
			return false
		}
		out = append(out, p)
		return true
	})
	if over {
		return response{status: stBadRequest, val: fmt.Sprintf("SCAN result over %d bytes", MaxScanBytes)}
	}
	return response{status: stOK, pairs: out}
}

func (s *memStore) mutate(r *request, done func(response)) {
	s.mu.Lock()
	now := time.Now()
	var sess *session
	if r.client != 0 {
		sess = s.sessions[r.client]
		if sess == nil {
			sess = &session{results: map[uint64]result{}}
			s.sessions[r.client] = sess
		}
		sess.last = now
		for seq := range sess.results {
			if seq < r.acked {
				delete(sess.results, seq)
			}
		}
		if res, ok := sess.results[r.seq]; ok {
			s.mu.Unlock()
			done(res.response())
			return
		}
	}
	var res result
	switch r.op {
	case opPut:
		_, res.found = s.t.ReplaceOrInsert(pair{r.key, r.val})
	case opSwap:
		var old pair
		old, res.found = s.t.ReplaceOrInsert(pair{r.key, r.val})
		res.val = old.v
	case opDelete:
		_, res.found = s.t.Delete(pair{k: r.key})
	}
	if sess != nil {
		sess.results[r.seq] = res
	}
	s.muts++
	if s.muts%4096 == 0 {
		for id, ss := range s.sessions {
			if now.Sub(ss.last) > dedupTTL {
				delete(s.sessions, id)
			}
		}
	}
	s.mu.Unlock()
	done(res.response())
}

func (s *memStore) stats() (uint64, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return 0, s.muts
}

func (s *memStore) close() error { return nil }
