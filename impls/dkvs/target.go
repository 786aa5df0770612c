package dkvs

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/netproxy"
	"github.com/kvbench/kvbench/impls/proc"
)

// Target is the dkvs: target: the servers a servers.txt lists (anyone's,
// the course's C dkvs-server included), driven by kvbench's quorum client.
// The value is the file's path, optionally followed by the same quorum
// flags as --impl-flags: --target 'dkvs:servers.txt -n 3 -w 2 -r 2'. With
// one --serve per server (in the order servers.txt lists the distinct
// servers), kvbench starts them and the nemesis may crash or pause them
// and cut or degrade their links: kvbench's client reaches every server
// through a UDP proxy of its own.
func Target() impls.Target {
	return impls.Target{
		Scheme:  "dkvs",
		Summary: "the UDP servers of a dkvs servers.txt (yours, the course's): GET PUT through kvbench's N/W/R quorum client",
		Example: "'dkvs:servers.txt -n 3 -w 2 -r 2' --serve s1='kvbench serve dkvs 127.0.0.1 1234' --serve s2='...'",
		Open:    openTarget,
	}
}

// parseTarget splits "PATH [flags]" into the servers.txt path and the
// cluster flags (only -n, -w, -r, --timeout matter for a target).
func parseTarget(rest string) (string, ClusterFlags, error) {
	words, err := proc.SplitArgs(rest)
	if err != nil || len(words) == 0 || words[0] == "" {
		return "", ClusterFlags{}, fmt.Errorf("dkvs target %q: want dkvs:PATH [-n N -w W -r R] (%v)", rest, err)
	}
	// --servers only bounds N for a bundled cluster; a target's file decides.
	cf, err := ParseClusterFlags(append([]string{"--servers", "255"}, words[1:]...))
	if err != nil {
		return "", cf, err
	}
	return words[0], cf, nil
}

func openTarget(ctx context.Context, env impls.TargetEnv) (*impls.Impl, impls.Cluster, error) {
	path, cf, err := parseTarget(env.Rest)
	if err != nil {
		return nil, nil, err
	}
	ring, err := LoadServers(path)
	if err != nil {
		return nil, nil, fmt.Errorf("dkvs target %s: %w", path, err)
	}
	servers := ring.Servers()
	if len(env.Serve) > 0 && len(env.Serve) != len(servers) {
		return nil, nil, fmt.Errorf("dkvs target %s lists %d servers; give one --serve per server, in file order (got %d)", path, len(servers), len(env.Serve))
	}
	if env.Window > 1 {
		return nil, nil, fmt.Errorf("dkvs: -w %d: a dkvs client sends one request at a time; use -w 1", env.Window)
	}
	c := &cluster{cf: cf, ring: ring, route: map[netip.AddrPort]netip.AddrPort{}}
	// Every datagram to a server crosses a proxy kvbench owns, so network
	// faults reach the servers it manages; the ring keeps the file's
	// addresses, so keys land where the file says.
	proxies := make([]*netproxy.UDP, len(servers))
	for i, a := range servers {
		px, err := netproxy.ListenUDP("127.0.0.1:0", a, cf.Seed+int64(i))
		if err != nil {
			c.extra = proxies
			c.Close()
			return nil, nil, err
		}
		proxies[i] = px
		c.route[a] = px.Addr()
	}
	for i, s := range env.Serve {
		addr := servers[i]
		spec := s.Spec()
		spec.Log, spec.Ready, spec.Probe, spec.ReadyTimeout = env.Log, RoundTripReady(addr), proc.OwnedUDPReady(addr.String()), 15*time.Second
		p, err := proc.Start(ctx, spec)
		if err != nil {
			c.extra = proxies
			c.Close()
			return nil, nil, fmt.Errorf("--serve %s=%q for %s: %w", s.Name, s.Command, addr, err)
		}
		c.procs = append(c.procs, p)
	}
	c.proxies = proxies[:len(c.procs)]
	c.extra = proxies[len(c.procs):]
	if len(env.Serve) == 0 {
		// Servers may legitimately be down (quorums tolerate it); refuse
		// only a file none of whose servers answers.
		var errs []string
		for _, a := range servers {
			if err := RoundTripReady(a)(ctx); err == nil {
				errs = nil
				break
			} else {
				errs = append(errs, err.Error())
			}
		}
		if errs != nil {
			return nil, nil, fmt.Errorf("dkvs target %s: no server answers (are they running?): %s", path, strings.Join(errs, "; "))
		}
	}
	im := &impls.Impl{
		Name: "dkvs", Summary: "external dkvs servers through kvbench's quorum client",
		Kinds: []impls.Kind{impls.Get, impls.Put}, MaxWindow: 1,
		// The guarantees follow from the protocol and the quorum, which
		// kvbench's client implements; a violation they do not predict is
		// the servers' bug.
		Claims: func(_ []string, f impls.Faults) impls.Claim {
			return claims(targetFlags(cf), f)
		},
	}
	return im, c, nil
}

// targetFlags renders a target's quorum as cluster flags for claims.
func targetFlags(cf ClusterFlags) []string {
	return []string{"--servers", "255", "-n", fmt.Sprint(cf.Q.N), "-w", fmt.Sprint(cf.Q.W), "-r", fmt.Sprint(cf.Q.R)}
}
