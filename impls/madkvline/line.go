package madkvline

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxLine is the longest line either side reads, newline excluded. A longer
// line is discarded up to its newline and reported as ErrLineTooLong.
const MaxLine = 64 << 20

// Errors of this package, tested with errors.Is.
var (
	// ErrMalformed: a request or reply line that does not follow the protocol.
	ErrMalformed = errors.New("malformed line")
	// ErrLineTooLong: a line longer than MaxLine.
	ErrLineTooLong = fmt.Errorf("line longer than %d bytes: %w", MaxLine, ErrMalformed)
	// ErrUnrepresentable: a request or reply that the protocol cannot carry
	// (an empty key, a key or value with whitespace, a scan entry "SCAN END").
	ErrUnrepresentable = errors.New("cannot be written in the MadKV line protocol")
	// ErrFailed: the client answered "ERROR failed": the operation certainly
	// did not take effect.
	ErrFailed = errors.New("client reported a failed operation")
	// ErrRejected: the client answered "ERROR malformed": it could not parse
	// the request line, so nothing happened.
	ErrRejected = errors.New("client rejected the request line")
)

// isSpace reports whether c separates tokens.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

// fields splits line on runs of whitespace into dst (reused) and returns it.
// The tokens alias line.
func fields(dst [][]byte, line []byte) [][]byte {
	dst = dst[:0]
	for i := 0; i < len(line); {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		j := i
		for j < len(line) && !isSpace(line[j]) {
			j++
		}
		if j > i {
			dst = append(dst, line[i:j])
		}
		i = j
	}
	return dst
}

// validToken reports whether s can be sent as one token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) {
			return false
		}
	}
	return true
}

// lineReader reads newline-terminated lines of any length up to MaxLine.
type lineReader struct {
	br  *bufio.Reader
	buf []byte
	// max is the longest line accepted; 0 means MaxLine (tests lower it).
	max int
	// unterminated: the last line returned ended at the end of input, with
	// no newline.
	unterminated bool
}

// readLine returns the next line without its newline. The slice is valid
// until the next call. At the end of input it returns the last unterminated
// line (if any) with a nil error, then io.EOF. A line over MaxLine is
// skipped to its newline and reported as ErrLineTooLong.
func (r *lineReader) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	r.unterminated = false
	tooLong := false
	limit := r.max
	if limit == 0 {
		limit = MaxLine
	}
	for {
		chunk, err := r.br.ReadSlice('\n')
		if !tooLong {
			if len(r.buf)+len(chunk) > limit+1 || (err != nil && len(r.buf)+len(chunk) > limit) {
				tooLong = true
				r.buf = r.buf[:0]
			} else if err == nil && len(r.buf) == 0 {
				// The common case: the whole line is in the bufio buffer.
				return chunk[:len(chunk)-1], nil
			} else {
				r.buf = append(r.buf, chunk...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, ErrLineTooLong
			}
			return r.buf[:len(r.buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if tooLong {
				return nil, ErrLineTooLong
			}
			if len(r.buf) > 0 {
				r.unterminated = true
				return r.buf, nil
			}
			return nil, io.EOF
		default:
			return nil, err
		}
	}
}

// lineBuffered reports whether a whole further line is already buffered,
// without reading more input.
func (r *lineReader) lineBuffered() bool {
	n := r.br.Buffered()
	if n == 0 {
		return false
	}
	b, _ := r.br.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}

// quote renders a line for an error message, cut to a readable length.
func quote(line []byte) string {
	const max = 200
	if len(line) > max {
		return fmt.Sprintf("%q... (%d bytes)", line[:max], len(line))
	}
	return fmt.Sprintf("%q", line)
}

// trimSpace trims whitespace as the protocol defines it.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
