package madkv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// boltStore is stage 2's durable store: one bbolt file under the backer
// directory holds the data, the deduplication table and the server's
// identity. Writes go through one commit loop: every mutation waiting when a
// transaction starts joins it, and the loop answers them all after the
// commit's fsync (group commit: concurrent clients share one sync; under
// load a batch holds about as many writes as there are writers). Reads run
// in read-only transactions, which see exactly the committed state, so a
// read never returns a write that is not yet durable or not yet
// acknowledged-to-be, and reads are linearizable with the writes.
type boltStore struct {
	db *bolt.DB
	q  chan pendingWrite

	mu     sync.RWMutex // guards closed against sends on q
	closed bool
	done   chan struct{}

	commits, writes atomic.Uint64
	now             func() time.Time
}

type pendingWrite struct {
	r    *request
	done func(response)
}

var _ store = (*boltStore)(nil)

var (
	bucketKV    = []byte("kv")
	bucketDedup = []byte("dedup")
	bucketMeta  = []byte("meta")
)

// BackerFile is the bbolt file's name inside a server's backer directory.
const BackerFile = "madkv.bolt"

// maxBatch bounds how many writes share one transaction.
const maxBatch = 1024

// ErrBackerMismatch: a backer directory belongs to another server or
// another partitioning.
var ErrBackerMismatch = errors.New("madkv: backer belongs to another configuration")

// openBoltStore opens (creating) the store under dir.
func openBoltStore(dir string) (*boltStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("madkv: backer: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, BackerFile), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("madkv: open backer %s: %w", dir, err)
	}
	s := &boltStore{db: db, q: make(chan pendingWrite, maxBatch), done: make(chan struct{}), now: time.Now}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketKV, bucketDedup, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return s.expire(tx)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("madkv: backer %s: %w", dir, err)
	}
	go s.loop()
	return s, nil
}

// claim records (id, parts) in a fresh backer, or checks that the backer
// was written by the same server of the same partitioning.
func (s *boltStore) claim(id, parts int) error {
	want := fmt.Sprintf("server %d of %d", id, parts)
	return s.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if got := m.Get([]byte("identity")); got != nil {
			if string(got) != want {
				return fmt.Errorf("%w: it holds %q, this is %q", ErrBackerMismatch, got, want)
			}
			return nil
		}
		return m.Put([]byte("identity"), []byte(want))
	})
}

// expire deletes deduplication entries older than dedupTTL.
func (s *boltStore) expire(tx *bolt.Tx) error {
	b := tx.Bucket(bucketDedup)
	limit := s.now().Add(-dedupTTL)
	var old [][]byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if at, _, ok := decodeResult(v); !ok || at.Before(limit) {
			old = append(old, bytes.Clone(k))
		}
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func (s *boltStore) read(r *request) response {
	var resp response
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKV)
		if r.op == opGet {
			if v := b.Get([]byte(r.key)); v != nil {
				resp = response{status: stOK, found: true, val: string(v)}
			} else {
				resp = response{status: stOK}
			}
			return nil
		}
		resp = response{status: stOK}
		size := 0
		end := []byte(r.val)
		c := b.Cursor()
		for k, v := c.Seek([]byte(r.key)); k != nil && bytes.Compare(k, end) <= 0; k, v = c.Next() {
			size += len(k) + len(v)
			if size > MaxScanBytes {
				resp = response{status: stBadRequest, val: fmt.Sprintf("SCAN result over %d bytes", MaxScanBytes)}
				return nil
			}
			resp.pairs = append(resp.pairs, pair{string(k), string(v)})
		}
		return nil
	})
	if err != nil {
		return response{status: stFailed, val: err.Error()}
	}
	return resp
}

func (s *boltStore) mutate(r *request, done func(response)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		done(response{status: stNotReady, val: "server shutting down"})
		return
	}
	s.q <- pendingWrite{r, done}
}

// loop is the commit loop: one transaction per batch of waiting writes.
func (s *boltStore) loop() {
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
			_ = s.db.Update(s.expire)
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
		err := s.db.Update(func(tx *bolt.Tx) error {
			for _, p := range batch {
				resps = append(resps, s.apply(tx, p.r, now))
			}
			return nil
		})
		if err != nil {
			for i := range resps {
				resps[i] = response{status: stFailed, val: fmt.Sprintf("commit failed, nothing written: %v", err)}
			}
		}
		s.commits.Add(1)
		s.writes.Add(uint64(len(batch)))
		for i, p := range batch {
			p.done(resps[i])
		}
	}
}

func dedupKey(client, seq uint64) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 16), client)
	return binary.BigEndian.AppendUint64(k, seq)
}

// apply executes one mutation inside tx. An error of one write (a key over
// bbolt's limits) fails that write alone; bbolt leaves the tree unchanged.
func (s *boltStore) apply(tx *bolt.Tx, r *request, now time.Time) response {
	kv, dd := tx.Bucket(bucketKV), tx.Bucket(bucketDedup)
	var dk []byte
	if r.client != 0 {
		dk = dedupKey(r.client, r.seq)
		if v := dd.Get(dk); v != nil {
			if _, res, ok := decodeResult(v); ok {
				return res.response()
			}
		}
		// Forget what the client has acknowledged.
		var old [][]byte
		c := dd.Cursor()
		prefix := dk[:8]
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && binary.BigEndian.Uint64(k[8:]) < r.acked; k, _ = c.Next() {
			old = append(old, bytes.Clone(k))
		}
		for _, k := range old {
			if err := dd.Delete(k); err != nil {
				return response{status: stFailed, val: err.Error()}
			}
		}
	}
	key := []byte(r.key)
	var res result
	prev := kv.Get(key)
	res.found = prev != nil
	var err error
	switch r.op {
	case opPut:
		err = kv.Put(key, []byte(r.val))
	case opSwap:
		res.val = string(prev)
		err = kv.Put(key, []byte(r.val))
	case opDelete:
		if prev != nil {
			err = kv.Delete(key)
		}
	}
	if err == nil && dk != nil {
		err = dd.Put(dk, encodeResult(now, res))
	}
	if err != nil {
		return response{status: stFailed, val: err.Error()}
	}
	return res.response()
}

func (s *boltStore) stats() (uint64, uint64) { return s.commits.Load(), s.writes.Load() }

// close stops taking writes, commits the queued ones and closes the file.
func (s *boltStore) close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.q)
	}
	s.mu.Unlock()
	<-s.done
	return s.db.Close()
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
