package madkvline

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/kvbench/kvbench/impls"
)

// Class is the class of an ERROR reply, a kvbench extension (see the package
// documentation).
type Class string

// The ERROR reply classes.
const (
	// Unsupported: the store has no such operation; nothing happened.
	Unsupported Class = "unsupported"
	// Failed: the operation certainly did not take effect.
	Failed Class = "failed"
	// Unknown: the operation may or may not have taken effect.
	Unknown Class = "unknown"
	// Malformed: the request line could not be parsed; nothing happened.
	Malformed Class = "malformed"
)

// ClassOf classifies an error returned by impls.Client.Do.
func ClassOf(err error) Class {
	switch {
	case errors.Is(err, impls.ErrUnsupported):
		return Unsupported
	case impls.IsUnknown(err):
		return Unknown
	case errors.Is(err, ErrMalformed):
		return Malformed
	}
	return Failed
}

// sentinel is what a ClientError of class c wraps.
func (c Class) sentinel() error {
	switch c {
	case Unsupported:
		return impls.ErrUnsupported
	case Unknown:
		return impls.ErrUnknownOutcome
	case Malformed:
		return ErrRejected
	}
	return ErrFailed
}

// AppendError appends the line "ERROR <class> <msg>\n" to dst; newlines and
// other whitespace in msg become single spaces.
func AppendError(dst []byte, class Class, msg string) []byte {
	dst = append(dst, "ERROR "...)
	dst = append(dst, class...)
	var buf [8][]byte
	for _, w := range fields(buf[:0], []byte(msg)) {
		dst = append(dst, ' ')
		dst = append(dst, w...)
	}
	return append(dst, '\n')
}

// AppendReply appends the reply to req, as the protocol spells resp, to dst.
// Put and Delete answer found, not_found, or (Found Unknown) the extension
// unknown; Get and Swap answer the value or null, and need Found Present or
// Absent; a Scan answers its pairs in the order given. A key or value the
// protocol cannot carry is an error wrapping ErrUnrepresentable and dst is
// returned unchanged.
func AppendReply(dst []byte, req impls.Request, resp impls.Response) ([]byte, error) {
	if !validToken(req.Key) {
		return dst, fmt.Errorf("%s key %q: %w", req.Kind, req.Key, ErrUnrepresentable)
	}
	start := len(dst)
	dst = append(dst, req.Kind.String()...)
	dst = append(dst, ' ')
	dst = append(dst, req.Key...)
	dst = append(dst, ' ')
	switch req.Kind {
	case impls.Put, impls.Delete:
		switch resp.Found {
		case impls.Present:
			dst = append(dst, "found"...)
		case impls.Absent:
			dst = append(dst, "not_found"...)
		default:
			dst = append(dst, "unknown"...)
		}
	case impls.Get, impls.Swap:
		switch {
		case resp.Found == impls.Absent:
			dst = append(dst, "null"...)
		case resp.Found == impls.Present && validToken(resp.Value):
			dst = append(dst, resp.Value...)
		case resp.Found == impls.Present:
			return dst[:start], fmt.Errorf("%s %q: value %s: %w", req.Kind, req.Key, quote([]byte(resp.Value)), ErrUnrepresentable)
		default:
			return dst[:start], fmt.Errorf("%s %q: the store did not say whether the key exists: %w", req.Kind, req.Key, ErrUnrepresentable)
		}
	case impls.Scan:
		if !validToken(req.End) {
			return dst[:start], fmt.Errorf("SCAN end %q: %w", req.End, ErrUnrepresentable)
		}
		dst = append(dst, req.End...)
		dst = append(dst, " BEGIN\n"...)
		for _, p := range resp.Pairs {
			if !validToken(p.Key) || !validToken(p.Value) || (p.Key == "SCAN" && p.Value == "END") {
				return dst[:start], fmt.Errorf("SCAN %q %q: entry %q %s: %w", req.Key, req.End, p.Key, quote([]byte(p.Value)), ErrUnrepresentable)
			}
			dst = append(dst, "  "...)
			dst = append(dst, p.Key...)
			dst = append(dst, ' ')
			dst = append(dst, p.Value...)
			dst = append(dst, '\n')
		}
		dst = append(dst, "SCAN END"...)
	default:
		return dst[:start], fmt.Errorf("%s: %w", req.Kind, ErrUnrepresentable)
	}
	return append(dst, '\n'), nil
}

// FormatReply returns the reply to req (see AppendReply).
func FormatReply(req impls.Request, resp impls.Response) ([]byte, error) {
	return AppendReply(nil, req, resp)
}

// ReplyError is a reply that does not follow the protocol: a wrong kind or
// key echo, a wrong number of tokens, a line that is not a scan entry, or
// the end of input in the middle of a reply. It wraps ErrMalformed and, when
// the request may have changed the store (Put, Swap, Delete: the client may
// have executed it before printing nonsense), impls.ErrUnknownOutcome too.
// A Get or Scan with a malformed reply changed nothing: a definite failure.
type ReplyError struct {
	// Req is the request the reply answers.
	Req impls.Request
	// Line is the offending line, quoted and cut to a readable length ("" at
	// the end of input).
	Line string
	// Reason says what is wrong with it.
	Reason string
	// Cause, when not nil, is a further error the reply error wraps
	// (io.ErrUnexpectedEOF when the output ended inside a SCAN reply).
	Cause error
	// stop: the reply was to STOP.
	stop bool
}

// Error names the request, the reason and the line.
func (e *ReplyError) Error() string {
	line := e.Line
	if line == "" {
		line = "(no line)"
	}
	req := `"STOP"`
	if !e.stop {
		req = Describe(e.Req)
	}
	return fmt.Sprintf("malformed reply to %s: %s: %s", req, e.Reason, line)
}

// Unwrap returns ErrMalformed, plus impls.ErrUnknownOutcome for a request
// that may have changed the store.
func (e *ReplyError) Unwrap() []error {
	errs := []error{ErrMalformed}
	if Mutates(e.Req.Kind) && !e.stop {
		errs = append(errs, impls.ErrUnknownOutcome)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// Mutates reports whether requests of kind k may change the store.
func Mutates(k impls.Kind) bool { return k == impls.Put || k == impls.Swap || k == impls.Delete }

// ClientError is an ERROR reply: the client says the request failed. It
// wraps the class's sentinel: impls.ErrUnsupported, ErrFailed,
// impls.ErrUnknownOutcome or ErrRejected.
type ClientError struct {
	Req     impls.Request
	Class   Class
	Message string
}

// Error names the request, the class and the client's message.
func (e *ClientError) Error() string {
	return fmt.Sprintf("client answered %s: ERROR %s %s", Describe(e.Req), e.Class, e.Message)
}

// Unwrap returns the class's sentinel.
func (e *ClientError) Unwrap() error { return e.Class.sentinel() }

// Describe renders req as its request line (without the newline), cut to a
// readable length, for error messages.
func Describe(req impls.Request) string {
	line, err := AppendRequest(nil, req)
	if err != nil {
		return fmt.Sprintf("%s %q %q %q", req.Kind, req.Key, req.Value, req.End)
	}
	return quote(line[:len(line)-1])
}

// ReplyReader reads replies from a client's stdout. It is not safe for
// concurrent use; one request is outstanding at a time.
type ReplyReader struct {
	lr lineReader
	f  [][]byte
}

// NewReplyReader reads replies from r.
func NewReplyReader(r io.Reader) *ReplyReader {
	return &ReplyReader{lr: lineReader{br: bufio.NewReaderSize(r, 64<<10)}}
}

// next returns the next non-blank line and its tokens (both valid until
// the next call). At the end of input it returns io.EOF.
func (rr *ReplyReader) next() ([]byte, [][]byte, error) {
	for {
		line, err := rr.lr.readLine()
		if err != nil {
			return nil, nil, err
		}
		if rr.lr.unterminated {
			// A reply line is complete only with its newline: the writer
			// stopped in the middle of it.
			return nil, nil, &ReplyError{Line: quote(line), Reason: "output ended inside this line", Cause: io.ErrUnexpectedEOF}
		}
		rr.f = fields(rr.f, line)
		if len(rr.f) > 0 {
			return line, rr.f, nil
		}
	}
}

// ReadReply reads the reply to req. Errors:
//   - *ReplyError for a reply that breaks the protocol (after it, the stream
//     is out of step: the caller should restart the client);
//   - *ClientError for an ERROR reply (the stream is in step);
//   - io.EOF when the client's output ended before the reply began, an
//     error wrapping io.ErrUnexpectedEOF when it ended inside a SCAN reply,
//     and the reader's own error otherwise.
func (rr *ReplyReader) ReadReply(req impls.Request) (impls.Response, error) {
	line, f, err := rr.next()
	if err != nil {
		var re *ReplyError
		if errors.As(err, &re) {
			re.Req = req
		}
		if errors.Is(err, ErrLineTooLong) {
			return impls.Response{}, &ReplyError{Req: req, Reason: err.Error()}
		}
		return impls.Response{}, err
	}
	bad := func(reason string, args ...any) (impls.Response, error) {
		return impls.Response{}, &ReplyError{Req: req, Line: quote(line), Reason: fmt.Sprintf(reason, args...)}
	}
	if string(f[0]) == "ERROR" {
		if len(f) < 2 {
			return bad("ERROR without a class")
		}
		c := Class(f[1])
		switch c {
		case Unsupported, Failed, Unknown, Malformed:
		default:
			return bad("unknown ERROR class %q", f[1])
		}
		words := make([]string, 0, len(f)-2)
		for _, w := range f[2:] {
			words = append(words, string(w))
		}
		return impls.Response{}, &ClientError{Req: req, Class: c, Message: strings.Join(words, " ")}
	}
	kind := req.Kind.String()
	if string(f[0]) != kind {
		return bad("want a %s reply", kind)
	}
	want := 3
	if req.Kind == impls.Scan {
		want = 4
	}
	if len(f) != want {
		return bad("want %d tokens, got %d", want, len(f))
	}
	if string(f[1]) != req.Key {
		return bad("key %s is not the requested %s", quote(f[1]), quote([]byte(req.Key)))
	}
	arg := f[2]
	switch req.Kind {
	case impls.Put, impls.Delete:
		switch string(arg) {
		case "found":
			return impls.Response{Found: impls.Present}, nil
		case "not_found":
			return impls.Response{Found: impls.Absent}, nil
		case "unknown":
			return impls.Response{Found: impls.Unknown}, nil
		}
		return bad("want found or not_found, got %s", quote(arg))
	case impls.Get, impls.Swap:
		if string(arg) == "null" {
			return impls.Response{Found: impls.Absent}, nil
		}
		return impls.Response{Found: impls.Present, Value: string(arg)}, nil
	case impls.Scan:
		if string(arg) != req.End {
			return bad("end %s is not the requested %s", quote(arg), quote([]byte(req.End)))
		}
		if string(f[3]) != "BEGIN" {
			return bad("want SCAN %s %s BEGIN", req.Key, req.End)
		}
		return rr.readScan(req)
	}
	return bad("request kind %s has no reply", req.Kind)
}

var scanEnd = []byte("SCAN END")

// readScan reads scan entries up to the line "SCAN END".
func (rr *ReplyReader) readScan(req impls.Request) (impls.Response, error) {
	var resp impls.Response
	for {
		line, f, err := rr.next()
		switch {
		case errors.Is(err, io.EOF):
			return impls.Response{}, &ReplyError{Req: req, Cause: io.ErrUnexpectedEOF, Reason: fmt.Sprintf(
				"output ended after %d scan entries, before SCAN END", len(resp.Pairs))}
		case errors.Is(err, ErrLineTooLong):
			return impls.Response{}, &ReplyError{Req: req, Reason: err.Error()}
		case err != nil:
			var re *ReplyError
			if errors.As(err, &re) {
				re.Req = req
			}
			return impls.Response{}, err
		}
		if bytes.Equal(trimSpace(line), scanEnd) {
			return resp, nil
		}
		if len(f) != 2 {
			return impls.Response{}, &ReplyError{Req: req, Line: quote(line),
				Reason: fmt.Sprintf("scan entry %d: want \"  key value\" or SCAN END", len(resp.Pairs)+1)}
		}
		resp.Pairs = append(resp.Pairs, impls.Pair{Key: string(f[0]), Value: string(f[1])})
	}
}

// ReadStop reads the echo of STOP. Any other non-blank line is a
// *ReplyError; the end of input is io.EOF.
func (rr *ReplyReader) ReadStop() error {
	line, f, err := rr.next()
	if err != nil {
		var re *ReplyError
		if errors.As(err, &re) {
			re.stop = true
		}
		return err
	}
	if len(f) != 1 || string(f[0]) != "STOP" {
		return &ReplyError{stop: true, Line: quote(line), Reason: "want the STOP echo"}
	}
	return nil
}
