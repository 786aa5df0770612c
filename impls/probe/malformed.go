package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"
)

// Case is one input sent on a fresh connection.
type Case struct {
	Name string
	In   []byte
}

// Diff is a case two servers answered differently.
type Diff struct {
	Case string
	In   []byte
	// A and B are the two servers' answers, after normalization.
	A, B []byte
}

// exchangeLimit bounds one exchange; a server that neither answers nor
// closes the connection within it is reported with what it sent.
const exchangeLimit = 10 * time.Second

// Exchange sends in to addr on a new connection, closes its sending side,
// and returns everything the server wrote until it closed the connection.
// A reset ends the answer like a close. If the server neither closes nor
// resets within 10 s (or ctx ends), the answer so far is returned with
// "<still open>" appended.
func Exchange(ctx context.Context, addr string, in []byte) ([]byte, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	defer nc.Close()
	deadline := time.Now().Add(exchangeLimit)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	nc.SetDeadline(deadline)
	werr := make(chan error, 1)
	go func() {
		_, err := nc.Write(in)
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		werr <- err
	}()
	out, err := io.ReadAll(nc)
	<-werr
	var ne net.Error
	switch {
	case err == nil, errors.Is(err, syscall.ECONNRESET):
		return out, nil
	case errors.As(err, &ne) && ne.Timeout():
		return append(out, "<still open>"...), nil
	default:
		return out, fmt.Errorf("probe: reading the answer: %w", err)
	}
}

// Compare sends every case to servers a and b on fresh connections
// (sending reset first on its own connection to each, e.g. "flush_all\r\n",
// when not nil) and returns the cases whose answers differ after
// normalize (nil: compare bytes as they are).
func Compare(ctx context.Context, a, b string, cases []Case, reset []byte, normalize func([]byte) []byte) ([]Diff, error) {
	if normalize == nil {
		normalize = func(b []byte) []byte { return b }
	}
	var diffs []Diff
	for _, c := range cases {
		var outs [2][]byte
		for i, addr := range []string{a, b} {
			if reset != nil {
				if _, err := Exchange(ctx, addr, reset); err != nil {
					return diffs, err
				}
			}
			out, err := Exchange(ctx, addr, c.In)
			if err != nil {
				return diffs, fmt.Errorf("case %q: %w", c.Name, err)
			}
			outs[i] = normalize(out)
		}
		if !bytes.Equal(outs[0], outs[1]) {
			diffs = append(diffs, Diff{Case: c.Name, In: c.In, A: outs[0], B: outs[1]})
		}
	}
	return diffs, nil
}

// MemcachedInputs is a table of malformed and hostile inputs for a
// memcached text-protocol server: broken framing, bad numbers, bad keys,
// wrong token counts, bad data blocks, oversized and undersized values,
// arithmetic edge cases, and random bytes drawn from seed. Every case
// stands alone (send a flush_all first); answers of a faithful server
// match memcached 1.6's byte for byte, CAS values and versions aside.
func MemcachedInputs(seed uint64) []Case {
	long := strings.Repeat("k", 250)
	tooLong := strings.Repeat("k", 251)
	manyKeys := "get" + strings.Repeat(" key", 2000) + "\r\n"
	cs := []Case{
		{"empty line", []byte("\r\n")},
		{"spaces only", []byte("    \r\n")},
		{"bare newline", []byte("\n")},
		{"carriage returns", []byte("\r\r\r\n")},
		{"unknown command", []byte("frobnicate a b c\r\n")},
		{"upper case", []byte("SET a 0 0 1\r\nx\r\nGET a\r\n")},
		{"tab separated", []byte("get\ta\r\n")},
		{"NUL in command", []byte("ge\x00t a\r\nget a\r\n")},
		{"NUL after key", []byte("set a\x00b 0 0 1\r\nx\r\nget a\r\n")},
		{"HTTP request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"get without key", []byte("get\r\n")},
		{"get max key", []byte("set " + long + " 0 0 1\r\nx\r\nget " + long + "\r\n")},
		{"get key too long", []byte("get " + tooLong + "\r\n")},
		{"set key too long", []byte("set " + tooLong + " 0 0 1\r\nx\r\n")},
		{"control character in key", []byte("set a\x01b 0 0 1\r\nx\r\nget a\x01b\r\n")},
		{"many keys", []byte(manyKeys)},
		{"set missing fields", []byte("set a 0 0\r\nx\r\n")},
		{"set too many fields", []byte("set a 0 0 1 noreply extra\r\nx\r\n")},
		{"set negative length", []byte("set a 0 0 -1\r\n\r\n")},
		{"set length 2^32+1", []byte("set a 0 0 4294967297\r\nx\r\nget a\r\n")},
		{"set length 2^64", []byte("set a 0 0 18446744073709551616\r\nx\r\n")},
		{"set length with junk", []byte("set a 0 0 1z\r\nx\r\n")},
		{"set length hex", []byte("set a 0 0 0x1\r\nx\r\n")},
		{"set flags negative", []byte("set a -1 0 1\r\nx\r\n")},
		{"set flags 2^32", []byte("set a 4294967296 0 1\r\nx\r\nget a\r\n")},
		{"set flags 2^64", []byte("set a 18446744073709551616 0 1\r\nx\r\n")},
		{"set exptime junk", []byte("set a 0 1x 1\r\nx\r\n")},
		{"set exptime negative", []byte("set a 0 -1 1\r\nx\r\nget a\r\n")},
		{"set exptime huge", []byte("set a 0 99999999999 1\r\nx\r\n")},
		{"data longer than declared", []byte("set a 0 0 1\r\nxyz\r\nget a\r\n")},
		{"data shorter than declared", []byte("set a 0 0 5\r\nab\r\nget a\r\n")},
		{"data without CRLF", []byte("set a 0 0 1\r\nxyget a\r\n")},
		{"data with LF only", []byte("set a 0 0 1\r\nx\nget a\r\n")},
		{"data cut at EOF", []byte("set a 0 0 100\r\nabc")},
		{"value too large", []byte(fmt.Sprintf("set a 0 0 %d\r\n%s\r\nget a\r\n", 1<<20+1, strings.Repeat("v", 1<<20+1)))},
		{"too large set drops old value", []byte(fmt.Sprintf("set a 0 0 1\r\nx\r\nset a 0 0 %d\r\n%s\r\nget a\r\n", 1<<20+1, strings.Repeat("v", 1<<20+1)))},
		{"noreply misplaced", []byte("set a 0 0 1 noreply x\r\nx\r\n")},
		{"noreply errors silenced", []byte("set a x 0 1 noreply\r\nx\r\nversion\r\n")},
		{"add existing", []byte("set a 0 0 1\r\nx\r\nadd a 0 0 1\r\ny\r\nget a\r\n")},
		{"replace missing", []byte("replace a 0 0 1\r\nx\r\n")},
		{"append missing", []byte("append a 0 0 1\r\nx\r\n")},
		{"prepend bad length", []byte("prepend a 0 0 z\r\nx\r\n")},
		{"cas missing unique", []byte("cas a 0 0 1\r\nx\r\n")},
		{"cas zero", []byte("set a 0 0 1\r\nx\r\ncas a 0 0 1 0\r\ny\r\n")},
		{"cas junk unique", []byte("cas a 0 0 1 12q\r\nx\r\n")},
		{"cas on missing key", []byte("cas a 0 0 1 5\r\nx\r\n")},
		{"incr missing key", []byte("incr a 1\r\n")},
		{"incr non-numeric value", []byte("set a 0 0 3\r\nabc\r\nincr a 1\r\n")},
		{"incr junk delta", []byte("set a 0 0 1\r\n1\r\nincr a x\r\n")},
		{"incr negative delta", []byte("set a 0 0 1\r\n1\r\nincr a -1\r\n")},
		{"incr wraps at 2^64", []byte("set a 0 0 20\r\n18446744073709551615\r\nincr a 2\r\nget a\r\n")},
		{"incr delta 2^64", []byte("set a 0 0 1\r\n1\r\nincr a 18446744073709551616\r\n")},
		{"decr below zero", []byte("set a 0 0 2\r\n10\r\ndecr a 100\r\nget a\r\n")},
		{"incr value with spaces", []byte("set a 0 0 3\r\n 1 \r\nincr a 1\r\n")},
		{"delete extra args", []byte("delete a b c\r\n")},
		{"delete with time 0", []byte("set a 0 0 1\r\nx\r\ndelete a 0\r\n")},
		{"delete with time 5", []byte("delete a 5\r\n")},
		{"touch junk exptime", []byte("touch a x\r\n")},
		{"gat junk exptime", []byte("gat x a\r\n")},
		{"gat without key", []byte("gat 10\r\n")},
		{"flush_all junk", []byte("flush_all x\r\n")},
		{"flush_all noreply", []byte("flush_all noreply\r\nversion\r\n")},
		{"verbosity junk", []byte("verbosity x\r\n")},
		{"stats detail dump", []byte("stats detail dump\r\n")},
		{"stats unknown", []byte("stats bogus\r\n")},
		{"quit then more", []byte("quit\r\nget a\r\n")},
		{"pipelined storm", []byte(strings.Repeat("set a 0 0 1\r\nx\r\nget a\r\nbogus\r\n", 200))},
	}
	r := rand.New(rand.NewPCG(seed, 0x6d616c66))
	for i := 0; i < 6; i++ {
		b := make([]byte, 64<<i)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		// Printable random lines too: they reach the tokenizer unharmed.
		if i%2 == 1 {
			for j := range b {
				b[j] = " \r\nagstdeci0123456789"[b[j]%21]
			}
		}
		cs = append(cs, Case{fmt.Sprintf("random bytes %d (%d bytes)", i, len(b)), b})
	}
	return cs
}
