package istkvs

import (
	"fmt"
	"strings"
)

// Diff returns a line diff of want and got ("-" lines only in want, "+"
// only in got, with two lines of context), for conformance reports. It is
// quadratic; outputs larger than 2000 lines show only the first difference.
func Diff(want, got string) string {
	a, b := splitLines(want), splitLines(got)
	if len(a)*len(b) > 4_000_000 {
		for i := 0; i < len(a) && i < len(b); i++ {
			if a[i] != b[i] {
				return fmt.Sprintf("line %d:\n-%s+%s", i+1, a[i], b[i])
			}
		}
		return fmt.Sprintf("lengths differ: %d vs %d lines\n", len(a), len(b))
	}
	// LCS table, from the end.
	n, m := len(a), len(b)
	l := make([][]int32, n+1)
	for i := range l {
		l[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			lines = append(lines, line{' ', a[i]})
			i++
			j++
		case i < n && (j == m || l[i+1][j] >= l[i][j+1]):
			lines = append(lines, line{'-', a[i]})
			i++
		default:
			lines = append(lines, line{'+', b[j]})
			j++
		}
	}
	var sb strings.Builder
	for k, ln := range lines {
		near := false
		for d := -2; d <= 2; d++ {
			if k+d >= 0 && k+d < len(lines) && lines[k+d].op != ' ' {
				near = true
			}
		}
		if !near {
			continue
		}
		t := ln.text
		if !strings.HasSuffix(t, "\n") {
			t += "\n\\ no newline at end\n"
		}
		sb.WriteByte(ln.op)
		sb.WriteString(t)
	}
	return sb.String()
}

func splitLines(s string) []string {
	l := strings.SplitAfter(s, "\n")
	if len(l) > 0 && l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}
