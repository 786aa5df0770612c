package dkvs

import (
	"strconv"
)

// Sizes from the original's config.h.
const (
	// MaxElemSize is the largest key or value: 32 753 bytes.
	MaxElemSize = 32753
	// MaxMsgSize is the largest datagram: 2*MaxElemSize+1 = 65 507 bytes,
	// the largest UDP payload over IPv4.
	MaxMsgSize = 2*MaxElemSize + 1
	// TableSize is the number of buckets of a server's local table.
	TableSize = 256
)

// LocalHash is the original's hash_function: Jenkins one-at-a-time over the
// key bytes in 64-bit unsigned arithmetic (size_t on the course's machines),
// modulo size. 32-bit arithmetic gives other buckets and another dump order.
func LocalHash(key string, size int) int {
	var h uint64
	for i := 0; i < len(key); i++ {
		h += uint64(key[i])
		h += h << 10
		h ^= h >> 6
	}
	h += h << 3
	h ^= h >> 11
	h += h << 15
	return int(h % uint64(size))
}

// entry is one key-value pair of a bucket chain.
type entry struct{ key, value string }

// table is a server's local hash table: TableSize buckets, each a chain in
// insertion order (a new key is appended; an existing key is overwritten in
// place). Not safe for concurrent use: the server applies one request at a
// time.
type table struct {
	buckets [TableSize][]entry
	n       int
}

func (t *table) get(key string) (string, bool) {
	for _, e := range t.buckets[LocalHash(key, TableSize)] {
		if e.key == key {
			return e.value, true
		}
	}
	return "", false
}

func (t *table) put(key, value string) {
	b := &t.buckets[LocalHash(key, TableSize)]
	for i := range *b {
		if (*b)[i].key == key {
			(*b)[i].value = value
			return
		}
	}
	*b = append(*b, entry{key, value})
	t.n++
}

// dump renders the table as the dump reply: the first datagram starts
// "storing <N> key-value pairs:\n", then "key --> value\n" per entry, buckets
// in ascending index order. A datagram holds at most limit bytes and whole
// bucket chains: a chain that does not fit in the current datagram starts
// the next one. A chain longer than limit by itself (possible only with
// near-maximal keys and values in one bucket) is split between lines, and a
// single line longer than limit is cut at limit: those are the only cases
// where a datagram ends inside a chain.
func (t *table) dump(limit int) [][]byte {
	var out [][]byte
	cur := []byte("storing " + strconv.Itoa(t.n) + " key-value pairs:\n")
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur = nil
	}
	var chain []byte
	for i := range t.buckets {
		if len(t.buckets[i]) == 0 {
			continue
		}
		chain = chain[:0]
		for _, e := range t.buckets[i] {
			chain = appendLine(chain, e)
		}
		if len(cur)+len(chain) <= limit {
			cur = append(cur, chain...)
			continue
		}
		flush()
		if len(chain) <= limit {
			cur = append(cur, chain...)
			continue
		}
		// An oversized chain: whole lines where they fit.
		for _, e := range t.buckets[i] {
			line := appendLine(nil, e)
			if len(cur)+len(line) > limit {
				flush()
			}
			if len(line) > limit {
				line = line[:limit]
			}
			cur = append(cur, line...)
		}
	}
	flush()
	return out
}

func appendLine(b []byte, e entry) []byte {
	b = append(b, e.key...)
	b = append(b, " --> "...)
	b = append(b, e.value...)
	return append(b, '\n')
}
