package scenarios

import (
	"fmt"
	"github.com/kvbench/kvbench/driver"
	"github.com/kvbench/kvbench/results"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// statusLine prints driver progress: a line rewritten in place on a
// terminal, plain lines every plainEvery otherwise.
type statusLine struct {
	w          io.Writer
	label      string
	tty        bool
	plainEvery time.Duration
	lastPlain  time.Duration
	dirty      bool
}

const plainEvery = 5 * time.Second

func newStatusLine(w io.Writer, label string) *statusLine {
	return &statusLine{w: w, label: label, tty: IsTerminal(w), plainEvery: plainEvery}
}

// IsTerminal reports whether w is a terminal: the progress line is rewritten
// in place there, and the fuzz result line is in colour.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func (s *statusLine) update(p driver.Progress) {
	if s == nil || s.w == nil {
		return
	}
	var where string
	switch {
	case p.Total > 0:
		where = fmt.Sprintf("%d/%d ops (%.0f%%)", p.Done, p.Total, 100*float64(p.Done)/float64(p.Total))
	case p.Left > 0:
		where = fmt.Sprintf("%d ops, %s left", p.Done, p.Left.Round(time.Second))
	default:
		where = fmt.Sprintf("%d ops", p.Done)
	}
	line := fmt.Sprintf("%s %5.1fs  %s  %.0f ops/s  p99 %s", s.label, p.Elapsed.Seconds(), where, p.OpsPerSec, fmtLatency(p.P99))
	if p.Errors > 0 {
		line += fmt.Sprintf("  failed %d", p.Errors)
	}
	if p.Unknown > 0 {
		line += fmt.Sprintf("  unknown %d", p.Unknown)
	}
	if s.tty {
		fmt.Fprintf(s.w, "\r\033[K%s", line)
		s.dirty = true
		return
	}
	if p.Elapsed-s.lastPlain >= s.plainEvery {
		s.lastPlain = p.Elapsed
		fmt.Fprintln(s.w, line)
	}
}

// done ends the rewritten line so later output starts on a fresh line.
func (s *statusLine) done() {
	if s != nil && s.dirty {
		fmt.Fprintln(s.w)
		s.dirty = false
	}
}

func fmtLatency(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d >= 10*time.Microsecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	default:
		return results.FormatMicros(float64(d)/1e3) + "µs" // 0.351µs, not 0µs
	}
}
