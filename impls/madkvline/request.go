package madkvline

import (
	"fmt"

	"github.com/kvbench/kvbench/impls"
)

// ParseRequest parses one request line. stop is true for STOP (req is then
// zero). A blank line, an unknown kind, or a wrong number of tokens is an
// error wrapping ErrMalformed. Kind names are accepted in any case.
func ParseRequest(line []byte) (req impls.Request, stop bool, err error) {
	var buf [4][]byte
	f := fields(buf[:0], line)
	if len(f) == 0 {
		return req, false, fmt.Errorf("blank request line: %w", ErrMalformed)
	}
	if equalFold(f[0], "STOP") {
		if len(f) != 1 {
			return req, false, fmt.Errorf("request %s: STOP takes no arguments: %w", quote(line), ErrMalformed)
		}
		return req, true, nil
	}
	kind, ok := parseKind(f[0])
	if !ok {
		return req, false, fmt.Errorf("request %s: unknown kind %s (want PUT, SWAP, GET, DELETE, SCAN or STOP): %w",
			quote(line), quote(f[0]), ErrMalformed)
	}
	want := 3
	if kind == impls.Get || kind == impls.Delete {
		want = 2
	}
	if len(f) != want {
		return req, false, fmt.Errorf("request %s: %s takes %d arguments, got %d: %w",
			quote(line), kind, want-1, len(f)-1, ErrMalformed)
	}
	req = impls.Request{Kind: kind, Key: string(f[1])}
	switch kind {
	case impls.Put, impls.Swap:
		req.Value = string(f[2])
	case impls.Scan:
		req.End = string(f[2])
	}
	return req, false, nil
}

// parseKind parses a request kind name in any case.
func parseKind(b []byte) (impls.Kind, bool) {
	for k := impls.Kind(0); k < impls.NumKinds; k++ {
		if equalFold(b, k.String()) {
			return k, true
		}
	}
	return 0, false
}

// equalFold compares ASCII b with upper-case s, ignoring b's case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// AppendRequest appends req's line, newline included, to dst. A key, value
// or scan end that is empty or holds whitespace cannot be sent: the error
// wraps ErrUnrepresentable and dst is returned unchanged.
func AppendRequest(dst []byte, req impls.Request) ([]byte, error) {
	if !validToken(req.Key) {
		return dst, fmt.Errorf("%s key %q: %w", req.Kind, req.Key, ErrUnrepresentable)
	}
	var arg string
	switch req.Kind {
	case impls.Get, impls.Delete:
	case impls.Put, impls.Swap:
		arg = req.Value
		if !validToken(arg) {
			return dst, fmt.Errorf("%s %q value %q: %w", req.Kind, req.Key, arg, ErrUnrepresentable)
		}
	case impls.Scan:
		arg = req.End
		if !validToken(arg) {
			return dst, fmt.Errorf("SCAN %q end %q: %w", req.Key, arg, ErrUnrepresentable)
		}
	default:
		return dst, fmt.Errorf("%s: %w", req.Kind, ErrUnrepresentable)
	}
	dst = append(dst, req.Kind.String()...)
	dst = append(dst, ' ')
	dst = append(dst, req.Key...)
	if arg != "" {
		dst = append(dst, ' ')
		dst = append(dst, arg...)
	}
	return append(dst, '\n'), nil
}

// FormatRequest returns req's line, newline included (see AppendRequest).
func FormatRequest(req impls.Request) ([]byte, error) { return AppendRequest(nil, req) }

// StopLine is the request that ends a client, and its echo.
const StopLine = "STOP\n"
