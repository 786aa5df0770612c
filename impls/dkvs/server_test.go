package dkvs

import (
	"bytes"
	"context"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\ngot:\n%q\nwant:\n%q", name, got, want)
	}
}

func TestLocalHash64Bit(t *testing.T) {
	// Vectors from the original's hash_function compiled with gcc on
	// x86-64 (size_t arithmetic), modulo 256.
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"", 0}, {"a", 66}, {"abc", 91}, {"my_key", 45}, {"a-key", 79},
		{"hello world", 113}, {"0123456789abcdef", 124}, {"zz", 182},
	} {
		if got := LocalHash(tc.key, TableSize); got != tc.want {
			t.Errorf("LocalHash(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
	differ := 0
	for _, k := range []string{"abc", "my_key", "a-key", "hello world", "0123456789abcdef"} {
		if LocalHash(k, TableSize) != hash32(k)%TableSize {
			differ++
		}
	}
	if differ == 0 {
		t.Error("the 64-bit hash agrees with the 32-bit one on every key")
	}
}

func hash32(key string) int {
	var h uint32
	for i := 0; i < len(key); i++ {
		h += uint32(key[i])
		h += h << 10
		h ^= h >> 6
	}
	h += h << 3
	h ^= h >> 11
	h += h << 15
	return int(h)
}

func TestHandleDatagrams(t *testing.T) {
	big := strings.Repeat("v", MaxElemSize)
	for _, tc := range []struct {
		name    string
		preload []string
		req     []byte
		want    []byte
	}{
		{"get present", []string{"abc", "def"}, []byte("abc"), []byte("def")},
		{"get absent", []string{"abc", "def"}, []byte("abd"), []byte{0}},
		{"get prefix is absent", []string{"abc", "def"}, []byte("a"), []byte{0}},
		{"get empty value", []string{"k", ""}, []byte("k"), []byte{}},
		{"put", nil, []byte("k\x00v"), []byte{0}},
		{"put empty value", nil, []byte("k\x00"), []byte{0}},
		{"put empty key", nil, []byte("\x00v"), []byte{}},
		{"put lone NUL", nil, []byte{0}, []byte{}},
		{"put max key and value", nil, EncodePut(big, big), []byte{0}},
		{"put oversized key", nil, EncodePut(big+"k", "v"), []byte{}},
		{"put oversized value", nil, EncodePut("k", big+"v"), []byte{}},
		{"get oversized key", nil, []byte(big + "k"), []byte{0}},
		{"dump empty", nil, []byte{}, []byte("storing 0 key-value pairs:\n")},
		{"dump one", []string{"abc", "def"}, []byte{}, []byte("storing 1 key-value pairs:\nabc --> def\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NewServer(tc.preload...).Handle(tc.req)
			if len(got) != 1 || !bytes.Equal(got[0], tc.want) {
				t.Errorf("Handle(%.40q) = %.60q, want one datagram %.60q", tc.req, got, tc.want)
			}
		})
	}
}

func TestPutThenGetSplitsAtFirstNUL(t *testing.T) {
	s := NewServer()
	if r := s.Handle([]byte("k\x00a\x00b")); !bytes.Equal(r[0], []byte{0}) {
		t.Fatalf("put reply %q", r[0])
	}
	if r := s.Handle([]byte("k")); string(r[0]) != "a" {
		t.Errorf("get after put of value a\\0b = %q, want %q (C string)", r[0], "a")
	}
	s.Handle([]byte("k\x00second"))
	if r := s.Handle([]byte("k")); string(r[0]) != "second" {
		t.Errorf("overwrite: got %q", r[0])
	}
	if r := s.Handle(nil); string(r[0]) != "storing 1 key-value pairs:\nk --> second\n" {
		t.Errorf("dump after overwrite: %q", r[0])
	}
}

// TestDumpOrderGolden: buckets in ascending index order, chains in insertion
// order, byte for byte.
func TestDumpOrderGolden(t *testing.T) {
	s := NewServer()
	for _, k := range []string{"a", "b", "c", "abc", "my_key", "a-key", "zz", "hello", "x", "y", "z", "0", "1"} {
		s.Handle(EncodePut(k, "v-"+k))
	}
	var all []byte
	for _, d := range s.Handle(nil) {
		all = append(all, d...)
		all = append(all, "<END OF DATAGRAM>\n"...)
	}
	golden(t, "dump-order.golden", all)
}

// TestDumpSplitsByBucket: five 30 000-byte values need three datagrams; each
// datagram is at most MaxMsgSize and holds only whole lines.
func TestDumpSplitsByBucket(t *testing.T) {
	val := strings.Repeat("0", 30000)
	s := NewServer("a", val, "b", val, "c", val, "d", val, "e", val)
	ds := s.Handle(nil)
	if len(ds) != 3 {
		t.Fatalf("%d datagrams, want 3", len(ds))
	}
	var all []byte
	for i, d := range ds {
		if len(d) > MaxMsgSize {
			t.Errorf("datagram %d has %d bytes > %d", i, len(d), MaxMsgSize)
		}
		if d[len(d)-1] != '\n' {
			t.Errorf("datagram %d does not end a line", i)
		}
		all = append(all, d...)
	}
	want := "storing 5 key-value pairs:\n"
	order := []string{"a", "b", "c", "d", "e"}
	sortByBucket(order)
	for _, k := range order {
		want += k + " --> " + val + "\n"
	}
	if string(all) != want {
		t.Errorf("concatenated dump differs from the bucket-ordered listing")
	}
	if !strings.HasPrefix(string(ds[0]), "storing 5 key-value pairs:\n") || strings.HasPrefix(string(ds[1]), "storing") {
		t.Error("only the first datagram carries the header")
	}
}

// TestDumpNeverSplitsAChain: two keys in one bucket whose lines do not both
// fit after the header go together into the next datagram.
func TestDumpNeverSplitsAChain(t *testing.T) {
	var same []string
	for i := 0; len(same) < 3; i++ {
		k := "k" + strings.Repeat("x", i)
		if len(same) == 0 || LocalHash(k, TableSize) == LocalHash(same[0], TableSize) {
			same = append(same, k)
		}
	}
	tb := &table{}
	// limit: header + first chain line fits, chain of two does not.
	tb.put("solo", "1")
	tb.put(same[0], "aaaa")
	tb.put(same[1], "bbbb")
	header := len("storing 3 key-value pairs:\n")
	soloLine := len("solo --> 1\n")
	l0 := len(same[0] + " --> aaaa\n")
	l1 := len(same[1] + " --> bbbb\n")
	limit := header + soloLine + l0 + l1 - 1
	if LocalHash("solo", TableSize) > LocalHash(same[0], TableSize) {
		limit = header + l0 + l1 - 1 + 0
	}
	ds := tb.dump(limit)
	for _, d := range ds {
		hasFirst := bytes.Contains(d, []byte(same[0]+" --> "))
		hasSecond := bytes.Contains(d, []byte(same[1]+" --> "))
		if hasFirst != hasSecond {
			t.Fatalf("a bucket chain was split across datagrams: %q", ds)
		}
	}
}

func sortByBucket(keys []string) {
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if LocalHash(keys[j], TableSize) < LocalHash(keys[i], TableSize) {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
}

func TestServeArgs(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		exit   int
		stderr string
	}{
		{nil, 134, "ERROR: Invalid command\n"},
		{[]string{"-h"}, 0, ""},
		{[]string{"127.0.0.1"}, 134, "ERROR: Invalid command\n"},
		{[]string{"127.0.0.1", "1234", "k"}, 134, "ERROR: Invalid command\n"},
		{[]string{"127.0.001", "1234"}, 136, "ERROR: Invalid address\n"},
		{[]string{"127.0.0.1", "0"}, 135, "ERROR: Invalid argument (internal error)\n"},
		{[]string{"127.0.0.1", "65536"}, 135, "ERROR: Invalid argument (internal error)\n"},
	} {
		var out, errb bytes.Buffer
		err := serve(context.Background(), tc.args, &out, &errb)
		if len(tc.args) == 1 && tc.args[0] == "-h" {
			if err != nil || !strings.HasPrefix(out.String(), "Usage: kvbench serve dkvs") {
				t.Errorf("-h: %v %q", err, out.String())
			}
			continue
		}
		ec, ok := err.(interface{ ExitCode() int })
		if !ok || ec.ExitCode() != tc.exit || errb.String() != tc.stderr || out.Len() != 0 {
			t.Errorf("serve %q: err %v, stdout %q, stderr %q; want exit %d, stderr %q", tc.args, err, out.String(), errb.String(), tc.exit, tc.stderr)
		}
	}
}

// TestServeUDP runs the real server on a loopback socket: preload, put, get,
// a multi-datagram dump, and garbage that must not stop it.
func TestServeUDP(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- NewServer("abc", "def").Serve(ctx, conn) }()
	c, err := net.Dial("udp4", conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rt := func(req []byte) []byte {
		t.Helper()
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 1<<16)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf[:n]
	}
	if got := rt([]byte("abc")); string(got) != "def" {
		t.Errorf("get preloaded: %q", got)
	}
	if got := rt([]byte("\x00\x00\x00")); len(got) != 0 {
		t.Errorf("garbage put answered %q, want an empty datagram", got)
	}
	if got := rt([]byte("x\x00y")); !bytes.Equal(got, []byte{0}) {
		t.Errorf("put reply %q", got)
	}
	if got := rt([]byte("x")); string(got) != "y" {
		t.Errorf("get after put: %q", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
}
