package memkv

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

// randomBytes returns n seeded random bytes.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// withheldCases end with an incomplete command: every complete command
// before it must be answered without waiting for more input.
var withheldCases = []struct {
	name  string
	in    []byte
	lines int    // reply lines due
	want  string // prefix of the replies
	// memcached 1.6 itself withholds here: it does not send while it waits
	// for a data block. memkv answers anyway.
	memcachedWithholds bool
}{
	{"version then a partial command", []byte("version\r\nvers"), 1, "VERSION ", false},
	{"get then a partial get", []byte("get a\r\nget b"), 1, "END\r\n", false},
	{"set then a partial data block", []byte("set a 0 0 1\r\nx\r\nset b 0 0 5\r\nab"), 1, "STORED\r\n", true},
	{"4 KiB of random bytes", randomBytes(13, 4096), bytes.Count(randomBytes(13, 4096), []byte("\n")), "ERROR\r\n", false},
}

// TestRepliesNotWithheld: the server flushes before it blocks on a read
// (issue 13: it flushed only when its read buffer was empty).
func TestRepliesNotWithheld(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			addr := tg.addr(t)
			for _, tc := range withheldCases {
				t.Run(tc.name, func(t *testing.T) {
					if tc.memcachedWithholds && tg.name == "memcached" {
						t.Skip("memcached withholds here too")
					}
					nc, err := net.Dial("tcp", addr)
					if err != nil {
						t.Fatal(err)
					}
					defer nc.Close()
					nc.Write(tc.in)
					// A generous deadline: it only tells "never answered" from "answered".
					nc.SetReadDeadline(time.Now().Add(5 * time.Second))
					br := bufio.NewReader(nc)
					var got strings.Builder
					for i := 0; i < tc.lines; i++ {
						line, err := br.ReadString('\n')
						got.WriteString(line)
						if err != nil {
							t.Fatalf("%d of %d reply lines before %v: %q", i, tc.lines, err, got.String())
						}
						if !strings.HasPrefix(line, strings.SplitAfter(tc.want, "\r\n")[0]) {
							t.Fatalf("reply line %d: %q, want %q", i, line, tc.want)
						}
					}
				})
			}
		})
	}
}
