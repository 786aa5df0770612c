package etcd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/proc"
)

// Target is the etcd target: a running cluster (etcd://host:port,...), or a
// local cluster of N members kvbench starts from Debian's etcd-server
// (etcd:cluster:N) so the nemesis can crash, pause and elect around them.
func Target() impls.Target {
	return impls.Target{
		Scheme:  "etcd",
		Summary: "etcd v3 through its Go client: GET PUT DELETE SWAP SCAN; etcd:cluster:3 starts a local 3-member cluster",
		Example: "etcd:cluster:3",
		Open:    open,
	}
}

// describe says what etcd's API supports. An external target claims
// nothing, so the checker counts every violation.
func describe() *impls.Impl {
	return &impls.Impl{Name: "etcd", Summary: "etcd v3 (Raft-replicated)",
		Kinds: []impls.Kind{impls.Get, impls.Put, impls.Delete, impls.Swap, impls.Scan}, MaxWindow: MaxWindow}
}

// maxMembers bounds etcd:cluster:N.
const maxMembers = 9

// parse reads a target's Rest: "//h:p,h:p" (endpoints) or "cluster:N".
func parse(rest string) (endpoints []string, members int, err error) {
	if n, ok := strings.CutPrefix(rest, "cluster:"); ok {
		members, err = strconv.Atoi(n)
		if err != nil || members < 1 || members > maxMembers {
			return nil, 0, fmt.Errorf("etcd:cluster:%s: want 1..%d members", n, maxMembers)
		}
		return nil, members, nil
	}
	hosts, ok := strings.CutPrefix(rest, "//")
	if !ok || hosts == "" {
		return nil, 0, fmt.Errorf("want etcd://host:port[,host:port...] or etcd:cluster:N")
	}
	for _, h := range strings.Split(strings.TrimSuffix(hosts, "/"), ",") {
		if !strings.Contains(h, ":") || strings.ContainsAny(h, "/?#@ ") {
			return nil, 0, fmt.Errorf("endpoint %q: want host:port", h)
		}
		endpoints = append(endpoints, h)
	}
	return endpoints, 0, nil
}

func open(ctx context.Context, env impls.TargetEnv) (*impls.Impl, impls.Cluster, error) {
	endpoints, members, err := parse(env.Rest)
	if err != nil {
		return nil, nil, fmt.Errorf("target %q: %w", env.URL, err)
	}
	if members > 0 {
		if len(env.Serve) > 0 {
			return nil, nil, fmt.Errorf("target %q: kvbench starts the members itself; drop --serve (or use etcd://... with one --serve per member)", env.URL)
		}
		c, err := startLocal(ctx, members, env.Dir, env.Log)
		if err != nil {
			return nil, nil, err
		}
		return describe(), c, nil
	}
	c := &cluster{endpoints: endpoints}
	for _, s := range env.Serve {
		spec := s.Spec()
		spec.Log, spec.Probe, spec.ReadyTimeout = env.Log, ownsOneOf(endpoints), 20*time.Second
		p, err := proc.Start(ctx, spec)
		if err != nil {
			c.Close()
			return nil, nil, fmt.Errorf("--serve %q: %w", s.Command, err)
		}
		c.members = append(c.members, member{name: s.Name, proc: p})
	}
	if err := c.waitLeader(ctx, 20*time.Second); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("target %s: %w", env.URL, err)
	}
	return describe(), c, nil
}

// ownsOneOf is a readiness probe: the started group listens on one of the
// endpoints, and that endpoint accepts connections.
func ownsOneOf(endpoints []string) func(context.Context, *proc.Process) error {
	return func(ctx context.Context, p *proc.Process) error {
		var errs []error
		for _, ep := range endpoints {
			if err := proc.OwnedTCPReady(ep)(ctx, p); err == nil {
				return nil
			} else {
				errs = append(errs, err)
			}
		}
		return fmt.Errorf("listens on none of %v: %w", endpoints, errors.Join(errs...))
	}
}
