package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
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
func num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return groupDigits(int64(math.Round(v)))
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a == 0:
		return "0"
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// withSpread formats a value and, over several repetitions, their range:
// "41 200 (40 100–42 300)".
func withSpread(v float64, s spread) string {
	if s.n < 2 {
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
