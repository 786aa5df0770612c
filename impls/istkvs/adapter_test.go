package istkvs_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/conformance"
	"github.com/kvbench/kvbench/impls/istkvs"
	"github.com/kvbench/kvbench/internal/kvbenchtest"
)

// TestMain lets this test binary stand in for `kvbench serve istkvs` (see
// kvbenchtest.ServeIfChild), so tests start real server processes.
func TestMain(m *testing.M) {
	kvbenchtest.ServeIfChild("istkvs", istkvs.Impl().Serve)
	os.Exit(m.Run())
}

// serverExe is this test binary, run as `serve istkvs ARGS`.
func serverExe(t testing.TB) string { return kvbenchtest.ServerExe(t) }
func startCluster(t testing.TB, flags ...string) impls.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := istkvs.Impl().Start(ctx, impls.StartEnv{Exe: serverExe(t), Dir: t.TempDir(), Clients: 4, Window: 1, Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestJobAdapter: every kind through one-command jobs, with exact answers.
func TestJobAdapter(t *testing.T) {
	c := startCluster(t, "--threads", "2", "--backups", "1")
	if n := c.Nodes(); len(n) != 1 || n[0].Role != "server" {
		t.Fatalf("nodes %+v", n)
	}
	cl, _ := c.NewClient(context.Background(), 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, step := range []struct {
		req  impls.Request
		want impls.Response
	}{
		{impls.Request{Kind: impls.Get, Key: "a"}, impls.Response{Found: impls.Absent}},
		{impls.Request{Kind: impls.Put, Key: "a", Value: "1"}, impls.Response{Found: impls.Unknown}},
		{impls.Request{Kind: impls.Put, Key: "c", Value: "3"}, impls.Response{}},
		{impls.Request{Kind: impls.Put, Key: "e", Value: "5"}, impls.Response{}},
		{impls.Request{Kind: impls.Get, Key: "a"}, impls.Response{Found: impls.Present, Value: "1"}},
		{impls.Request{Kind: impls.Scan, Key: "b", End: "e"}, impls.Response{Pairs: []impls.Pair{{Key: "c", Value: "3"}, {Key: "e", Value: "5"}}}},
		{impls.Request{Kind: impls.Delete, Key: "a"}, impls.Response{Found: impls.Present}},
		{impls.Request{Kind: impls.Delete, Key: "a"}, impls.Response{Found: impls.Absent}},
		{impls.Request{Kind: impls.Get, Key: "a"}, impls.Response{Found: impls.Absent}},
	} {
		got, err := cl.Do(ctx, step.req)
		if err != nil || !reflect.DeepEqual(got, step.want) {
			t.Fatalf("step %d %+v: %+v, %v; want %+v", i, step.req, got, err, step.want)
		}
	}
	if _, err := cl.Do(ctx, impls.Request{Kind: impls.Swap, Key: "a", Value: "x"}); !errors.Is(err, impls.ErrUnsupported) {
		t.Errorf("swap: %v", err)
	}
	// A value IST-KVS cannot hold is stored in canonical form.
	if _, err := cl.Do(ctx, impls.Request{Kind: impls.Put, Key: "a", Value: "x y"}); err != nil {
		t.Fatal(err)
	}
	if got, err := cl.Do(ctx, impls.Request{Kind: impls.Get, Key: "a"}); err != nil || got.Value != istkvs.Canonical("x y") || len(got.Value) != 40 {
		t.Errorf("canonical value: %+v %v", got, err)
	}
	if _, err := istkvs.JobFor(impls.Request{Kind: impls.Put, Key: "a", Value: "x y"}); !errors.Is(err, istkvs.ErrBadRequest) || impls.IsUnknown(err) {
		t.Errorf("JobFor with a bad value: %v", err)
	}
	// A key IST-KVS cannot hold is stored encoded and reads back as itself.
	odd := "(odd key, with 41+ characters and [brackets])"
	if _, err := cl.Do(ctx, impls.Request{Kind: impls.Put, Key: odd, Value: "v"}); err != nil {
		t.Fatal(err)
	}
	if got, err := cl.Do(ctx, impls.Request{Kind: impls.Scan, Key: "(", End: "(z"}); err != nil ||
		!reflect.DeepEqual(got.Pairs, []impls.Pair{{Key: odd, Value: "v"}}) {
		t.Errorf("scan of an encoded key: %+v %v", got, err)
	}
	cl.Close()
	if _, err := cl.Do(ctx, impls.Request{Kind: impls.Get, Key: "a"}); err == nil || impls.IsUnknown(err) {
		t.Errorf("after Close: %v", err)
	}
	ents, _ := os.ReadDir(c.(*istkvs.JobCluster).Dir())
	if len(ents) != 0 {
		t.Errorf("%d files left in the jobs directory", len(ents))
	}
}

// TestConformance runs the shared suite through the job adapter.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several servers")
	}
	conformance.Run(t, conformance.Subject{
		Name: "istkvs", Impl: istkvs.Impl(), Exe: serverExe(t),
		Start:        istkvs.Impl().Start,
		FoundUnknown: []impls.Kind{impls.Put}, // WRITE prints nothing
		TokenValues:  true,
		MaxValueSize: 1 << 10,
	})
}
