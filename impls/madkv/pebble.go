package madkv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// pebbleStore is a durable store on pebble (an LSM with a write-ahead
// log): one pebble directory under the backer holds the data ("k" + key),
// the deduplication table ("d" + client + seq) and the server's identity
// ("m" + name). Writes go through one commit loop: every mutation waiting
// when a batch starts joins it, the batch commits with a WAL fsync, and only
// then are its writes answered. One fsync per batch (bbolt needs two per
// transaction: pages, then meta) is why this engine is the default.
//
// Reads are served from a snapshot the commit loop takes after each durable
// commit, not from the live DB: pebble makes a batch visible as soon as it
// is in the memtable, before its WAL sync, and a read must never return a
// value a crash could still take back.
type pebbleStore struct {
	db *pebble.DB
	q  chan pendingWrite

	mu     sync.RWMutex // guards closed against sends on q
	closed bool
	done   chan struct{}

	viewMu sync.Mutex // guards view; readers take a reference and let go
	view   *readView

	// sessions are the dedup entries this incarnation wrote, per client,
	// so acknowledged ones are deleted by key; entries of an earlier
	// incarnation expire after dedupTTL. Only the commit loop uses it.
	sessions map[uint64]*pebbleSession

	commits, writes atomic.Uint64
	now             func() time.Time
}

type pebbleSession struct {
	seqs []uint64
	last time.Time
}

var _ store = (*pebbleStore)(nil)

// readView is a snapshot readers share. The store holds one reference
// while the view is current; each read holds one while it runs; the last
// to let go closes the snapshot. A long SCAN thus never holds up the
// commit loop's switch to a newer view.
type readView struct {
	snap *pebble.Snapshot
	refs atomic.Int64
}

func newReadView(snap *pebble.Snapshot) *readView {
	v := &readView{snap: snap}
	v.refs.Store(1)
	return v
}

func (v *readView) release() error {
	if v.refs.Add(-1) == 0 {
		return v.snap.Close()
	}
	return nil
}

// acquire returns the current view with a reference the caller releases.
func (s *pebbleStore) acquire() *readView {
	s.viewMu.Lock()
	v := s.view
	v.refs.Add(1)
	s.viewMu.Unlock()
	return v
}

// publish makes snap the view of new reads.
func (s *pebbleStore) publish(snap *pebble.Snapshot) {
	s.viewMu.Lock()
	old := s.view
	s.view = newReadView(snap)
	s.viewMu.Unlock()
	old.release()
}

type pendingWrite struct {
	r    *request
	done func(response)
}

// maxBatch bounds how many writes share one commit.
const maxBatch = 1024

// ErrBackerMismatch: a backer directory belongs to another server or
// another partitioning.
var ErrBackerMismatch = errors.New("madkv: backer belongs to another configuration")

const (
	pfxKV    = 'k'
	pfxDedup = 'd'
	pfxMeta  = 'm'
)

// PebbleDir is the pebble directory's name inside a server's backer.
const PebbleDir = "pebble"

// pebbleLog sends pebble's errors to the server log and drops its chatter.
type pebbleLog struct{ w io.Writer }

func (l pebbleLog) Infof(string, ...any) {}
func (l pebbleLog) Errorf(format string, args ...any) {
	fmt.Fprintf(l.w, "madkv: pebble: "+format+"\n", args...)
}
func (l pebbleLog) Fatalf(format string, args ...any) {
	fmt.Fprintf(l.w, "madkv: pebble: fatal: "+format+"\n", args...)
	panic(fmt.Sprintf(format, args...))
}

// openPebbleStore opens (creating) the store in dir/pebble.
func openPebbleStore(dir string, log io.Writer) (*pebbleStore, error) {
	db, err := pebble.Open(dir+"/"+PebbleDir, &pebble.Options{Logger: pebbleLog{log}})
	if err != nil {
		return nil, fmt.Errorf("madkv: open backer %s: %w", dir, err)
	}
	s := &pebbleStore{db: db, q: make(chan pendingWrite, maxBatch), done: make(chan struct{}), now: time.Now,
		sessions: map[uint64]*pebbleSession{}}
	if err := s.expire(); err != nil { // also loads sessions
		db.Close()
		return nil, fmt.Errorf("madkv: backer %s: %w", dir, err)
	}
	s.view = newReadView(db.NewSnapshot())
	go s.loop()
	return s, nil
}

func kvKey(k string) []byte { return append([]byte{pfxKV}, k...) }

func pebbleDedupKey(client, seq uint64) []byte {
	k := binary.BigEndian.AppendUint64([]byte{pfxDedup}, client)
	return binary.BigEndian.AppendUint64(k, seq)
}

// pebbleGet reads key from r, copying the value; nil when absent.
func pebbleGet(r pebble.Reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := append(make([]byte, 0, len(v)), v...)
	return out, closer.Close()
}

// claim records (id, parts) in a fresh backer, or checks that the backer
// was written by the same server of the same partitioning.
func (s *pebbleStore) claim(id, parts int) error {
	want := fmt.Sprintf("server %d of %d", id, parts)
	key := []byte{pfxMeta, 'i', 'd'}
	got, err := pebbleGet(s.db, key)
	switch {
	case err != nil:
		return err
	case got != nil && string(got) != want:
		return fmt.Errorf("%w: it holds %q, this is %q", ErrBackerMismatch, got, want)
	case got != nil:
		return nil
	}
	return s.db.Set(key, []byte(want), pebble.Sync)
}

// expire deletes deduplication entries older than dedupTTL.
func (s *pebbleStore) expire() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxDedup}, UpperBound: []byte{pfxDedup + 1}})
	if err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	limit := s.now().Add(-dedupTTL)
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if at, _, ok := decodeResult(it.Value()); !ok || at.Before(limit) || len(k) != 17 {
			b.Delete(bytes.Clone(k), nil)
		} else if s.sessions != nil {
			// Opening: remember live entries so acknowledgements delete them.
			client := binary.BigEndian.Uint64(k[1:9])
			ss := s.sessions[client]
			if ss == nil {
				ss = &pebbleSession{last: at}
				s.sessions[client] = ss
			}
			ss.seqs = append(ss.seqs, binary.BigEndian.Uint64(k[9:]))
			if at.After(ss.last) {
				ss.last = at
			}
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	if b.Empty() {
		return nil
	}
	return b.Commit(pebble.Sync)
}

func (s *pebbleStore) read(r *request) response {
	view := s.acquire()
	defer view.release()
	if r.op == opGet {
		v, err := pebbleGet(view.snap, kvKey(r.key))
		if err != nil {
			return response{status: stFailed, val: err.Error()}
		}
		return response{status: stOK, found: v != nil, val: string(v)}
	}
	it, err := view.snap.NewIter(&pebble.IterOptions{LowerBound: kvKey(r.key), UpperBound: kvKey(r.val + "\x00")})
	if err != nil {
		return response{status: stFailed, val: err.Error()}
	}
	resp := response{status: stOK}
	size := 0
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key()[1:], it.Value()
		size += len(k) + len(v)
		if size > MaxScanBytes {
			it.Close()
			return response{status: stBadRequest, val: fmt.Sprintf("SCAN result over %d bytes", MaxScanBytes)}
		}
		resp.pairs = append(resp.pairs, pair{string(k), string(v)})
	}
	if err := it.Close(); err != nil {
		return response{status: stFailed, val: err.Error()}
	}
	return resp
}

func (s *pebbleStore) mutate(r *request, done func(response)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		done(response{status: stNotReady, val: "server shutting down"})
		return
	}
	s.q <- pendingWrite{r, done}
}

// loop is the commit loop: one synced batch per group of waiting writes.
func (s *pebbleStore) loop() {
	defer close(s.done)
	batch := make([]pendingWrite, 0, maxBatch)
	resps := make([]response, 0, maxBatch)
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		batch, resps = batch[:0], resps[:0]
		select {
		case p, ok := <-s.q:
			if !ok {
				return
			}
			batch = append(batch, p)
		case <-tick.C:
			for id, ss := range s.sessions {
				if s.now().Sub(ss.last) > dedupTTL {
					delete(s.sessions, id)
				}
			}
			sessions := s.sessions
			s.sessions = nil // expire must not add to them now
			_ = s.expire()
			s.sessions = sessions
			continue
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case p, ok := <-s.q:
				if !ok {
					break drain
				}
				batch = append(batch, p)
			default:
				break drain
			}
		}
		now := s.now()
		b := s.db.NewIndexedBatch()
		for _, p := range batch {
			resps = append(resps, s.apply(b, p.r, now))
		}
		if err := b.Commit(pebble.Sync); err != nil {
			// Pebble refuses to go on after a failed WAL sync; so do we.
			for i := range resps {
				resps[i] = response{status: stFailed, val: fmt.Sprintf("commit failed: %v", err)}
			}
		} else {
			s.publish(s.db.NewSnapshot())
		}
		b.Close()
		s.commits.Add(1)
		s.writes.Add(uint64(len(batch)))
		for i, p := range batch {
			p.done(resps[i])
		}
	}
}

// apply executes one mutation into b, which reads through to the DB: the
// state of every earlier commit plus this batch's earlier writes.
func (s *pebbleStore) apply(b *pebble.Batch, r *request, now time.Time) response {
	fail := func(err error) response { return response{status: stFailed, val: err.Error()} }
	var dk []byte
	if r.client != 0 {
		dk = pebbleDedupKey(r.client, r.seq)
		v, err := pebbleGet(b, dk)
		if err != nil {
			return fail(err)
		}
		if v != nil {
			if _, res, ok := decodeResult(v); ok {
				return res.response()
			}
		}
		// Forget what the client has acknowledged.
		ss := s.sessions[r.client]
		if ss == nil {
			ss = &pebbleSession{}
			s.sessions[r.client] = ss
		}
		ss.last = now
		kept := ss.seqs[:0]
		for _, seq := range ss.seqs {
			if seq >= r.acked {
				kept = append(kept, seq)
			} else if err := b.Delete(pebbleDedupKey(r.client, seq), nil); err != nil {
				return fail(err)
			}
		}
		ss.seqs = append(kept, r.seq)
	}
	key := kvKey(r.key)
	prev, err := pebbleGet(b, key)
	if err != nil {
		return fail(err)
	}
	res := result{found: prev != nil}
	switch r.op {
	case opPut:
		err = b.Set(key, []byte(r.val), nil)
	case opSwap:
		res.val = string(prev)
		err = b.Set(key, []byte(r.val), nil)
	case opDelete:
		if prev != nil {
			err = b.Delete(key, nil)
		}
	}
	if err == nil && dk != nil {
		err = b.Set(dk, encodeResult(now, res), nil)
	}
	if err != nil {
		return fail(err)
	}
	return res.response()
}

func (s *pebbleStore) stats() (uint64, uint64) { return s.commits.Load(), s.writes.Load() }

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// close stops taking writes, commits the queued ones and closes the DB.
func (s *pebbleStore) close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.q)
	}
	s.mu.Unlock()
	<-s.done
	s.viewMu.Lock()
	err := s.view.release() // reads have ended: the listener closed first
	s.viewMu.Unlock()
	return errors.Join(err, s.db.Close())
}
