package madkv

import (
	"context"
	"reflect"
	"testing"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/conformance"
)

// TestConformance runs the shared suite against both stages, started by
// Impl.Start re-executing this test binary (see TestMain).
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"stage1", nil},
		{"stage2-p3", []string{"--partitions", "3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im := Impl()
			conformance.Run(t, conformance.Subject{
				Name: "madkv-" + tc.name, Impl: im, Start: im.Start, Exe: testExe(t), Flags: tc.flags,
				MaxValueSize: 1 << 20,
			})
		})
	}
}

// TestStartNodes: stage 2's nodes are the manager and server-0..P-1, and a
// client gets the partition map through the manager.
func TestStartNodes(t *testing.T) {
	ctx := context.Background()
	log := &syncWriter{}
	c, err := start(ctx, impls.StartEnv{Exe: testExe(t), Dir: t.TempDir(), Clients: 1, Window: 1,
		Flags: []string{"--partitions", "3"}, Log: log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	defer c.Close()
	var got [][2]string
	for _, n := range c.Nodes() {
		got = append(got, [2]string{n.Name, n.Role})
	}
	want := [][2]string{{"manager", "manager"}, {"server-0", "server"}, {"server-1", "server"}, {"server-2", "server"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("nodes %v, want %v", got, want)
	}
	cl, err := c.NewClient(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if s := cl.(*Client).String(); s != "manager "+c.(*cluster).addr+" (3 partitions)" {
		t.Errorf("client talks to %q", s)
	}
	do(t, cl, put("a", "1"))
	if r := do(t, cl, get("a")); r.Value != "1" {
		t.Errorf("get a: %+v", r)
	}
}

func TestClaims(t *testing.T) {
	for _, tc := range []struct {
		flags []string
		crash bool
		want  bool
	}{
		{nil, false, true},
		{nil, true, false},
		{[]string{"--partitions", "0"}, true, false},
		{[]string{"--partitions", "3"}, true, true},
		{[]string{"--partitions", "1"}, false, true},
		{[]string{"--bogus"}, false, false},
	} {
		c := claims(tc.flags, impls.Faults{Crash: tc.crash})
		if c.Linearizable != tc.want || c.Why == "" {
			t.Errorf("claims(%q, crash=%v) = %+v, want linearizable=%v with a reason", tc.flags, tc.crash, c, tc.want)
		}
	}
}
