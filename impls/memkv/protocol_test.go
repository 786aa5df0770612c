package memkv

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// newMemServer returns an in-memory server; cfg's zero fields get defaults.
func newMemServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// converse runs one connection over in as a byte stream and returns every
// byte the server wrote before it saw EOF (or quit).
func converse(s *Server, in string) string {
	var out bytes.Buffer
	s.serveConn(struct {
		io.Reader
		io.Writer
	}{strings.NewReader(in), &out})
	return out.String()
}

// startTCP serves s on a loopback port and returns the address.
func startTCP(t testing.TB, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(context.Background(), ln)
	return ln.Addr().String()
}

// Expected bytes are memcached 1.6.18's (checked against a real server),
// except where a comment says memkv differs on purpose. CAS values start at
// 1 in a fresh store.
var protocolCases = []struct {
	name, in, want string
}{
	{"empty line", "\r\n", "ERROR\r\n"},
	{"unknown command", "bogus\r\n", "ERROR\r\n"},
	{"one-letter command", "x\r\n", "ERROR\r\n"},
	{"upper-case get", "GET a\r\n", "ERROR\r\n"},
	{"get without key", "get\r\n", "ERROR\r\n"},
	{"gets without key", "gets\r\n", "ERROR\r\n"},
	{"miss", "get a\r\n", "END\r\n"},
	{"set get", "set a 5 0 3\r\nabc\r\nget a\r\n", "STORED\r\nVALUE a 5 3\r\nabc\r\nEND\r\n"},
	{"gets shows cas", "set a 0 0 1\r\nx\r\nset b 0 0 1\r\ny\r\ngets a b\r\n", "STORED\r\nSTORED\r\nVALUE a 0 1 1\r\nx\r\nVALUE b 0 1 2\r\ny\r\nEND\r\n"},
	{"multi-get with misses and repeats", "set a 0 0 1\r\nx\r\nget a b a\r\n", "STORED\r\nVALUE a 0 1\r\nx\r\nVALUE a 0 1\r\nx\r\nEND\r\n"},
	{"extra spaces", "set  a 0 0 1 \r\nx\r\nget  a  \r\n", "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n"},
	{"leading spaces", "   get a\r\n", "END\r\n"},
	{"bare newlines", "get a\nget b\r\n", "END\r\nEND\r\n"},
	{"NUL ends the command", "set a 0 0 1 \x00junk\r\nx\r\nget a\x00b\r\n", "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n"},
	{"empty value", "set a 0 0 0\r\n\r\nget a\r\n", "STORED\r\nVALUE a 0 0\r\n\r\nEND\r\n"},
	{"binary value", "set a 0 0 4\r\n\r\n\x00\xff\r\nget a\r\n", "STORED\r\nVALUE a 0 4\r\n\r\n\x00\xff\r\nEND\r\n"},
	{"max flags", "set a 4294967295 0 1\r\nx\r\nget a\r\n", "STORED\r\nVALUE a 4294967295 1\r\nx\r\nEND\r\n"},
	{"flags truncate to 32 bits", "set a 4294967296 0 1\r\nx\r\nget a\r\n", "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n"},
	{"length truncates to 32 bits", "set a 0 0 4294967297\r\nx\r\nget a\r\n", "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n"},
	{"numbers with sign and zeros", "set a 00 0 +1\r\nx\r\nget a\r\n", "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n"},
	{"negative flags", "set a -1 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	{"bad flags, block read as command", "set a x 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	{"bad exptime", "set a 0 abc 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	{"exptime out of range", "set a 0 99999999999999999999 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	{"negative length", "set a 0 0 -1\r\nget a\r\n", "CLIENT_ERROR bad command line format\r\nEND\r\n"},
	{"length with junk", "set a 0 0 1x\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	{"set missing length", "set a 0 0\r\nget a\r\n", "ERROR\r\nEND\r\n"},
	{"set too many tokens", "set a 0 0 1 2 3 4 5 6\r\nx\r\n", "ERROR\r\nERROR\r\n"},
	{"set trailing junk is not noreply", "set a 0 0 1 garbage\r\nx\r\n", "STORED\r\n"},
	{"noreply then junk is too many", "set a 0 0 1 noreply extra\r\nx\r\nget a\r\n", "ERROR\r\nERROR\r\nEND\r\n"},
	{"bad data chunk", "set a 0 0 1\r\nxy\r\nget a\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n"},
	{"short data chunk", "set a 0 0 2\r\nx\r\n\r\nget a\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n"},
	{"data chunk with bare newline", "set a 0 0 1\nx\nget a\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n"},
	{"key of 250 bytes", "set " + strings.Repeat("k", 250) + " 0 0 1\r\nx\r\nget " + strings.Repeat("k", 250) + "\r\n",
		"STORED\r\nVALUE " + strings.Repeat("k", 250) + " 0 1\r\nx\r\nEND\r\n"},
	{"key of 251 bytes", "set " + strings.Repeat("k", 251) + " 0 0 1\r\nx\r\nversion\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\nVERSION " + Version + "\r\n"},
	{"get key too long", "get a " + strings.Repeat("k", 251) + " b\r\nversion\r\n", "CLIENT_ERROR bad command line format\r\nVERSION " + Version + "\r\n"},
	{"get key too long discards earlier values", "set a 0 0 1\r\nx\r\nget a " + strings.Repeat("k", 251) + "\r\n", "STORED\r\nCLIENT_ERROR bad command line format\r\n"},
	// memcached accepts control characters in keys; memkv refuses them.
	{"control character in key", "set a\x01b 0 0 1\r\nx\r\nget a\tb\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\nCLIENT_ERROR bad command line format\r\n"},
	{"oversized value swallowed", "set a 0 0 2000\r\n" + strings.Repeat("x", 2000) + "\r\nget a\r\n", "SERVER_ERROR object too large for cache\r\nEND\r\n"},
	{"oversized set drops old value", "set a 0 0 1\r\nx\r\nset a 0 0 2000\r\n" + strings.Repeat("x", 2000) + "\r\nget a\r\n", "STORED\r\nSERVER_ERROR object too large for cache\r\nEND\r\n"},
	{"oversized add keeps old value", "set a 0 0 1\r\nx\r\nadd a 0 0 2000\r\n" + strings.Repeat("x", 2000) + "\r\nget a\r\n", "STORED\r\nSERVER_ERROR object too large for cache\r\nVALUE a 0 1\r\nx\r\nEND\r\n"},
	{"value of exactly the max size", "set a 0 0 1024\r\n" + strings.Repeat("x", 1024) + "\r\n", "STORED\r\n"},
	{"append beyond max size", "set a 0 0 1000\r\n" + strings.Repeat("x", 1000) + "\r\nappend a 0 0 100\r\n" + strings.Repeat("y", 100) + "\r\n", "STORED\r\nNOT_STORED\r\n"},
	{"noreply set", "set a 0 0 1 noreply\r\nx\r\nget a\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n"},
	{"noreply silences errors", "set a x 0 1 noreply\r\nx\r\nset a 0 0 1 noreply\r\nxy\r\nversion\r\n", "ERROR\r\nERROR\r\nVERSION " + Version + "\r\n"},
	{"noreply oversized", "set a 0 0 2000 noreply\r\n" + strings.Repeat("x", 2000) + "\r\nversion\r\n", "VERSION " + Version + "\r\n"},
	{"add", "add a 0 0 1\r\nx\r\nadd a 0 0 1\r\ny\r\nget a\r\n", "STORED\r\nNOT_STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n"},
	{"replace", "replace a 0 0 1\r\nx\r\nset a 0 0 1\r\nx\r\nreplace a 3 0 1\r\ny\r\nget a\r\n", "NOT_STORED\r\nSTORED\r\nSTORED\r\nVALUE a 3 1\r\ny\r\nEND\r\n"},
	{"append prepend keep old flags", "set a 5 0 1\r\nx\r\nappend a 9 0 2\r\nyz\r\nprepend a 7 0 2\r\nuv\r\nget a\r\n", "STORED\r\nSTORED\r\nSTORED\r\nVALUE a 5 5\r\nuvxyz\r\nEND\r\n"},
	{"append prepend missing", "append q 0 0 1\r\nx\r\nprepend q 0 0 1\r\nx\r\n", "NOT_STORED\r\nNOT_STORED\r\n"},
	{"cas", "set c 0 0 1\r\nx\r\ngets c\r\ncas c 0 0 1 1\r\ny\r\ncas c 0 0 1 1\r\nz\r\ngets c\r\n",
		"STORED\r\nVALUE c 0 1 1\r\nx\r\nEND\r\nSTORED\r\nEXISTS\r\nVALUE c 0 1 2\r\ny\r\nEND\r\n"},
	{"cas conflict after another write", "set c 0 0 1\r\nx\r\nset c 0 0 1\r\ny\r\ncas c 0 0 1 1\r\nz\r\nget c\r\n", "STORED\r\nSTORED\r\nEXISTS\r\nVALUE c 0 1\r\ny\r\nEND\r\n"},
	{"cas zero never matches", "set c 0 0 1\r\nx\r\ncas c 0 0 1 0\r\ny\r\n", "STORED\r\nEXISTS\r\n"},
	{"cas missing", "cas zz 0 0 1 1\r\ny\r\n", "NOT_FOUND\r\n"},
	{"cas without unique", "cas c 0 0 1\r\ny\r\n", "ERROR\r\nERROR\r\n"},
	{"cas bad unique", "cas a 0 0 1 abc\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	{"cas noreply misplaced", "set h 0 0 1\r\nx\r\ncas h 0 0 1 noreply x\r\ny\r\n", "STORED\r\nCLIENT_ERROR bad command line format\r\nERROR\r\n"},
	{"delete", "set a 0 0 1\r\nx\r\ndelete a\r\ndelete a\r\n", "STORED\r\nDELETED\r\nNOT_FOUND\r\n"},
	{"delete with zero hold", "delete a 0\r\n", "NOT_FOUND\r\n"},
	{"delete with hold time", "delete a 5\r\n", "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"},
	{"delete noreply", "set a 0 0 1\r\nx\r\ndelete a noreply\r\ndelete a 0 noreply\r\nget a\r\n", "STORED\r\nEND\r\n"},
	{"delete noreply misplaced", "delete a noreply 0\r\n", "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"},
	{"delete arity", "delete\r\ndelete a 0 noreply x\r\n", "ERROR\r\nERROR\r\n"},
	{"incr decr", "set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nget n\r\n", "STORED\r\n15\r\n0\r\nVALUE n 0 2\r\n0 \r\nEND\r\n"},
	{"incr wraps at 2^64", "set n 0 0 20\r\n18446744073709551615\r\nincr n 1\r\nget n\r\n", "STORED\r\n0\r\nVALUE n 0 20\r\n0                   \r\nEND\r\n"},
	{"incr grows value", "set n 0 0 2\r\n99\r\nincr n 1\r\ngets n\r\n", "STORED\r\n100\r\nVALUE n 0 3 2\r\n100\r\nEND\r\n"},
	{"decr pads with spaces", "set n 0 0 3\r\n100\r\ndecr n 1\r\nget n\r\n", "STORED\r\n99\r\nVALUE n 0 3\r\n99 \r\nEND\r\n"},
	{"incr max delta", "set n 0 0 1\r\n0\r\nincr n 18446744073709551615\r\n", "STORED\r\n18446744073709551615\r\n"},
	{"incr white space around number", "set n 0 0 3\r\n 12\r\nincr n 1\r\nset m 0 0 4\r\n12 a\r\nincr m 1\r\n", "STORED\r\n13\r\nSTORED\r\n13\r\n"},
	{"incr non-numeric", "set n 0 0 3\r\nabc\r\nincr n 1\r\nset m 0 0 3\r\n12a\r\nincr m 1\r\n",
		"STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nSTORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
	{"incr negative value", "set n 0 0 2\r\n-1\r\nincr n 1\r\n", "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
	{"incr empty value", "set n 0 0 0\r\n\r\nincr n 1\r\n", "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
	{"incr value overflows", "set n 0 0 20\r\n99999999999999999999\r\nincr n 1\r\n", "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
	{"incr missing", "incr missing 1\r\n", "NOT_FOUND\r\n"},
	{"incr bad deltas", "incr n abc\r\nincr n -1\r\nincr n 18446744073709551616\r\nincr n 0x10\r\n",
		strings.Repeat("CLIENT_ERROR invalid numeric delta argument\r\n", 4)},
	{"incr signed deltas", "set n 0 0 1\r\n1\r\nincr n +5\r\nincr n -0\r\n", "STORED\r\n6\r\n6\r\n"},
	{"incr arity", "incr n\r\nincr\r\ndecr a 1 2 3\r\n", "ERROR\r\nERROR\r\nERROR\r\n"},
	{"incr noreply", "set n 0 0 1\r\n1\r\nincr n 1 noreply\r\nget n\r\n", "STORED\r\nVALUE n 0 1\r\n2\r\nEND\r\n"},
	{"incr third token is not noreply", "set a 0 0 1\r\n1\r\nincr a 1 2\r\n", "STORED\r\n2\r\n"},
	{"touch", "touch a 10\r\nset a 0 0 1\r\nx\r\ntouch a 10\r\n", "NOT_FOUND\r\nSTORED\r\nTOUCHED\r\n"},
	{"touch errors", "touch a\r\ntouch a abc\r\ntouch a x noreply\r\n", "ERROR\r\nCLIENT_ERROR invalid exptime argument\r\n"},
	{"touch expires", "set a 0 0 1\r\nx\r\ntouch a -1\r\nget a\r\n", "STORED\r\nTOUCHED\r\nEND\r\n"},
	{"gat", "set a 0 0 1\r\nx\r\ngat 100 a b\r\ngats 100 a\r\ngats 100\r\n", "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\nVALUE a 0 1 1\r\nx\r\nEND\r\nEND\r\n"},
	{"gat bad exptime", "gat x a\r\n", "CLIENT_ERROR invalid exptime argument\r\n"},
	{"negative exptime expires at once", "set e 0 -1 1\r\nx\r\nget e\r\n", "STORED\r\nEND\r\n"},
	{"absolute exptime in the past", "set e 0 2592001 1\r\nx\r\nget e\r\n", "STORED\r\nEND\r\n"},
	{"exptime truncates to 32 bits", "set e 0 9999999999 1\r\nx\r\nget e\r\n", "STORED\r\nEND\r\n"},
	{"relative exptime", "set e 0 100 1\r\nx\r\nget e\r\n", "STORED\r\nVALUE e 0 1\r\nx\r\nEND\r\n"},
	{"flush_all", "set a 0 0 1\r\nx\r\nflush_all\r\nget a\r\n", "STORED\r\nOK\r\nEND\r\n"},
	{"flush_all variants", "flush_all 0\r\nflush_all noreply\r\nflush_all abc\r\nflush_all -1\r\nflush_all noreply x\r\nflush_all 0 0 0\r\n",
		"OK\r\nCLIENT_ERROR invalid exptime argument\r\nOK\r\nCLIENT_ERROR invalid exptime argument\r\nERROR\r\n"},
	{"flush_all later keeps items until then", "set a 0 0 1\r\nx\r\nflush_all 100\r\nget a\r\n", "STORED\r\nOK\r\nVALUE a 0 1\r\nx\r\nEND\r\n"},
	{"version", "version\r\nversion extra\r\n", "VERSION " + Version + "\r\nVERSION " + Version + "\r\n"},
	{"verbosity", "verbosity\r\nverbosity 1\r\nverbosity 1 noreply\r\nverbosity a\r\nverbosity noreply\r\nverbosity foo bar my\r\n",
		"ERROR\r\nOK\r\nCLIENT_ERROR bad command line format\r\nERROR\r\n"},
	{"quit", "version\r\nquit\r\nversion\r\n", "VERSION " + Version + "\r\n"},
	{"quit with arguments", "quit extra\r\nversion\r\n", ""},
	{"HTTP request hangs up", "GET / HTTP/1.1\r\nversion\r\n", ""},
	{"stats errors", "stats noreply\r\nstats foo\r\nstats reset\r\n", "ERROR\r\nERROR\r\nRESET\r\n"},
	{"stats detail", "stats detail on\r\nstats detail dump\r\nstats detail off\r\nstats detail\r\nstats detail bogus\r\n",
		"OK\r\nEND\r\nOK\r\nCLIENT_ERROR usage: stats detail on|off|dump\r\nCLIENT_ERROR usage: stats detail on|off|dump\r\n"},
	{"shutdown disabled", "shutdown\r\n", "ERROR: shutdown not enabled\r\n"},
	{"meta commands unsupported", "mn\r\nmg a v\r\n", "ERROR\r\nERROR\r\n"},
	{"many keys beyond 23 tokens", "set z 0 0 1\r\nz\r\nget a b c d e f g h i j k l m n o p q r s t u v w x y z\r\n", "STORED\r\nVALUE z 0 1\r\nz\r\nEND\r\n"},
	{"pipelined", "set a 0 0 1\r\n1\r\nget a\r\nincr a 1\r\nget a\r\ndelete a\r\nget a\r\n", "STORED\r\nVALUE a 0 1\r\n1\r\nEND\r\n2\r\nVALUE a 0 1\r\n2\r\nEND\r\nDELETED\r\nEND\r\n"},
	{"partial command at EOF", "get a", ""},
	{"partial data block at EOF", "set a 0 0 10\r\nabc", ""},
}

func TestProtocol(t *testing.T) {
	for _, tc := range protocolCases {
		t.Run(tc.name, func(t *testing.T) {
			s := newMemServer(t, Config{MaxValueSize: 1024})
			if got := converse(s, tc.in); got != tc.want {
				t.Errorf("input %q\n got %q\nwant %q", trunc(tc.in), got, tc.want)
			}
		})
	}
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func TestStats(t *testing.T) {
	s := newMemServer(t, Config{})
	out := converse(s, "set a 0 0 1\r\nx\r\nget a\r\nget b\r\nstats\r\nstats settings\r\nstats items\r\n")
	for _, want := range []string{"STAT cmd_get 2\r\n", "STAT get_hits 1\r\n", "STAT get_misses 1\r\n", "STAT cmd_set 1\r\n",
		"STAT curr_items 1\r\n", "STAT version " + Version + "\r\n", "STAT item_size_max 1048576\r\n", "END\r\nEND\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stats output lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")[5:] {
		if !strings.HasPrefix(line, "STAT ") && line != "END" {
			t.Errorf("stats line %q is neither STAT nor END", line)
		}
	}
}

// TestConnectionStaysUsable checks over TCP that a refused oversized value
// is skipped and the next command on the same connection works.
func TestConnectionStaysUsable(t *testing.T) {
	s := newMemServer(t, Config{MaxValueSize: 1 << 10})
	nc, err := net.Dial("tcp", startTCP(t, s))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	big := strings.Repeat("v", 300<<10)
	go nc.Write([]byte("set big 0 0 " + itoa(len(big)) + "\r\n" + big + "\r\nset a 0 0 2\r\nok\r\nget a\r\n"))
	want := []string{"SERVER_ERROR object too large for cache", "STORED", "VALUE a 0 2", "ok", "END"}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, w := range want {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line != w+"\r\n" {
			t.Fatalf("got %q, want %q", line, w)
		}
	}
}

func itoa(n int) string { return string(appendUint(nil, uint64(n))) }

func TestLongLines(t *testing.T) {
	s := newMemServer(t, Config{})
	// A non-retrieval line that fills the read buffer is refused, and the
	// connection closed, rather than buffered without bound.
	got := converse(s, "set "+strings.Repeat("k", readBufSize+10)+"\r\nversion\r\n")
	if got != "CLIENT_ERROR line too long\r\n" {
		t.Errorf("long set line: got %q", trunc(got))
	}
	// A long multi-get is fine.
	var keys []string
	for i := 0; i < 3000; i++ {
		keys = append(keys, "key"+itoa(i))
	}
	got = converse(s, "set key2999 0 0 1\r\nx\r\nget "+strings.Join(keys, " ")+"\r\n")
	if got != "STORED\r\nVALUE key2999 0 1\r\nx\r\nEND\r\n" {
		t.Errorf("long multi-get: got %q", trunc(got))
	}
	// But not without bound.
	got = converse(s, "get "+strings.Repeat("k ", maxLongLine)+"\r\n")
	if got != "CLIENT_ERROR line too long\r\n" {
		t.Errorf("huge multi-get: got %q", trunc(got))
	}
}

func TestParseNumbers(t *testing.T) {
	ull := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"18446744073709551615", 1<<64 - 1, true}, {"18446744073709551616", 0, false},
		{"-1", 0, false}, {"-0", 0, true}, {"+7", 7, true}, {"\t7", 7, true}, {"7\t", 7, true},
		{"7x", 0, false}, {"", 0, false}, {"+", 0, false}, {"x", 0, false},
		// strtoull negates: -(2^64-1) is 1, which is not "negative", so C accepts it.
		{"-18446744073709551615", 1, true},
	}
	for _, tc := range ull {
		got, ok := safeStrtoull([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("safeStrtoull(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	l := []struct {
		in   string
		want int32
		ok   bool
	}{
		{"0", 0, true}, {"-5", -5, true}, {"2147483647", 2147483647, true}, {"2147483648", -2147483648, true},
		{"9999999999", 1410065407, true}, {"9223372036854775808", 0, false}, {"-9223372036854775808", 0, true},
		{"abc", 0, false}, {"1 ", 1, true},
	}
	for _, tc := range l {
		got, ok := safeStrtol([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("safeStrtol(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestExpiryAndDelayedFlush(t *testing.T) {
	st := newStore(storeConfig{shards: 4, maxValue: 100}, nil)
	now := time.Now().UnixNano()
	sec := int64(time.Second)
	st.store(modeSet, []byte("a"), 0, expiry(10, now), []byte("x"), 0, now)
	if _, ok, _ := st.get([]byte("a"), now+9*sec); !ok {
		t.Error("entry with exptime 10 gone after 9s")
	}
	if _, ok, _ := st.get([]byte("a"), now+10*sec); ok {
		t.Error("entry with exptime 10 still there after 10s")
	}
	st.store(modeSet, []byte("b"), 0, 0, []byte("x"), 0, now)
	st.flushAll(now+5*sec, now)
	if _, ok, _ := st.get([]byte("b"), now+4*sec); !ok {
		t.Error("flush_all 5 flushed early")
	}
	st.store(modeSet, []byte("c"), 0, 0, []byte("x"), 0, now+4*sec)
	if _, ok, _ := st.get([]byte("c"), now+5*sec); ok {
		t.Error("entry set before a delayed flush_all's deadline survived it")
	}
	st.store(modeSet, []byte("d"), 0, 0, []byte("x"), 0, now+6*sec)
	if _, ok, _ := st.get([]byte("d"), now+7*sec); !ok {
		t.Error("entry set after the flush deadline was flushed")
	}
}

func TestLRUBound(t *testing.T) {
	s := newMemServer(t, Config{MaxItems: 50, Shards: 4})
	var in strings.Builder
	for i := 0; i < 200; i++ {
		in.WriteString("set k" + itoa(i) + " 0 0 1\r\nx\r\n")
	}
	in.WriteString("get k199\r\n")
	out := converse(s, in.String())
	if !strings.HasSuffix(out, "VALUE k199 0 1\r\nx\r\nEND\r\n") {
		t.Errorf("newest entry evicted: %q", trunc(out))
	}
	if n := s.store.nItems.Load(); n > 50 {
		t.Errorf("%d entries, bound is 50", n)
	}
	if e := s.store.evictions.Load(); e < 150 {
		t.Errorf("%d evictions, want at least 150", e)
	}
	b := newMemServer(t, Config{MaxBytes: 10 << 10, Shards: 4})
	in.Reset()
	for i := 0; i < 100; i++ {
		in.WriteString("set k" + itoa(i) + " 0 0 1000\r\n" + strings.Repeat("v", 1000) + "\r\n")
	}
	converse(b, in.String())
	if n := b.store.nBytes.Load(); n > 10<<10 {
		t.Errorf("%d bytes stored, bound is %d", n, 10<<10)
	}
}
