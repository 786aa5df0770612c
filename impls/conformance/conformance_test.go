package conformance_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/conformance"
	"github.com/kvbench/kvbench/impls/proc"
	"github.com/kvbench/kvbench/impls/registry"
)

// kvbenchExe is the kvbench binary TestMain builds once for every subject.
var kvbenchExe string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

// runTests builds cmd/kvbench into a temp dir, runs the tests and removes
// the dir (os.Exit in TestMain would skip a defer).
func runTests(m *testing.M) int {
	if os.Getenv(fakeBugEnv) != "" {
		return m.Run() // a child of TestSuiteCatchesBugs runs only the fake store
	}
	dir, err := os.MkdirTemp("", "kvbench-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	kvbenchExe = filepath.Join(dir, "kvbench")
	build := exec.Command("go", "build", "-o", kvbenchExe, "github.com/kvbench/kvbench/cmd/kvbench")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building kvbench: %v\n", err)
		return 1
	}
	return m.Run()
}

// protocolFacts are what a store's protocol does not reveal, for the
// bundled stores whose protocol hides something; any other store is held
// to the strict default (Found revealed for every kind).
var protocolFacts = map[string]struct {
	foundUnknown []impls.Kind
	tokenValues  bool
	maxValueSize int
	noNUL        bool
	datagram     bool
}{
	"memkv":  {foundUnknown: []impls.Kind{impls.Put}}, // memcached's set does not say whether it overwrote
	"shm":    {foundUnknown: []impls.Kind{impls.Put}}, // the ring's PUT answer carries no old value
	"istkvs": {foundUnknown: []impls.Kind{impls.Put}}, // a job's WRITE prints nothing
	"dkvs": {foundUnknown: []impls.Kind{impls.Put}, // a put reply says stored, not whether the key existed
		maxValueSize: 32753, noNUL: true, datagram: true}, // one UDP datagram; C strings
}

// variants are further server flags a store is run with besides its
// defaults, where they change what the suite checks (madkv stage 2: a
// manager and durable partitions, so acknowledged writes must survive).
var variants = map[string][][]string{
	"madkv": {{"--partitions", "2"}},
}

// TestRegistry runs the suite against every bundled store, each started as
// `kvbench serve NAME` from the binary TestMain built, with its default
// flags and each of its variants.
func TestRegistry(t *testing.T) {
	for _, im := range registry.All() {
		for _, flags := range append([][]string{nil}, variants[im.Name]...) {
			name := strings.Join(append([]string{im.Name}, flags...), " ")
			t.Run(name, func(t *testing.T) {
				if flags != nil && testing.Short() {
					t.Skip("a variant; not in -short")
				}
				facts := protocolFacts[im.Name]
				conformance.Run(t, conformance.Subject{
					Name: name, Impl: im, Start: im.Start, Exe: kvbenchExe, Flags: flags,
					FoundUnknown: facts.foundUnknown, TokenValues: facts.tokenValues,
					MaxValueSize: facts.maxValueSize, NoNUL: facts.noNUL, Datagram: facts.datagram,
				})
			})
		}
	}
}

const memcachedPath = "/usr/bin/memcached"

// targetStart opens a --target through its registry entry, as `kvbench run
// --target URL --serve CMD` does: url and serve are made for each cluster
// (a fresh port each time), and the target starts and manages the server.
func targetStart(t *testing.T, mk func(t *testing.T, dir string) (url string, serve []impls.ServeCommand)) (
	*impls.Impl, func(ctx context.Context, env impls.StartEnv) (impls.Cluster, error)) {
	t.Helper()
	start := func(ctx context.Context, env impls.StartEnv) (*impls.Impl, impls.Cluster, error) {
		url, serve := mk(t, env.Dir)
		tg, rest, err := registry.LookupTarget(url)
		if err != nil {
			return nil, nil, err
		}
		return tg.Open(ctx, impls.TargetEnv{URL: url, Rest: rest, Serve: serve, Dir: env.Dir,
			Clients: env.Clients, Window: env.Window, Log: env.Log, Exe: kvbenchExe})
	}
	// Open once to learn what the target says it supports.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	im, c, err := start(ctx, impls.StartEnv{Dir: t.TempDir(), Clients: 1, Window: 1, Log: io.Discard})
	if err != nil {
		t.Fatalf("open target: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close target: %v", err)
	}
	return im, func(ctx context.Context, env impls.StartEnv) (impls.Cluster, error) {
		_, c, err := start(ctx, env)
		return c, err
	}
}

// memcachedServe is a --serve command for a real memcached on a free
// loopback port, and the memcached:// URL that reaches it.
func memcachedServe(t *testing.T, _ string) (string, []impls.ServeCommand) {
	addr, err := proc.FreeTCPAddr()
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	cmd := fmt.Sprintf("%s -l %s -p %s -U 0 -t 2", memcachedPath, host, port)
	if os.Geteuid() == 0 {
		cmd += " -u root"
	}
	return "memcached://" + addr, []impls.ServeCommand{{Name: "memcached", Command: cmd}}
}

// TestMemcached runs the suite against a real memcached through the
// memcached:// target, which starts it as a --serve command.
func TestMemcached(t *testing.T) {
	if _, err := os.Stat(memcachedPath); err != nil {
		t.Skipf("%s not installed", memcachedPath)
	}
	im, start := targetStart(t, memcachedServe)
	conformance.Run(t, conformance.Subject{
		Name: "memcached", Impl: im, Start: start,
		FoundUnknown: []impls.Kind{impls.Put}, // memcached's set does not say whether it overwrote
	})
}
