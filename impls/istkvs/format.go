package istkvs

import (
	"sort"
	"strconv"
	"strings"
)

// String renders c as a job line (without '\n'), the inverse of ParseLine.
func (c Command) String() string {
	var b strings.Builder
	switch c.Op {
	case OpWrite:
		b.WriteString("WRITE [")
		for _, p := range c.Pairs {
			b.WriteByte('(')
			b.WriteString(p.Key)
			b.WriteByte(',')
			b.WriteString(p.Value)
			b.WriteByte(')')
		}
		b.WriteByte(']')
	case OpRead, OpDelete:
		b.WriteString(c.Op.String())
		b.WriteString(" [")
		b.WriteString(strings.Join(c.Keys, ","))
		b.WriteByte(']')
	case OpWait:
		b.WriteString("WAIT ")
		b.WriteString(strconv.FormatUint(uint64(c.Delay), 10))
	case OpNone:
	default:
		b.WriteString(c.Op.String())
	}
	return b.String()
}

// appendRead appends a READ's output line: the keys sorted by byte order,
// each with its value or KVSERROR. vals[i] belongs to keys[i]; found[i]
// says whether it exists.
func appendRead(out []byte, keys, vals []string, found []bool) []byte {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
	out = append(out, '[')
	for _, i := range idx {
		out = append(out, '(')
		out = append(out, keys[i]...)
		out = append(out, ',')
		if found[i] {
			out = append(out, vals[i]...)
		} else {
			out = append(out, ReadMissing...)
		}
		out = append(out, ')')
	}
	return append(out, "]\n"...)
}

// appendDelete appends a DELETE's output line: the missing keys in command
// order, or nothing when none was missing.
func appendDelete(out []byte, missing []string) []byte {
	if len(missing) == 0 {
		return out
	}
	out = append(out, '[')
	for _, k := range missing {
		out = append(out, '(')
		out = append(out, k...)
		out = append(out, ',')
		out = append(out, DeleteMissing...)
		out = append(out, ')')
	}
	return append(out, "]\n"...)
}

// appendShowLine appends one SHOW (and backup) line: "(key, value)\n".
func appendShowLine(out []byte, k, v string) []byte {
	out = append(out, '(')
	out = append(out, k...)
	out = append(out, ", "...)
	out = append(out, v...)
	return append(out, ")\n"...)
}

// ParseShow parses SHOW output (or a backup file) into pairs. It reports
// false for anything that is not a sequence of "(key, value)\n" lines.
func ParseShow(b string) ([]Pair, bool) {
	var pairs []Pair
	for len(b) > 0 {
		line, rest, ok := strings.Cut(b, "\n")
		if !ok || len(line) < 5 || line[0] != '(' || line[len(line)-1] != ')' {
			return nil, false
		}
		k, v, ok := strings.Cut(line[1:len(line)-1], ", ")
		if !ok {
			return nil, false
		}
		pairs = append(pairs, Pair{Key: k, Value: v})
		b = rest
	}
	return pairs, true
}

// ParseReadLine parses a READ's output line (without '\n') into keys and
// values; a missing key's value is KVSERROR.
func ParseReadLine(line string) ([]Pair, bool) {
	if len(line) < 2 || line[0] != '[' || line[len(line)-1] != ']' {
		return nil, false
	}
	var pairs []Pair
	b := line[1 : len(line)-1]
	for len(b) > 0 {
		if b[0] != '(' {
			return nil, false
		}
		end := strings.IndexByte(b, ')')
		if end < 0 {
			return nil, false
		}
		k, v, ok := strings.Cut(b[1:end], ",")
		if !ok {
			return nil, false
		}
		pairs = append(pairs, Pair{Key: k, Value: v})
		b = b[end+1:]
	}
	return pairs, true
}
