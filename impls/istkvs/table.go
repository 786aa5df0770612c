package istkvs

import (
	"bufio"
	"io"
	"runtime"
	"sync"

	"github.com/google/btree"
)

// Table is IST-KVS's one shared table: an ordered B-tree behind a
// readers-writer lock. Every command is atomic: a WRITE or DELETE holds the
// write lock for all its pairs, a READ or SHOW holds the read lock for all
// its keys, so a multi-key READ sees one state and a WRITE is seen whole.
//
// Snapshot is O(1): the B-tree clones lazily (copy-on-write), so a backup
// holds the write lock only for the clone and then walks its private copy
// while writers go on; the first writes after a snapshot copy the few
// nodes on their paths.
type Table struct {
	mu sync.RWMutex
	t  *btree.BTreeG[Pair]
	// onChange, when set, is called under the write lock for every key a
	// WRITE or DELETE changed, in apply order (value "" and deleted true for
	// a delete). Notifications are sent from it.
	onChange func(key, value string, deleted bool)
	// splitRead is a deliberate bug for tests: a multi-key READ takes the
	// lock once per key, so it may see a WRITE half applied.
	splitRead bool
}

func lessPair(a, b Pair) bool { return a.Key < b.Key }

// NewTable returns an empty table.
func NewTable() *Table { return &Table{t: btree.NewG(32, lessPair)} }

// Write applies the pairs in order, atomically; a later pair overwrites an
// earlier one of the same key, and only the final value is notified.
func (t *Table) Write(pairs []Pair) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, p := range pairs {
		t.t.ReplaceOrInsert(p)
		if t.onChange != nil && !laterKey(pairs[i+1:], p.Key) {
			t.onChange(p.Key, p.Value, false)
		}
	}
}

func laterKey(pairs []Pair, k string) bool {
	for _, p := range pairs {
		if p.Key == k {
			return true
		}
	}
	return false
}

// Delete removes the keys, atomically, and returns those that were missing
// in command order (a key deleted twice is missing the second time).
func (t *Table) Delete(keys []string) (missing []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		if _, ok := t.t.Delete(Pair{Key: k}); !ok {
			missing = append(missing, k)
		} else if t.onChange != nil {
			t.onChange(k, "", true)
		}
	}
	return missing
}

// Read returns each key's value and whether it exists, from one state.
func (t *Table) Read(keys []string) (vals []string, found []bool) {
	vals, found = make([]string, len(keys)), make([]bool, len(keys))
	if t.splitRead {
		for i, k := range keys {
			t.mu.RLock()
			p, ok := t.t.Get(Pair{Key: k})
			t.mu.RUnlock()
			vals[i], found[i] = p.Value, ok
			runtime.Gosched() // let a writer in between the keys
		}
		return vals, found
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for i, k := range keys {
		p, ok := t.t.Get(Pair{Key: k})
		vals[i], found[i] = p.Value, ok
	}
	return vals, found
}

// Has reports whether key exists. The caller may hold no lock.
func (t *Table) Has(key string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.t.Has(Pair{Key: key})
}

// AppendShow appends SHOW's output, one "(key, value)\n" line per pair in
// key order, from one state.
func (t *Table) AppendShow(out []byte) []byte {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return appendTree(out, t.t)
}

func appendTree(out []byte, tr *btree.BTreeG[Pair]) []byte {
	tr.Ascend(func(p Pair) bool {
		out = appendShowLine(out, p.Key, p.Value)
		return true
	})
	return out
}

// Snapshot is a frozen copy of the table at one instant.
type Snapshot struct{ t *btree.BTreeG[Pair] }

// Snapshot returns the table's current state in O(1): writers are held
// only for the lazy clone.
func (t *Table) Snapshot() Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Snapshot{t: t.t.Clone()}
}

// AppendShow appends what SHOW printed at the snapshot's instant. It may run
// concurrently with writes to the table.
func (s Snapshot) AppendShow(out []byte) []byte { return appendTree(out, s.t) }

// WriteShow writes what SHOW printed at the snapshot's instant to w in
// small chunks (a backup of many keys never holds its whole text). It may
// run concurrently with writes to the table.
func (s Snapshot) WriteShow(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	var err error
	s.t.Ascend(func(p Pair) bool {
		line = appendShowLine(line[:0], p.Key, p.Value)
		_, err = bw.Write(line)
		return err == nil
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// Len returns the number of pairs in the snapshot.
func (s Snapshot) Len() int { return s.t.Len() }

// Len returns the number of pairs.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.t.Len()
}

// withSubscriptionLock runs f under the read lock, so no change is applied
// while f decides whether a key exists and registers a subscription.
func (t *Table) withReadLock(f func(has func(key string) bool)) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	f(func(k string) bool { return t.t.Has(Pair{Key: k}) })
}
