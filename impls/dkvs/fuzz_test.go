package dkvs

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzDatagram feeds arbitrary datagrams to the parser and the server: it
// must never panic, a PUT it accepts must read back, and every reply must
// fit in a datagram.
func FuzzDatagram(f *testing.F) {
	for _, s := range [][]byte{nil, []byte("abc"), []byte("k\x00v"), {0}, []byte("\x00v"), []byte("k\x00v\x00w"), bytes.Repeat([]byte("x"), MaxElemSize+1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewServer("abc", "def")
		r, err := ParseRequest(b)
		replies := s.Handle(b)
		for _, rep := range replies {
			if len(rep) > MaxMsgSize {
				t.Fatalf("reply of %d bytes", len(rep))
			}
		}
		switch {
		case r.Op == OpPut && err == nil:
			if !DecodePutReply(replies[0]) {
				t.Fatalf("accepted put not acknowledged: %q", replies[0])
			}
			got := s.Handle(EncodeGet(r.Key))
			v, found, derr := DecodeGetReply(got[0])
			if derr != nil || !found || v != r.Value {
				t.Fatalf("put %q=%q reads back %q found=%v err=%v", r.Key, r.Value, v, found, derr)
			}
		case r.Op == OpPut:
			if len(replies) != 1 || len(replies[0]) != 0 {
				t.Fatalf("refused put answered %q", replies)
			}
		case r.Op == OpGet:
			if len(replies) != 1 {
				t.Fatalf("get answered %d datagrams", len(replies))
			}
		}
	})
}

// FuzzParseServers: any servers.txt either parses into a sorted ring whose
// replica sets hold distinct servers, or fails with one of the original's
// configuration error classes; it never panics.
func FuzzParseServers(f *testing.F) {
	for _, s := range []string{"127.0.0.1 1234 1\n", "127.0.0.1 1234 3\n10.0.0.1 1 2", "127.0.001 1 1", "1.2.3.4 0 1", "a b c d", "\n\n", "1.2.3.4 65535 -1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseServers(strings.NewReader(s))
		if err != nil {
			if c := codeOf(err); c != ErrInvalidConfig && c != ErrInvalidAddress && c != ErrIO {
				t.Fatalf("error of class %v: %v", c, err)
			}
			return
		}
		for i := 1; i < len(r.Nodes); i++ {
			if bytes.Compare(r.Nodes[i-1].Pos[:], r.Nodes[i].Pos[:]) > 0 {
				t.Fatal("ring not sorted")
			}
		}
		reps := r.Replicas("key", 3)
		seen := map[string]bool{}
		for _, a := range reps {
			if seen[a.String()] {
				t.Fatalf("replica set %v repeats a server", reps)
			}
			seen[a.String()] = true
		}
		if len(reps) != min(3, len(r.Servers())) {
			t.Fatalf("%d replicas of %d servers", len(reps), len(r.Servers()))
		}
	})
}
