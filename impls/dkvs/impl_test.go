package dkvs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/proc"
	"github.com/kvbench/kvbench/internal/kvbenchtest"
)

func TestParseClusterFlags(t *testing.T) {
	for _, tc := range []struct {
		flags string
		want  ClusterFlags
		bad   bool
	}{
		{"", ClusterFlags{Servers: 5, Nodes: 3, Q: Quorum{3, 2, 2}, Timeout: time.Second, Seed: 1}, false},
		{"--servers 5 --nodes 3 -n 3 -w 2 -r 2", ClusterFlags{Servers: 5, Nodes: 3, Q: Quorum{3, 2, 2}, Timeout: time.Second, Seed: 1}, false},
		{"-w 1", ClusterFlags{Servers: 5, Nodes: 3, Q: Quorum{1, 1, 1}, Timeout: time.Second, Seed: 1}, false},
		{"-n 5 -w 3 -r 3 --timeout 2s --seed 9", ClusterFlags{Servers: 5, Nodes: 3, Q: Quorum{5, 3, 3}, Timeout: 2 * time.Second, Seed: 9}, false},
		{"--servers 2 -n 3", ClusterFlags{}, true},
		{"--servers-file s.txt -n 3", ClusterFlags{Servers: 5, Nodes: 3, File: "s.txt", Q: Quorum{3, 2, 2}, Timeout: time.Second, Seed: 1}, false},
		{"--servers-file s.txt --nodes 2", ClusterFlags{}, true},
		{"-n 2 -r 3", ClusterFlags{}, true},
		{"--servers 0", ClusterFlags{}, true},
		{"--bogus 1", ClusterFlags{}, true},
		{"stray", ClusterFlags{}, true},
	} {
		got, err := ParseClusterFlags(strings.Fields(tc.flags))
		if tc.bad != (err != nil) || (!tc.bad && got != tc.want) {
			t.Errorf("%q: %+v, %v; want %+v (error %v)", tc.flags, got, err, tc.want, tc.bad)
		}
	}
}

func TestClaims(t *testing.T) {
	crash := impls.Faults{Crash: true}
	loss := impls.Faults{Net: []string{"loss"}}
	delay := impls.Faults{Net: []string{"delay"}}
	for _, tc := range []struct {
		flags  string
		faults impls.Faults
		lin    bool
	}{
		{"-n 3 -w 3 -r 3", impls.Faults{}, true},
		{"-n 3 -w 1 -r 3", impls.Faults{}, true},
		{"-n 3 -w 1 -r 3", loss, true},
		{"-n 3 -w 3 -r 3", impls.Faults{Pause: true, Partition: true}, true},
		{"-n 3 -w 3 -r 3", crash, false},
		{"-n 3 -w 3 -r 3", delay, false},
		{"-n 3 -w 2 -r 3", impls.Faults{Net: []string{"dup", "loss"}}, true},
		{"-n 3 -w 2 -r 2", impls.Faults{}, false},
		{"-n 3 -w 3 -r 1", impls.Faults{}, false},
		{"-n 3 -w 1 -r 1", impls.Faults{}, false},
		{"-n 1 -w 1 -r 1", impls.Faults{}, true},
		{"-n 9", impls.Faults{}, false}, // unparsable: N > servers
	} {
		c := claims(strings.Fields(tc.flags), tc.faults)
		if c.Linearizable != tc.lin || c.Why == "" {
			t.Errorf("%q %+v: %+v, want linearizable=%v with a reason", tc.flags, tc.faults, c, tc.lin)
		}
	}
}

func startCluster(t testing.TB, flags string) (impls.Cluster, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts server processes")
	}
	exe := kvbenchtest.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	var log bytes.Buffer
	c, err := Impl().Start(ctx, impls.StartEnv{Exe: exe, Dir: dir, Clients: 2, Window: 1, Flags: strings.Fields(flags), Log: &log})
	if err != nil {
		t.Fatalf("start: %v\n%s", err, log.String())
	}
	t.Cleanup(func() { c.Close() })
	return c, dir
}

func do(t *testing.T, cl impls.Client, req impls.Request) (impls.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return cl.Do(ctx, req)
}

func TestClusterEndToEnd(t *testing.T) {
	c, dir := startCluster(t, "--servers 3 --nodes 2 -n 3 -w 3 -r 3")
	nodes := c.Nodes()
	if len(nodes) != 3 {
		t.Fatalf("%d nodes", len(nodes))
	}
	for _, n := range nodes {
		if n.Role != "server" || n.Proc == nil || n.Net == nil {
			t.Fatalf("node %+v: want a server with a process and a proxy", n)
		}
	}
	cl, err := c.NewClient(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := do(t, cl, impls.Request{Kind: impls.Get, Key: "k"}); err != nil || r.Found != impls.Absent {
		t.Errorf("get of a never-written key: %+v %v, want Absent", r, err)
	}
	if r, err := do(t, cl, impls.Request{Kind: impls.Put, Key: "k", Value: "v1"}); err != nil || r.Found != impls.Unknown {
		t.Errorf("put: %+v %v", r, err)
	}
	if r, err := do(t, cl, impls.Request{Kind: impls.Get, Key: "k"}); err != nil || r.Found != impls.Present || r.Value != "v1" {
		t.Errorf("get: %+v %v", r, err)
	}
	for _, k := range []impls.Kind{impls.Delete, impls.Swap, impls.Scan} {
		if _, err := do(t, cl, impls.Request{Kind: k, Key: "k", End: "z"}); !errors.Is(err, impls.ErrUnsupported) {
			t.Errorf("%v: %v, want ErrUnsupported", k, err)
		}
	}
	if _, err := do(t, cl, impls.Request{Kind: impls.Put, Key: "k", Value: "a\x00b"}); err == nil || impls.IsUnknown(err) {
		t.Errorf("a value with NUL: %v, want a definite error", err)
	}

	// Isolating one server through its proxy: W=3 puts become unknown
	// outcomes, R=3 reads fail; healing restores both.
	if err := nodes[0].Net.Isolate(); err != nil {
		t.Fatal(err)
	}
	if _, err := do(t, cl, impls.Request{Kind: impls.Put, Key: "k", Value: "v2"}); !errors.Is(err, impls.ErrUnknownOutcome) {
		t.Errorf("put with a server isolated: %v, want unknown outcome", err)
	}
	if _, err := do(t, cl, impls.Request{Kind: impls.Get, Key: "k"}); err == nil {
		t.Error("R=3 get succeeded with a server isolated")
	}
	nodes[0].Net.Heal()
	if _, err := do(t, cl, impls.Request{Kind: impls.Put, Key: "k", Value: "v3"}); err != nil {
		t.Errorf("put after heal: %v", err)
	}

	// A crashed server restarts empty: its dump lists nothing, and the
	// others still hold the key.
	if err := nodes[1].Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := nodes[1].Proc.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	cc := c.(*cluster)
	dumps := map[string]string{}
	for _, px := range cc.proxies {
		dumps[px.Addr().String()] = dumpVia(t, px.Addr().String())
	}
	if d := dumps[cc.proxies[1].Addr().String()]; d != "storing 0 key-value pairs:\n" {
		t.Errorf("restarted server dumps %q, want an empty table", d)
	}
	if d := dumps[cc.proxies[0].Addr().String()]; d != "storing 1 key-value pairs:\nk --> v3\n" {
		t.Errorf("surviving server dumps %q", d)
	}
	if _, err := do(t, cl, impls.Request{Kind: impls.Get, Key: "k"}); err == nil {
		t.Error("R=3 get succeeded with one replica empty")
	}

	// servers.txt lists the proxies, each with 2 nodes.
	b, err := os.ReadFile(filepath.Join(dir, ServersFile))
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for _, px := range cc.proxies {
		want += px.Addr().Addr().String() + " " + strings.TrimPrefix(px.Addr().String(), px.Addr().Addr().String()+":") + " 2\n"
	}
	if string(b) != want {
		t.Errorf("servers.txt:\n%s\nwant:\n%s", b, want)
	}
}

// dumpVia sends a dump request to addr and returns the single reply.
func dumpVia(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(nil)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1<<16)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	exe := kvbenchtest.Binary(t)
	dir := t.TempDir()
	addrs := []string{}
	for i := 0; i < 2; i++ {
		ap, err := proc.FreeUDPAddr()
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ap.String())
	}
	txt := ""
	var serve []impls.ServeCommand
	for i, a := range addrs {
		h, p, _ := net.SplitHostPort(a)
		txt += h + " " + p + " 2\n"
		serve = append(serve, impls.ServeCommand{Name: "s" + string(rune('1'+i)), Command: exe + " serve dkvs " + h + " " + p})
	}
	path := filepath.Join(dir, "servers.txt")
	if err := os.WriteFile(path, []byte(txt), 0o644); err != nil {
		t.Fatal(err)
	}
	tg := Target()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	im, c, err := tg.Open(ctx, impls.TargetEnv{URL: "dkvs:" + path + " -n 2 -w 2 -r 2", Rest: path + " -n 2 -w 2 -r 2", Serve: serve, Dir: dir, Clients: 1, Window: 1, Exe: exe})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !im.Claims(nil, impls.Faults{}).Linearizable || im.Claims(nil, impls.Faults{Crash: true}).Linearizable {
		t.Error("target claims: (2,2,2) without faults is linearizable, with crashes not")
	}
	if n := c.Nodes(); len(n) != 2 || n[0].Name != "s1" || n[0].Proc == nil || n[0].Net == nil {
		t.Fatalf("nodes %+v: want s1, s2 with processes and proxies", n)
	}
	cl, _ := c.NewClient(ctx, 0)
	if _, err := cl.Do(ctx, impls.Request{Kind: impls.Put, Key: "k", Value: "v"}); err != nil {
		t.Fatal(err)
	}
	if r, err := cl.Do(ctx, impls.Request{Kind: impls.Get, Key: "k"}); err != nil || r.Value != "v" {
		t.Errorf("get: %+v %v", r, err)
	}
	// The client reaches the servers through kvbench's proxies: isolating
	// one makes R=2 reads fail.
	c.Nodes()[1].Net.Isolate()
	short, cancelShort := context.WithTimeout(ctx, 3*time.Second)
	if r, err := cl.Do(short, impls.Request{Kind: impls.Get, Key: "k"}); err == nil {
		t.Errorf("R=2 get with one of two servers isolated: %+v", r)
	}
	cancelShort()
	c.Nodes()[1].Net.Heal()
	if r, err := cl.Do(ctx, impls.Request{Kind: impls.Get, Key: "k"}); err != nil || r.Value != "v" {
		t.Errorf("get after heal: %+v %v", r, err)
	}
	// Crash and restart one: it is ready again only once it answers.
	p := c.Nodes()[0].Proc
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := p.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := cl.Do(ctx, impls.Request{Kind: impls.Get, Key: "k"}); err == nil {
		t.Errorf("R=2 get after one of two replicas restarted empty: %+v", r)
	}
	// A --serve count that does not match the file is refused.
	if _, _, err := tg.Open(ctx, impls.TargetEnv{Rest: path, Serve: serve[:1], Dir: dir, Clients: 1, Window: 1}); err == nil {
		t.Error("one --serve for two servers accepted")
	}
}

// TestClusterFromFile: --servers-file starts the file's servers at their
// addresses, keeps the file's ring and still routes through the proxies.
func TestClusterFromFile(t *testing.T) {
	var txt string
	var addrs []string
	for i := 0; i < 3; i++ {
		a, err := proc.FreeUDPAddr()
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, a.String())
		txt += fmt.Sprintf("%s %d %d\n", a.Addr(), a.Port(), i+1)
	}
	file := filepath.Join(t.TempDir(), "mine.txt")
	if err := os.WriteFile(file, []byte(txt), 0o644); err != nil {
		t.Fatal(err)
	}
	c, dir := startCluster(t, "--servers-file "+file+" -n 3 -w 3 -r 3")
	if b, _ := os.ReadFile(filepath.Join(dir, ServersFile)); string(b) != txt {
		t.Errorf("servers.txt in the run dir: %q, want the file's %q", b, txt)
	}
	cl, _ := c.NewClient(context.Background(), 0)
	if _, err := do(t, cl, impls.Request{Kind: impls.Put, Key: "k", Value: "v"}); err != nil {
		t.Fatal(err)
	}
	// Each server really listens at the file's address and holds the key.
	for _, a := range addrs {
		if d := dumpVia(t, a); d != "storing 1 key-value pairs:\nk --> v\n" {
			t.Errorf("server %s dumps %q", a, d)
		}
	}
	// Through the proxy: isolating a server fails R=3 reads.
	c.Nodes()[0].Net.Isolate()
	if _, err := do(t, cl, impls.Request{Kind: impls.Get, Key: "k"}); err == nil {
		t.Error("R=3 get succeeded with a server isolated")
	}
}
