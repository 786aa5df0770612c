package istkvs_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/istkvs"
	"github.com/kvbench/kvbench/internal/kvbenchtest"
)

// TestConformanceCasesOwnServer: kvbench's own server passes every
// built-in case through its command line.
func TestConformanceCasesOwnServer(t *testing.T) {
	var report bytes.Buffer
	failed, err := istkvs.RunConformance(context.Background(), []string{serverExe(t), "serve", "istkvs"}, &report)
	if err != nil || failed != 0 {
		t.Fatalf("%d failed, %v:\n%s", failed, err, report.String())
	}
	if n := strings.Count(report.String(), "ok  case"); n != len(istkvs.ConformanceCases()) {
		t.Errorf("report:\n%s", report.String())
	}
}

// TestConformanceCatchesCourseBugs: a kvs with the course code's known
// defects (unsorted READ, DELETE reporting every key missing) fails, with
// a diff naming the file and the lines.
func TestConformanceCatchesCourseBugs(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "kvs")
	// For each job: print its READ keys in command order and report every
	// DELETE key missing, as the course's unfixed code does.
	os.WriteFile(script, []byte(`#!/bin/sh
for j in "$1"/*.job; do
  o="${j%.job}.out"; : > "$o"
  while IFS= read -r l || [ -n "$l" ]; do
    case "$l" in
      "READ ["*) ks=${l#READ [}; ks=${ks%]}; printf '[' >>"$o"; for k in $(echo "$ks" | tr , ' '); do printf '(%s,KVSERROR)' "$k" >>"$o"; done; printf ']\n' >>"$o";;
      "DELETE ["*) ks=${l#DELETE [}; ks=${ks%]}; printf '[' >>"$o"; for k in $(echo "$ks" | tr , ' '); do printf '(%s,KVSMISSING)' "$k" >>"$o"; done; printf ']\n' >>"$o";;
    esac
  done < "$j"
done
`), 0o755)
	var report bytes.Buffer
	failed, err := istkvs.RunConformance(context.Background(), []string{script}, &report)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", report.String())
	if failed == 0 || !strings.Contains(report.String(), "--- case 1 ") ||
		!strings.Contains(report.String(), "-[(l,KVSERROR)(v,KVSERROR)(x,KVSERROR)(z,KVSERROR)]") ||
		!strings.Contains(report.String(), "+[(x,KVSERROR)(z,KVSERROR)(l,KVSERROR)(v,KVSERROR)]") {
		t.Fatalf("%d failed:\n%s", failed, report.String())
	}
}

// TestTargetServe opens istkvs:DIR with --serve running kvbench's own
// server (part 2): conformance first, then the job adapter.
func TestTargetServe(t *testing.T) {
	exe := serverExe(t)
	dir := filepath.Join(t.TempDir(), "jobs")
	fifo := filepath.Join(t.TempDir(), "reg")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var log lockedBuffer // the server's output arrives while the test reads it
	im, c, err := istkvs.Target().Open(ctx, impls.TargetEnv{URL: "istkvs:" + dir, Rest: dir, Clients: 1, Window: 1,
		Serve: []impls.ServeCommand{{Name: "kvs", Command: exe + " serve istkvs " + dir + " 4 2 " + fifo}}, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	defer c.Close()
	if !strings.Contains(log.String(), "ok  case 9") || len(c.Nodes()) != 1 || im.Supports(impls.Swap) {
		t.Errorf("log %s nodes %v", log.String(), c.Nodes())
	}
	if s, err := c.(*istkvs.JobCluster).Session(ctx, "t"); err != nil {
		t.Errorf("session through the --serve command's fifo: %v", err)
	} else {
		s.Disconnect(ctx)
	}
	cl, _ := c.NewClient(ctx, 0)
	if _, err := cl.Do(ctx, impls.Request{Kind: impls.Put, Key: "k", Value: "v"}); err != nil {
		t.Fatal(err)
	}
	got, err := cl.Do(ctx, impls.Request{Kind: impls.Get, Key: "k"})
	if err != nil || !reflect.DeepEqual(got, impls.Response{Found: impls.Present, Value: "v"}) {
		t.Fatalf("%+v %v", got, err)
	}
	if testing.Short() {
		return
	}
	// A server that does not watch its directory is refused, saying why.
	_, _, err = istkvs.Target().Open(ctx, impls.TargetEnv{URL: "istkvs:" + t.TempDir(), Rest: t.TempDir(),
		Serve: []impls.ServeCommand{{Name: "kvs", Command: "sleep 60"}}})
	if err == nil || !strings.Contains(err.Error(), "part 2") {
		t.Errorf("non-watching server: %v", err)
	}
}

// lockedBuffer collects a started process's output while the test reads it.
type lockedBuffer = kvbenchtest.Buffer
