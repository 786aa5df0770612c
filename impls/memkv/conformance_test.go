package memkv

import (
	"context"
	"io"
	"net"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls/proc"
)

const memcachedPath = "/usr/bin/memcached"

// startMemcached starts a real memcached on a free loopback port (killed at
// cleanup) or skips the test when it is not installed.
func startMemcached(t testing.TB, extra ...string) string {
	t.Helper()
	if _, err := os.Stat(memcachedPath); err != nil {
		t.Skipf("%s not installed", memcachedPath)
	}
	for attempt := 0; ; attempt++ {
		addr, err := proc.FreeTCPAddr()
		if err != nil {
			t.Fatal(err)
		}
		host, port, _ := net.SplitHostPort(addr)
		args := append([]string{"-l", host, "-p", port, "-U", "0"}, extra...)
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root")
		}
		p, err := proc.Start(context.Background(), proc.Spec{Name: "memcached", Path: memcachedPath, Args: args, Ready: proc.TCPReady(addr)})
		if err != nil {
			if attempt < 2 {
				continue
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Kill() })
		return addr
	}
}

// exchange sends in on a fresh connection, half-closes it and returns all
// the server wrote until it closed the connection.
func exchange(t *testing.T, addr, in string) string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		nc.Write([]byte(in))
		nc.(*net.TCPConn).CloseWrite()
	}()
	out, err := io.ReadAll(nc)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v (so far %q)", trunc(in), err, trunc(string(out)))
	}
	return string(out)
}

var (
	casField    = regexp.MustCompile(`(?m)^(VALUE \S+ \d+ \d+) \d+\r$`)
	versionLine = regexp.MustCompile(`(?m)^VERSION \S+\r$`)
)

func normalize(s string) string {
	s = casField.ReplaceAllString(s, "$1 CAS\r")
	return versionLine.ReplaceAllString(s, "VERSION x\r")
}

// memkv departs from memcached on purpose in these cases (see protocol.go).
var knownDifferences = map[string]bool{
	"control character in key":      true, // memkv refuses control characters
	"value of exactly the max size": true, // memcached counts its item header against -I
	"append beyond max size":        true, // ditto
	"meta commands unsupported":     true,
	// memcached also drops earlier pipelined answers still queued in the same
	// read batch (timing-dependent); memkv drops only this get's values.
	"get key too long discards earlier values": true,
	// The case spells out memkv's CAS numbering (memcached's starts elsewhere).
	"cas": true,
}

// TestMatchesMemcached runs every protocol case against a real memcached
// (-I 1k, like the table's 1 KiB limit) and memkv over TCP and compares
// the answers, CAS values and version strings aside.
func TestMatchesMemcached(t *testing.T) {
	mc := startMemcached(t, "-I", "1k", "-o", "slab_chunk_max=512")
	for _, tc := range protocolCases {
		if knownDifferences[tc.name] {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			exchange(t, mc, "flush_all\r\n")
			s := newMemServer(t, Config{MaxValueSize: 1024})
			want := normalize(exchange(t, mc, tc.in))
			got := normalize(exchange(t, startTCP(t, s), tc.in))
			if got != want {
				t.Errorf("input %q\nmemkv     %q\nmemcached %q", trunc(tc.in), got, want)
			}
		})
	}
}
