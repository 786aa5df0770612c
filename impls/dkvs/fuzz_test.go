package dkvs

import (
	"bytes"
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
