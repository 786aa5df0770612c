package madkv

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/proc"
	"github.com/kvbench/kvbench/internal/kvbenchtest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestMain lets this test binary stand in for `kvbench serve madkv` (see
// kvbenchtest.ServeIfChild), so tests start real server processes.
func TestMain(m *testing.M) {
	kvbenchtest.ServeIfChild("madkv", serveAny)
	os.Exit(m.Run())
}

// testExe is this test binary, run as `serve madkv ARGS`.
func testExe(t testing.TB) string { return kvbenchtest.ServerExe(t) }
func freeAddr(t *testing.T) string {
	t.Helper()
	a, err := proc.FreeTCPAddr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// inProc runs `kvbench serve madkv args...` in this process until stop.
type inProc struct {
	cancel context.CancelFunc
	done   chan error
}

func startInProc(t *testing.T, args ...string) *inProc {
	t.Helper()
	return startInProcLog(t, testLog{t}, args...)
}

func startInProcLog(t *testing.T, log io.Writer, args ...string) *inProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &inProc{cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- serve(ctx, args, io.Discard, log) }()
	t.Cleanup(func() { p.stop() })
	return p
}

func (p *inProc) stop() error {
	p.cancel()
	err := <-p.done
	p.done <- err // idempotent
	return err
}

// testLog sends server logs to t.Log.
type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// stage1 starts an in-process stage 1 server and returns its address.
func stage1(t *testing.T) string {
	t.Helper()
	addr := freeAddr(t)
	startInProc(t, "server", addr)
	return addr
}

// stage2 is an in-process manager and servers.
type stage2Cluster struct {
	mgr     string
	servers []string
	backers []string
	procs   []*inProc
}

func startStage2(t *testing.T, parts int) *stage2Cluster {
	t.Helper()
	c := &stage2Cluster{mgr: freeAddr(t)}
	dir := t.TempDir()
	for i := 0; i < parts; i++ {
		c.servers = append(c.servers, freeAddr(t))
		c.backers = append(c.backers, filepath.Join(dir, "backer.s"+strconv.Itoa(i)))
	}
	startInProc(t, "manager", portOf(c.mgr), strings.Join(c.servers, ","))
	for i := range c.servers {
		c.procs = append(c.procs, c.startServer(t, i))
	}
	return c
}

func (c *stage2Cluster) startServer(t *testing.T, i int) *inProc {
	return startInProc(t, "server", strconv.Itoa(i), c.mgr, portOf(c.servers[i]), c.backers[i])
}

func dial(t *testing.T, addr string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// do runs one request with a 10 s bound and fails the test on error.
func do(t *testing.T, c impls.Client, req impls.Request) impls.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, req)
	if err != nil {
		t.Fatalf("%s %q: %v", req.Kind, req.Key, err)
	}
	return resp
}

func put(k, v string) impls.Request  { return impls.Request{Kind: impls.Put, Key: k, Value: v} }
func swap(k, v string) impls.Request { return impls.Request{Kind: impls.Swap, Key: k, Value: v} }
func get(k string) impls.Request     { return impls.Request{Kind: impls.Get, Key: k} }
func del(k string) impls.Request     { return impls.Request{Kind: impls.Delete, Key: k} }
func scan(a, b string) impls.Request { return impls.Request{Kind: impls.Scan, Key: a, End: b} }

// syncWriter collects a started process's output while the test reads it.
type syncWriter = kvbenchtest.Buffer

// noteFreshPut files the outcome of a PUT of v to k, a key never written
// before: acknowledged (in acked; it must say the key was absent), unknown
// (counted), or wrong (a definite error or a key found present). The
// caller holds whatever guards acked and wrong.
func noteFreshPut(k, v string, r impls.Response, err error, acked map[string]string, wrong *[]string, unknown *atomic.Int64) {
	switch {
	case err == nil && r.Found != impls.Absent:
		*wrong = append(*wrong, fmt.Sprintf("PUT %s (fresh key) replied %v", k, r.Found))
	case err == nil:
		acked[k] = v
	case impls.IsUnknown(err):
		unknown.Add(1)
	default:
		*wrong = append(*wrong, fmt.Sprintf("PUT %s: definite error %v", k, err))
	}
}
