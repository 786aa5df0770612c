package memkv

import (
	"math"
	"time"
)

// Numbers, expiry times and keys, parsed the way memcached 1.6 parses them.

type cnum struct {
	val      uint64
	overflow bool
}

func isCSpace(b byte) bool {
	return b == ' ' || (b >= '\t' && b <= '\r')
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

// parseCNumber scans b like C's strtoull(b, &end, 10): leading white
// space, an optional sign, decimal digits. ok is false when no digit was
// found; end is the index just past the digits.
func parseCNumber(b []byte) (n cnum, neg bool, end int, ok bool) {
	i := 0
	for i < len(b) && isCSpace(b[i]) {
		i++
	}
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	start := i
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		d := uint64(b[i] - '0')
		if n.val > (math.MaxUint64-d)/10 {
			n.overflow = true
		}
		n.val = n.val*10 + d
	}
	return n, neg, i, i > start
}

func tokenEnds(tok []byte, end int) bool { return end == len(tok) || isCSpace(tok[end]) }

// safeStrtoull is memcached's safe_strtoull (and, on LP64, safe_strtoul
// before the caller truncates to 32 bits).
func safeStrtoull(tok []byte) (uint64, bool) {
	n, neg, end, ok := parseCNumber(tok)
	if !ok || n.overflow || !tokenEnds(tok, end) {
		return 0, false
	}
	v := n.val
	if neg {
		v = -v
	}
	if int64(v) < 0 && containsByte(tok, '-') {
		return 0, false
	}
	return v, true
}

// safeStrtol is memcached's safe_strtol: a C long, then truncated to int32.
func safeStrtol(tok []byte) (int32, bool) {
	n, neg, end, ok := parseCNumber(tok)
	if !ok || n.overflow || !tokenEnds(tok, end) {
		return 0, false
	}
	var v int64
	switch {
	case neg && n.val > 1<<63:
		return 0, false
	case neg:
		v = int64(-n.val)
	case n.val > math.MaxInt64:
		return 0, false
	default:
		v = int64(n.val)
	}
	return int32(v), true
}

func appendUint(b []byte, v uint64) []byte {
	if v == 0 {
		return append(b, '0')
	}
	var tmp [20]byte
	i := len(tmp)
	for v > 0 {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, tmp[i:]...)
}

// expiry converts a memcached exptime into an absolute expiry in Unix
// nanoseconds: 0 never expires, up to 30 days is relative, above that an
// absolute Unix time, and a negative one is already expired.
func expiry(t int32, now int64) int64 {
	switch {
	case t < 0:
		return 1
	case t == 0:
		return 0
	case t > maxRelExpiry:
		return int64(t) * int64(time.Second)
	default:
		return now + int64(t)*int64(time.Second)
	}
}

// validKey reports whether k may be stored: at most 250 bytes and no
// control characters (tokens never contain spaces).
func validKey(k []byte) bool {
	if len(k) > maxKeyLen {
		return false
	}
	for _, c := range k {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
