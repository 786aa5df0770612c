package memkv

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
)

func TestImplDescription(t *testing.T) {
	im := Impl()
	if im.Name != "memkv" || im.Serve == nil || im.Start == nil || im.Claims == nil || im.MaxWindow < 8 {
		t.Fatalf("incomplete Impl: %+v", im)
	}
	for _, k := range []impls.Kind{impls.Get, impls.Put, impls.Delete, impls.Swap} {
		if !im.Supports(k) {
			t.Errorf("does not list %v", k)
		}
	}
	if im.Supports(impls.Scan) {
		t.Error("claims Scan, which memcached's protocol lacks")
	}
}

func TestClaims(t *testing.T) {
	crash := impls.Faults{Crash: true}
	for _, tc := range []struct {
		flags  []string
		faults impls.Faults
		lin    bool
		why    string
	}{
		{nil, impls.Faults{}, true, "shard lock"},
		{nil, impls.Faults{Pause: true}, true, "shard lock"},
		{nil, crash, true, "fsync"},
		{[]string{"--fsync", "always"}, crash, true, "fsynced"},
		{[]string{"--fsync=interval"}, crash, false, "--fsync interval"},
		{[]string{"--fsync", "never"}, crash, false, "--fsync never may lose acknowledged writes on a crash"},
		{[]string{"--fsync", "never"}, impls.Faults{}, true, ""},
		{[]string{"--data", ""}, crash, false, "memory"},
		{[]string{"--max-items", "10"}, impls.Faults{}, false, "evict"},
		{[]string{"--fsync", "bogus"}, impls.Faults{}, false, "unparsable"},
	} {
		c := claims(tc.flags, tc.faults)
		if c.Linearizable != tc.lin || !strings.Contains(c.Why, tc.why) || c.Why == "" {
			t.Errorf("claims(%q, %+v) = %+v; want linearizable %v, why containing %q", tc.flags, tc.faults, c, tc.lin, tc.why)
		}
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"memcached://127.0.0.1:11211", "127.0.0.1:11211", true},
		{"memcached://localhost:22122/", "localhost:22122", true},
		{"memcached://cache.example.com", "cache.example.com:11211", true},
		{"memcached://[::1]:11211", "[::1]:11211", true},
		{"memcache://host:1", "", false},
		{"host:11211", "", false},
		{"memcached://", "", false},
		{"memcached://host:", "", false},
		{"memcached://host:0", "", false},
		{"memcached://host:70000", "", false},
		{"memcached://host:port", "", false},
		{"memcached://user@host:1", "", false},
		{"memcached://host:1/db", "", false},
		{"memcached://host:1?x=1", "", false},
	} {
		got, err := ParseTarget(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseTarget(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tc.in) {
			t.Errorf("error %q does not name the target", err)
		}
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "1m": 1 << 20, "512K": 512 << 10, "2g": 2 << 30, "1MiB": 1 << 20, "3mb": 3 << 20, "7b": 7} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "m", "1q", "-1", "1.5m", "99999999999g"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("Set(%q) accepted", in)
		}
	}
}

func TestServeFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
		wantOut string
	}{
		{[]string{"-h"}, "", "Usage: kvbench serve memkv"},
		{[]string{"--fsync", "sometimes"}, `unknown fsync mode "sometimes"`, ""},
		{[]string{"--max-value-size", "1q"}, "bad size", ""},
		{[]string{"--compact-bytes", "0"}, "must be positive", ""},
		// Size flags have upper bounds: a flag error, never a Go out-of-memory crash.
		{[]string{"--shards", "1073741824", "--data", ""}, "--shards 1073741824 is too large (at most 65536)", ""},
		{[]string{"--max-value-size", "2g", "--data", ""}, "--max-value-size 2147483648 is too large", ""},
		{[]string{"--conn-limit", "100000000", "--data", ""}, "--conn-limit 100000000 is too large", ""},
		{[]string{"-c", "0", "--data", ""}, "must be positive", ""},
		{[]string{"--compact-bytes", "2000g", "--data", ""}, "--compact-bytes 2147483648000 is too large", ""},
		{[]string{"--max-inflight-bytes", "1k", "--data", ""}, "--max-inflight-bytes 1024 is too small", ""},
		{[]string{"--loop", "kqueue", "--data", ""}, `--loop: unknown loop "kqueue" (want epoll or go)`, ""},
		{[]string{"--bogus"}, "flag provided but not defined", ""},
		{[]string{"stray"}, `unexpected argument "stray"`, ""},
		{[]string{"--addr", "256.0.0.1:1", "--data", ""}, "memkv:", ""},
	} {
		var out syncBuffer
		err := serve(context.Background(), tc.args, &out, &out)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("serve %q: %v", tc.args, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("serve %q: error %v, want one containing %q", tc.args, err, tc.wantErr)
		}
		if !strings.Contains(out.String(), tc.wantOut) {
			t.Errorf("serve %q printed %q, want %q", tc.args, out.String(), tc.wantOut)
		}
	}
}

// TestNewServerBounds: a Config beyond the bounds is an error too.
func TestNewServerBounds(t *testing.T) {
	for _, cfg := range []Config{{Shards: 1 << 30}, {MaxValueSize: 1 << 31}, {MaxConns: 1 << 30}, {MaxInflightBytes: 1}} {
		if s, err := NewServer(cfg); !errors.Is(err, ErrConfig) {
			if s != nil {
				s.Close()
			}
			t.Errorf("NewServer(%+v): %v, want ErrConfig", cfg, err)
		}
	}
}

// TestServeInProcess runs `serve` as `kvbench serve memkv` does: it prints
// its ready line, serves, and returns nil when its context is cancelled.
func TestServeInProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(context.Background())
	var log syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, []string{"--addr", "127.0.0.1:0", "--data", dir, "--fsync", "interval"}, &log, &log)
	}()
	ready := regexp.MustCompile(`memkv listening on (127\.0\.0\.1:\d+) \(data (.*), fsync interval, loop epoll\)\n`)
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		m = ready.FindStringSubmatch(log.String())
	}
	if m == nil || m[2] != dir {
		t.Fatalf("no ready line: %q", log.String())
	}
	c := dial(t, m[1], 1)
	if _, err := c.Do(ctx, impls.Request{Kind: impls.Put, Key: "k", Value: "v"}); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after cancel")
	}
	if _, err := net.Dial("tcp", m[1]); err == nil {
		t.Error("still accepting after stop")
	}
	s := newDiskServer(t, dir, Config{})
	defer s.Close()
	if got := converse(s, "get k\r\n"); got != "VALUE k 0 1\r\nv\r\nEND\r\n" {
		t.Errorf("after stop the data dir holds %q", got)
	}
}

func TestStartRejectsBadFlags(t *testing.T) {
	_, err := Impl().Start(context.Background(), impls.StartEnv{Exe: "/nonexistent", Dir: t.TempDir(), Flags: []string{"--nope"}})
	if err == nil || !strings.Contains(err.Error(), "--nope") {
		t.Errorf("Start with a bad flag: %v", err)
	}
}

func TestTargetCluster(t *testing.T) {
	s := newMemServer(t, Config{})
	cl := NewTargetCluster(startTCP(t, s), 4, nil)
	defer cl.Close()
	if len(cl.Nodes()) != 0 {
		t.Error("external target reports processes")
	}
	c, err := cl.NewClient(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r, err := c.Do(context.Background(), impls.Request{Kind: impls.Get, Key: "x"}); err != nil || r.Found != impls.Absent {
		t.Errorf("get through target cluster: %+v, %v", r, err)
	}
	if _, err := c.Do(context.Background(), impls.Request{Kind: impls.Scan, Key: "a", End: "b"}); !errors.Is(err, impls.ErrUnsupported) {
		t.Errorf("scan: %v", err)
	}
}
