package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/kvbench/kvbench/results"
)

// table is a markdown table.
type table struct {
	head  []string
	right []bool // right-align column i
	rows  [][]string
}

func newTable(cols ...string) *table {
	t := &table{}
	for _, c := range cols {
		// A leading '>' marks a numeric (right-aligned) column.
		name, num := strings.CutPrefix(c, ">")
		t.head, t.right = append(t.head, name), append(t.right, num)
	}
	return t
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(b *strings.Builder) {
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + strings.ReplaceAll(c, "|", `\|`) + " |")
		}
		b.WriteString("\n")
	}
	line(t.head)
	seps := make([]string, len(t.head))
	for i := range seps {
		seps[i] = "---"
		if t.right[i] {
			seps[i] = "--:"
		}
	}
	b.WriteString("|" + strings.Join(seps, "|") + "|\n")
	for _, r := range t.rows {
		line(r)
	}
	b.WriteString("\n")
}

// groupDigits writes n with spaces between groups of three digits: 41 200.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ' ')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// num formats a rate or a latency with about three significant digits.
// Numbers too large for an int64 (a corrupt run.json) print in exponent
// form rather than overflowing to a negative number.
func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 0) || a >= 1e15:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case a >= 100:
		return groupDigits(int64(math.Round(v)))
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a == 0:
		return "0"
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return results.FormatMicros(v) // 0.351: three significant digits
	}
}

// withSpread formats a value and, over several repetitions, their range:
// "41 200 (40 100–42 300)".
func withSpread(v float64, s spread) string {
	if s.n < 2 || num(s.min) == num(s.max) {
		return num(v)
	}
	return fmt.Sprintf("%s (%s–%s)", num(v), num(s.min), num(s.max))
}

// bytesHuman formats a memory size: 15.5 GiB.
func bytesHuman(b uint64) string {
	if b == 0 {
		return "?"
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, i := float64(b), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i]
}

// orDash returns s, or "–" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// md escapes text that comes from run.json (store and workload names,
// details, host names) for markdown: every character with a markdown
// meaning is backslash-escaped, so `<script>` and `# heading` print as
// themselves, and line breaks become spaces, so no text can start a
// heading, a list or a table row of its own. Table cells escape '|' when
// written.
func md(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch c {
		case '\n', '\r', '\t', '\v', '\f':
			b.WriteByte(' ')
		case '\\', '`', '*', '_', '{', '}', '[', ']', '<', '>', '(', ')', '#', '+', '!', '&', '~':
			b.WriteByte('\\')
			b.WriteRune(c)
		default:
			if c < 0x20 || c == 0x7f {
				continue
			}
			b.WriteRune(c)
		}
	}
	return b.String()
}

// linkEscape makes a relative path safe as a markdown link target.
func linkEscape(p string) string {
	var b strings.Builder
	for _, c := range []byte(p) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>[]"'\%`, c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
