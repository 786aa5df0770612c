package execclient

import (
	"io"
)

// tailBytes is how much of a client's stderr its errors quote.
const tailBytes = 1024

// prefixWriter writes each line to w with prefix in front (the clients'
// stderr share the run's log). One process's stderr is copied by one
// goroutine, so it needs no lock of its own.
type prefixWriter struct {
	w       io.Writer
	prefix  string
	midLine bool
	buf     []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = p.buf[:0]
	for _, c := range b {
		if !p.midLine {
			p.buf = append(p.buf, p.prefix...)
			p.midLine = true
		}
		p.buf = append(p.buf, c)
		if c == '\n' {
			p.midLine = false
		}
	}
	if _, err := p.w.Write(p.buf); err != nil {
		return 0, err
	}
	return len(b), nil
}
