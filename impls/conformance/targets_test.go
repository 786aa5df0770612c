package conformance_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/conformance"
	"github.com/kvbench/kvbench/impls/proc"
)

// targetCase is one further --target scheme, opened through its registry
// entry with kvbench's own server (or, for etcd, Debian's) behind it.
type targetCase struct {
	name string
	need string // a binary the case needs; skipped when missing
	long bool   // only without -short
	mk   func(t *testing.T, dir string) (url string, serve []impls.ServeCommand)
	// what the protocol hides or refuses, as in protocolFacts
	foundUnknown []impls.Kind
	maxValueSize int
	noNUL        bool
	datagram     bool
	tokenValues  bool
	// claims, when set, replaces the target's (an external target claims
	// nothing), where the server behind it is known to be durable.
	claims func([]string, impls.Faults) impls.Claim
}

// freeUDPPort returns a loopback UDP port for a server (see
// proc.FreeUDPAddr: never one a client's socket could take while the
// server is down).
func freeUDPPort(t *testing.T) int {
	t.Helper()
	a, err := proc.FreeUDPAddr()
	if err != nil {
		t.Fatal(err)
	}
	return int(a.Port())
}

var targetCases = []targetCase{
	{name: "shm", foundUnknown: []impls.Kind{impls.Put}, mk: func(t *testing.T, dir string) (string, []impls.ServeCommand) {
		file := filepath.Join(dir, "shmem_file")
		return "shm:" + file, []impls.ServeCommand{{Name: "shm-server",
			Command: shellQuote(kvbenchExe) + " serve shm -n 2 --file " + shellQuote(file)}}
	}},
	{name: "istkvs", foundUnknown: []impls.Kind{impls.Put}, mk: func(t *testing.T, dir string) (string, []impls.ServeCommand) {
		jobs := filepath.Join(dir, "jobs")
		return "istkvs:" + jobs, []impls.ServeCommand{{Name: "istkvs",
			Command: shellQuote(kvbenchExe) + " serve istkvs " + shellQuote(jobs) + " 4 2 " + shellQuote(filepath.Join(dir, "register_fifo"))}}
	}},
	{name: "dkvs", foundUnknown: []impls.Kind{impls.Put}, maxValueSize: 32753, noNUL: true, datagram: true,
		mk: func(t *testing.T, dir string) (string, []impls.ServeCommand) {
			servers := filepath.Join(dir, "servers.txt")
			var list string
			var serve []impls.ServeCommand
			for i := range 3 {
				port := freeUDPPort(t)
				list += fmt.Sprintf("127.0.0.1 %d 3\n", port)
				serve = append(serve, impls.ServeCommand{Name: fmt.Sprintf("s%d", i+1),
					Command: fmt.Sprintf("%s serve dkvs 127.0.0.1 %d", shellQuote(kvbenchExe), port)})
			}
			if err := os.WriteFile(servers, []byte(list), 0o600); err != nil {
				t.Fatal(err)
			}
			return "dkvs:" + servers + " -n 3 -w 2 -r 2", serve
		}},
	{name: "etcd cluster:1", need: "/usr/bin/etcd", claims: etcdClaims,
		mk: func(*testing.T, string) (string, []impls.ServeCommand) { return "etcd:cluster:1", nil }},
	{name: "etcd cluster:3", need: "/usr/bin/etcd", long: true, claims: etcdClaims,
		mk: func(*testing.T, string) (string, []impls.ServeCommand) { return "etcd:cluster:3", nil }},
}

// etcdClaims: etcd fsyncs its Raft log before it acknowledges a write, so
// killing every member and restarting them on their data keeps it.
func etcdClaims([]string, impls.Faults) impls.Claim {
	return impls.Claim{Linearizable: true, Why: "etcd fsyncs its Raft WAL before it acknowledges a write"}
}

// TestTargets runs the suite through the shm:, istkvs:, dkvs: and etcd:
// schemes (memcached:// and exec: have their own tests).
func TestTargets(t *testing.T) {
	for _, tc := range targetCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.long && testing.Short() {
				t.Skip("a larger cluster; not in -short")
			}
			if tc.need != "" {
				if _, err := os.Stat(tc.need); err != nil {
					t.Skipf("%s not installed", tc.need)
				}
			}
			im, start := targetStart(t, tc.mk)
			desc := *im
			if tc.claims != nil {
				desc.Claims = tc.claims
			}
			conformance.Run(t, conformance.Subject{Name: tc.name, Impl: &desc, Start: start,
				FoundUnknown: tc.foundUnknown, MaxValueSize: tc.maxValueSize, NoNUL: tc.noNUL, Datagram: tc.datagram, TokenValues: tc.tokenValues})
		})
	}
}
