package workload

import (
	"math/rand/v2"
	"sort"
	"strconv"
	"unsafe"
)

// keyFormat turns YCSB record numbers into key names, as CoreWorkload's
// buildKeyName: prefix ("user"), then the number, hashed with FNV-64 when
// the insert order is hashed, left-padded with zeros to zeropadding digits.
type keyFormat struct {
	prefix  string
	pad     int
	ordered bool
}

// append appends the key of record n to b.
func (f keyFormat) append(b []byte, n int64) []byte {
	if !f.ordered {
		n = fnvHash64(n)
	}
	var tmp [20]byte
	d := strconv.AppendInt(tmp[:0], n, 10)
	b = append(b, f.prefix...)
	for i := len(d); i < f.pad; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

// key returns the key of record n as a fresh string.
func (f keyFormat) key(n int64) string { return string(f.append(nil, n)) }

// maxLen bounds the length of any key.
func (f keyFormat) maxLen() int { return len(f.prefix) + max(f.pad, 20) }

// keyArena hands out key strings carved from large byte chunks, so building
// a key costs no allocation of its own (one 8 KiB chunk per ~250 keys).
// Bytes are written once, before the string is handed out, and never
// modified afterwards: the strings stay valid forever (a chunk lives as long
// as any key in it). An arena belongs to one stream.
type keyArena struct{ buf []byte }

const arenaChunk = 8 << 10

func (a *keyArena) key(f keyFormat, n int64) string {
	if need := f.maxLen(); cap(a.buf)-len(a.buf) < need {
		a.buf = make([]byte, 0, max(arenaChunk, need))
	}
	start := len(a.buf)
	a.buf = f.append(a.buf, n)
	b := a.buf[start:len(a.buf):len(a.buf)]
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// scanIndex maps a scan (start key, length in records) to an inclusive key
// range [start, end] for stores that scan by range. It holds the loaded
// keys (a sample of every step-th record when there are more than
// maxScanIndex of them) in key order; end is the key length records after
// start in that order. Records inserted during the run are not in the index,
// so a range may hold slightly more than length records; they are in the
// store, and YCSB's "length records from start" would return them too.
type scanIndex struct {
	keys []string // sorted
	step int64    // records per index entry
}

// maxScanIndex caps the memory the index takes (about 40 MiB of keys).
const maxScanIndex = 1 << 20

// newScanIndex indexes records [start, start+count) named by key.
func newScanIndex(key func(int64) string, start, count int64) *scanIndex {
	return newScanIndexCap(key, start, count, maxScanIndex)
}

// newScanIndexCap indexes at most about limit keys.
func newScanIndexCap(key func(int64) string, start, count, limit int64) *scanIndex {
	step := (count + limit - 1) / limit
	idx := &scanIndex{step: step, keys: make([]string, 0, (count+step-1)/step)}
	for n := start; n < start+count; n += step {
		idx.keys = append(idx.keys, key(n))
	}
	sort.Strings(idx.keys)
	return idx
}

// end returns the inclusive end key of a scan of length records from start.
func (s *scanIndex) end(start string, length int64) string {
	i := sort.SearchStrings(s.keys, start)
	// Entry i is start itself or, for a key not in the index (inserted
	// during the run, or skipped by sampling), the first one after it.
	steps := (length + s.step - 1) / s.step
	j := int64(i) + steps - 1
	if j >= int64(len(s.keys)) {
		j = int64(len(s.keys)) - 1
	}
	if j < 0 || s.keys[j] < start {
		return start
	}
	return s.keys[j]
}

// alphanumeric is the alphabet of generated values and fuzz keys.
const alphanumeric = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomAlnum returns n random alphanumeric characters drawn from r.
func randomAlnum(r *rand.Rand, n int) string {
	b := make([]byte, n)
	fillAlnum(r, b)
	return string(b)
}

// fillAlnum fills b with random alphanumeric characters, using each 64-bit
// draw for nine characters (62^9 divides 2^64 closely enough that the bias
// is below 0.1%).
func fillAlnum(r *rand.Rand, b []byte) {
	var v uint64
	left := 0
	for i := range b {
		if left == 0 {
			v, left = r.Uint64(), 9
		}
		b[i] = alphanumeric[v%62]
		v /= 62
		left--
	}
}

// isAlnum reports whether s is a non-empty ASCII alphanumeric token, as
// MadKV keys and values must be.
func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
