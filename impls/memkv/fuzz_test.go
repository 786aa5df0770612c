package memkv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzConn feeds arbitrary bytes to a connection: the server must never
// panic or hang, and everything it writes must be whole response lines.
func FuzzConn(f *testing.F) {
	for _, tc := range protocolCases {
		f.Add(tc.in)
	}
	f.Add("get " + strings.Repeat("a ", 40) + "\r\n")
	f.Add("set a 0 0 5\r\nhello\r\nappend a 0 0 1\r\n!\r\nincr a 1\r\ngat 1 a\r\n")
	f.Add("set n 0 0 1\r\n5\r\ndecr n 9\r\nincr n 18446744073709551615\r\nflush_all 1\r\nstats\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := NewServer(Config{MaxValueSize: 1024, Shards: 4, MaxItems: 64})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		done := make(chan string, 1)
		go func() { done <- converse(s, in) }()
		select {
		case out := <-done:
			if out != "" && !strings.HasSuffix(out, "\r\n") {
				t.Errorf("output does not end with a complete line: %q", trunc(out))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("connection handler hangs on %q", trunc(in))
		}
	})
}

// FuzzLogReplay replays arbitrary bytes as a log file: recovery must not
// panic, must stop inside the file, and replaying the truncated file must
// read the same records and find it clean.
func FuzzLogReplay(f *testing.F) {
	var valid []byte
	for _, r := range []record{
		{op: opSet, key: "a", value: []byte("1"), cas: 1},
		{op: opTouch, key: "a", exp: 5},
		{op: opDelete, key: "a"},
		{op: opFlushAt, exp: 99},
		{op: opFlush},
	} {
		valid = appendRecord(valid, &r)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add([]byte{})
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\x7f"))
	f.Fuzz(func(t *testing.T, body []byte) {
		path := filepath.Join(t.TempDir(), logName(1))
		if err := os.WriteFile(path, append([]byte(logMagic), body...), 0o600); err != nil {
			t.Fatal(err)
		}
		n, end, torn, err := replayLog(path, newStore(storeConfig{shards: 2, maxValue: 1 << 20}, nil))
		if err != nil {
			t.Fatal(err)
		}
		if end < int64(len(logMagic)) || end > int64(len(logMagic)+len(body)) {
			t.Fatalf("valid prefix ends at %d, outside the file", end)
		}
		if torn != (end != int64(len(logMagic)+len(body))) {
			t.Fatalf("torn=%v but prefix ends at %d of %d", torn, end, len(logMagic)+len(body))
		}
		if err := truncateLog(path, end); err != nil {
			t.Fatal(err)
		}
		n2, end2, torn2, err := replayLog(path, newStore(storeConfig{shards: 2, maxValue: 1 << 20}, nil))
		if err != nil || n2 != n || end2 != end || torn2 {
			t.Fatalf("after truncation: %d records to %d (torn %v, err %v); before: %d to %d", n2, end2, torn2, err, n, end)
		}
	})
}
