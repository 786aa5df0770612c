package conformance_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/conformance"
	"github.com/kvbench/kvbench/impls/memkv"
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
}{
	"memkv": {foundUnknown: []impls.Kind{impls.Put}}, // memcached's set does not say whether it overwrote
	"shm":   {foundUnknown: []impls.Kind{impls.Put}}, // the ring's PUT answer carries no old value
}

// TestRegistry runs the suite against every bundled store, each started as
// `kvbench serve NAME` from the binary TestMain built.
func TestRegistry(t *testing.T) {
	for _, im := range registry.All() {
		t.Run(im.Name, func(t *testing.T) {
			facts := protocolFacts[im.Name]
			conformance.Run(t, conformance.Subject{
				Name: im.Name, Impl: im, Start: im.Start, Exe: kvbenchExe,
				FoundUnknown: facts.foundUnknown, TokenValues: facts.tokenValues,
			})
		})
	}
}

const memcachedPath = "/usr/bin/memcached"

// memcachedImpl describes real memcached as the memcached:// adapter
// drives it. It claims nothing (memcached keeps its data in memory).
func memcachedImpl() *impls.Impl {
	return &impls.Impl{
		Name:      "memcached",
		Summary:   "a real memcached through the memcached:// adapter",
		Kinds:     []impls.Kind{impls.Get, impls.Put, impls.Delete, impls.Swap},
		MaxWindow: memkv.MaxWindow,
	}
}

// startMemcached starts /usr/bin/memcached on a free loopback port as the
// one node of a memcached:// cluster.
func startMemcached(ctx context.Context, env impls.StartEnv) (impls.Cluster, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr, err := proc.FreeTCPAddr()
		if err != nil {
			return nil, err
		}
		host, port, _ := net.SplitHostPort(addr)
		args := []string{"-l", host, "-p", port, "-U", "0", "-t", "2"}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root")
		}
		p, err := proc.Start(ctx, proc.Spec{Name: "memcached", Path: memcachedPath, Args: args,
			Log: env.Log, Ready: proc.TCPReady(addr), ReadyTimeout: 10 * time.Second})
		if err == nil {
			return memkv.NewTargetCluster(addr, env.Window, []*proc.Process{p}), nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("start memcached: %w", lastErr)
}

// TestMemcached runs the suite against a real memcached through the
// memcached:// adapter.
func TestMemcached(t *testing.T) {
	if _, err := os.Stat(memcachedPath); err != nil {
		t.Skipf("%s not installed", memcachedPath)
	}
	conformance.Run(t, conformance.Subject{
		Name: "memcached", Impl: memcachedImpl(), Start: startMemcached,
		FoundUnknown: []impls.Kind{impls.Put},
	})
}
