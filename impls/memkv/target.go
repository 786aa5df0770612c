package memkv

import (
	"context"
	"fmt"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/proc"
)

// Target is the memcached:// target: any server speaking memcached's text
// protocol (a real memcached, memkv, a student's), driven by memkv's adapter.
func Target() impls.Target {
	return impls.Target{
		Scheme:  "memcached",
		Summary: "any memcached text-protocol server (memcached, memkv, yours): GET PUT DELETE SWAP, pipelined",
		Example: "memcached://127.0.0.1:11211",
		Open:    openTarget,
	}
}

// protocol describes what the memcached protocol can express. It makes no
// claims, so every violation is one.
func protocol() *impls.Impl {
	return &impls.Impl{Name: "memcached", Summary: "external memcached-protocol server",
		Kinds: []impls.Kind{impls.Get, impls.Put, impls.Delete, impls.Swap}, MaxWindow: MaxWindow}
}

// openTarget connects to env.URL, first starting the --serve command (one
// at most: a memcached-protocol target is one server) and waiting until a
// process it started owns the address.
func openTarget(ctx context.Context, env impls.TargetEnv) (*impls.Impl, impls.Cluster, error) {
	addr, err := ParseTarget(env.URL)
	if err != nil {
		return nil, nil, err
	}
	if len(env.Serve) > 1 {
		return nil, nil, fmt.Errorf("%s is one server: give one --serve", env.URL)
	}
	var procs []*proc.Process
	for _, s := range env.Serve {
		spec := s.Spec()
		spec.Log, spec.Probe, spec.ReadyTimeout = env.Log, proc.OwnedTCPReady(addr), 15*time.Second
		p, err := proc.Start(ctx, spec)
		if err != nil {
			return nil, nil, fmt.Errorf("--serve %q: %w", s.Command, err)
		}
		procs = append(procs, p)
	}
	if len(procs) == 0 {
		if err := proc.TCPReady(addr)(ctx); err != nil {
			return nil, nil, fmt.Errorf("target %s unreachable (is the server running?): %w", env.URL, err)
		}
	}
	return protocol(), NewTargetCluster(addr, env.Window, procs), nil
}
