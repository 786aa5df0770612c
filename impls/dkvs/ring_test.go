package dkvs

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustRing(t *testing.T, text string) *Ring {
	t.Helper()
	r, err := ParseServers(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ports(aps []netip.AddrPort) []int {
	var out []int
	for _, a := range aps {
		out = append(out, int(a.Port()))
	}
	return out
}

func TestNodePositionVector(t *testing.T) {
	pos := NodePosition(netip.MustParseAddrPort("127.0.0.1:1234"), 1)
	if got := hex.EncodeToString(pos[:]); got != "aa66f3e5a8d9cdc5c0bd49708bc59847e6915634" {
		t.Errorf("sha1(\"127.0.0.1 1234 1\") = %s", got)
	}
}

func TestRingVectors(t *testing.T) {
	r := mustRing(t, "127.0.0.1 1234 1\n127.0.0.1 1235 1\n127.0.0.1 1236 1\n")
	var order []string
	for _, n := range r.Nodes {
		order = append(order, hex.EncodeToString(n.Pos[:])[:8]+"/"+n.Addr.String())
	}
	want := []string{"93149f86/127.0.0.1:1236", "aa66f3e5/127.0.0.1:1234", "c484ea9b/127.0.0.1:1235"}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("ring order %v, want %v", order, want)
	}
	for _, tc := range []struct {
		key  string
		want []int
	}{
		{"my_key", []int{1236, 1234, 1235}},
		{"a-key", []int{1235, 1236, 1234}},
	} {
		if got := ports(r.Replicas(tc.key, 3)); !equalInts(got, tc.want) {
			t.Errorf("Replicas(%q) = %v, want %v", tc.key, got, tc.want)
		}
		if got := ports(r.Replicas(tc.key, 1)); !equalInts(got, tc.want[:1]) {
			t.Errorf("Replicas(%q, 1) = %v", tc.key, got)
		}
		if got := ports(r.Replicas(tc.key, 5)); !equalInts(got, tc.want) {
			t.Errorf("Replicas(%q, 5) = %v, want the 3 servers", tc.key, got)
		}
	}
}

// TestRingVirtualNodes: the handout's 4-server ring with 1, 2, 3, 2 nodes.
// Its dump after `put a b` and `put cc dd` shows a on 1234-1236 and cc on
// 1235-1237: replica sets are N distinct servers, skipping repeated ones.
func TestRingVirtualNodes(t *testing.T) {
	r := mustRing(t, "127.0.0.1 1234 1\n127.0.0.1 1235 2\n127.0.0.1 1236 3\n127.0.0.1 1237 2\n")
	var got []string
	for _, n := range r.Nodes {
		got = append(got, hex.EncodeToString(n.Pos[:])+" "+n.Addr.String())
	}
	want := []string{
		"05f929071339f796a97abc59a095e0cb206abb7a 127.0.0.1:1237",
		"1bcd2db55b43d8c6b50583892f141a6bb3224c04 127.0.0.1:1235",
		"413518e3f53d2922b8df4dc02d0121f0fe781b0b 127.0.0.1:1237",
		"5f26268754fcf2a51fcfacaaa2aaf4f0d83f6d67 127.0.0.1:1236",
		"93149f866bf3acc9710375cb46706bf09960a6ab 127.0.0.1:1236",
		"aa66f3e5a8d9cdc5c0bd49708bc59847e6915634 127.0.0.1:1234",
		"c484ea9b3b14d139b1456032a49990367b857fe6 127.0.0.1:1235",
		"ee482fd6bcd8a1eb2a929a0d284b563404b64d19 127.0.0.1:1236",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ring:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if g := ports(r.Replicas("a", 3)); !sameSet(g, []int{1234, 1235, 1236}) {
		t.Errorf("replicas of a: %v", g)
	}
	if g := ports(r.Replicas("cc", 3)); !sameSet(g, []int{1235, 1236, 1237}) {
		t.Errorf("replicas of cc: %v", g)
	}
}

func TestParseServersErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       Code
	}{
		{"valid", "127.0.0.1 1234 1\n192.168.1.10 1235 2\n8.8.8.8 1236 3", 0},
		{"blank lines", "\n127.0.0.1 1234 1\n\n", 0},
		{"count -1", "127.0.0.1 1234 -1\n", ErrInvalidConfig},
		{"count 0", "127.0.0.1 1234 1\n8.8.8.8 1236 0\n", ErrInvalidConfig},
		{"count word", "127.0.0.1 1234 coucou\n", ErrInvalidConfig},
		{"count 12abc", "127.0.0.1 1234 12abc\n", ErrInvalidConfig},
		{"count too big", "127.0.0.1 1234 4000000000\n", ErrInvalidConfig},
		{"port -1236", "8.8.8.8 -1236 1\n", ErrInvalidConfig},
		{"port 0", "8.8.8.8 0 1\n", ErrInvalidConfig},
		{"port 65536", "8.8.8.8 65536 1\n", ErrInvalidConfig},
		{"port +1", "8.8.8.8 +1 1\n", ErrInvalidConfig},
		{"two fields", "127.0.0.1 1234\n", ErrInvalidConfig},
		{"four fields", "127.0.0.1 1234 1 x\n", ErrInvalidConfig},
		{"ip 127.0.001", "127.0.001 1234 1\n", ErrInvalidAddress},
		{"ip 256.0.0.1", "256.0.0.1 1234 1\n", ErrInvalidAddress},
		{"ip name", "localhost 1234 1\n", ErrInvalidAddress},
		{"ip v6", "::1 1234 1\n", ErrInvalidAddress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseServers(strings.NewReader(tc.text))
			switch {
			case tc.want == 0 && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.want != 0 && !errors.Is(err, tc.want):
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
	_, err := LoadServers(filepath.Join(t.TempDir(), "missing.txt"))
	if !errors.Is(err, ErrIO) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want I/O error", err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameSet(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[int]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}
