package memkv

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/probe"
	"github.com/kvbench/kvbench/impls/proc"
)

// floodAttacks are issue 13's connection floods: connections each sending
// the first 999 000 bytes of a 1 MB set, and half-sent 1 MB multi-get
// lines. The short versions use fewer connections.
func floodAttacks() []struct {
	name string
	cfg  probe.FloodConfig
} {
	sets, gets := 300, 150
	if probe.Long() {
		sets, gets = 600, 300
	}
	set := probe.SetPrefix("flood", 1_000_000, 999_000)
	get := probe.MultiGetPrefix(1_000_000, 500_000)
	return []struct {
		name string
		cfg  probe.FloodConfig
	}{
		{"half-sent 1 MB sets", probe.FloodConfig{Conns: sets, Payload: func(int) []byte { return set }}},
		{"half-sent 1 MB multi-gets", probe.FloodConfig{Conns: gets, Payload: func(int) []byte { return get }}},
	}
}

// floodBudget is the most memkv's resident set may grow under one flood:
// the default in-flight budget (64 MiB), per-connection buffers, and
// garbage the Go collector has not returned yet. Without the budget the
// short set flood alone grows it by about 300 MB.
const floodBudget = 160 << 20

// TestProbeConnectionFlood: memkv's memory stays bounded under the floods
// (issue 13: 600 such sets took it from 37 MB to 618 MB, 300 multi-gets
// past 1 GB). memcached's figures are logged beside memkv's when it is
// installed.
func TestProbeConnectionFlood(t *testing.T) {
	for _, at := range floodAttacks() {
		t.Run(at.name, func(t *testing.T) {
			cl, _ := startChild(t, t.TempDir(), "--fsync", "always")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, err := probe.Flood(ctx, cl.addr, cl.Nodes()[0].Proc.Pid(), at.cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("memkv:     %v", res)
			if grew := res.RSSDuring - res.RSSBefore; grew > floodBudget {
				t.Errorf("memkv grew by %d MB under the flood, more than %d MB", grew>>20, floodBudget>>20)
			}
			// The server still answers.
			c, err := cl.NewClient(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Do(ctx, impls.Request{Kind: impls.Put, Key: "after-flood", Value: "ok"}); err != nil {
				t.Errorf("put after the flood: %v", err)
			}
			if _, err := os.Stat(memcachedPath); err == nil {
				addr, p := startMemcachedProc(t)
				res, err := probe.Flood(ctx, addr, p.Pid(), at.cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("memcached: %v", res)
			}
		})
	}
}

// startMemcachedProc starts memcached with its defaults on loopback.
func startMemcachedProc(t *testing.T) (string, *proc.Process) {
	t.Helper()
	addr, err := proc.FreeTCPAddr()
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-l", host, "-p", port, "-U", "0"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root")
	}
	p, err := proc.Start(context.Background(), proc.Spec{Name: "memcached", Path: memcachedPath, Args: args, Ready: proc.TCPReady(addr)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	return addr, p
}
