package shm

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// inProcess is a cluster whose server runs in this process (RunServer in a
// goroutine on a second mapping of the same file): fast tests of the
// protocol without building the binary.
type inProcess struct {
	*cluster
	path   string
	cancel context.CancelFunc
	done   chan error
}

func startInProcess(t testing.TB, n, w int, o ServerOptions) *inProcess {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	c, err := newCluster(path, n, w, defaultWait())
	if err != nil {
		t.Fatal(err)
	}
	ip := &inProcess{cluster: c, path: path}
	ip.startServer(t, o)
	t.Cleanup(func() {
		ip.stopServer(t)
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return ip
}

// startServer starts a server incarnation on the file and waits until it
// has taken its epoch.
func (ip *inProcess) startServer(t testing.TB, o ServerOptions) {
	t.Helper()
	if o.Threads == 0 {
		o.Threads = 2
	}
	if o.TableSize == 0 {
		o.TableSize = 16
	}
	o.File = ip.path
	before := load(ip.r.word(offEpoch))
	ctx, cancel := context.WithCancel(context.Background())
	ip.cancel, ip.done = cancel, make(chan error, 1)
	go func() { ip.done <- RunServer(ctx, o, io.Discard, io.Discard) }()
	deadline := time.Now().Add(5 * time.Second)
	for load(ip.r.word(offEpoch)) == before {
		if time.Now().After(deadline) {
			t.Fatal("in-process server did not start")
		}
		time.Sleep(time.Millisecond)
	}
}

// stopServer stops the current incarnation (gracefully: its threads finish
// the request they hold).
func (ip *inProcess) stopServer(t testing.TB) {
	t.Helper()
	if ip.cancel == nil {
		return
	}
	ip.cancel()
	if err := <-ip.done; err != nil {
		t.Errorf("server: %v", err)
	}
	ip.cancel = nil
}

func mustClient(t testing.TB, c impls.Cluster, id int) impls.Client {
	t.Helper()
	cl, err := c.NewClient(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func put(k, v string) impls.Request { return impls.Request{Kind: impls.Put, Key: k, Value: v} }
func get(k string) impls.Request    { return impls.Request{Kind: impls.Get, Key: k} }
