package memkv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/internal/kvbenchtest"
)

// startChild starts `kvbench serve memkv` the way kvbench run does.
func startChild(t *testing.T, dir string, flags ...string) (*cluster, *syncBuffer) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real server processes")
	}
	bin := serverExe(t)
	log := &syncBuffer{}
	cl, err := Impl().Start(context.Background(), impls.StartEnv{Exe: bin, Dir: dir, Clients: 8, Window: 8, Flags: flags, Log: log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	t.Cleanup(func() {
		cl.Close()
		if t.Failed() {
			t.Logf("server output:\n%s", log)
		}
	})
	return cl.(*cluster), log
}

// keyState is what a crash may leave in one key: the last acknowledged
// value, or the value of a write whose outcome is unknown.
type keyState struct {
	acked, pending string
	hasAck, hasPnd bool
}

// hammer writes from 8 goroutines (two per pipelined connection), each on
// its own keys so per-key history is sequential, until stop is closed or a
// request fails; it returns every key's state.
func hammer(t *testing.T, cl *cluster, valueSize int, stop <-chan struct{}, acked *atomic.Int64) map[string]*keyState {
	var mu sync.Mutex
	states := map[string]*keyState{}
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		client, err := cl.NewClient(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		for g := 0; g < 2; g++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				pad := strings.Repeat("p", valueSize)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					key := fmt.Sprintf("w%d-k%d", w, i%25)
					val := fmt.Sprintf("w%d-%d-%s", w, i, pad)
					_, err := client.Do(context.Background(), impls.Request{Kind: impls.Put, Key: key, Value: val})
					mu.Lock()
					st := states[key]
					if st == nil {
						st = &keyState{}
						states[key] = st
					}
					switch {
					case err == nil:
						st.acked, st.hasAck = val, true
						acked.Add(1)
					case impls.IsUnknown(err):
						st.pending, st.hasPnd = val, true
					}
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}(2*c + g)
		}
	}
	wg.Wait()
	return states
}

func verifyStates(t *testing.T, cl *cluster, states map[string]*keyState) {
	t.Helper()
	c, err := cl.NewClient(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lost := 0
	for key, st := range states {
		r, err := c.Do(context.Background(), impls.Request{Kind: impls.Get, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		ok := (r.Found == impls.Present && ((st.hasAck && r.Value == st.acked) || (st.hasPnd && r.Value == st.pending))) ||
			(r.Found == impls.Absent && !st.hasAck)
		if !ok {
			lost++
			if lost <= 5 {
				t.Errorf("%s after crash: found=%v %.20q; acknowledged %.20q (pending %.20q)", key, r.Found, r.Value, st.acked, st.pending)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d keys lost an acknowledged write", lost, len(states))
	}
}

// crashDuringWrites runs hammer, SIGKILLs the server once enough writes
// were acknowledged, and returns the states.
func crashDuringWrites(t *testing.T, cl *cluster, valueSize int, minAcked int64) map[string]*keyState {
	stop := make(chan struct{})
	var acked atomic.Int64
	var states map[string]*keyState
	done := make(chan struct{})
	go func() { states = hammer(t, cl, valueSize, stop, &acked); close(done) }()
	deadline := time.Now().Add(30 * time.Second)
	for acked.Load() < minAcked && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := cl.Nodes()[0].Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
	if acked.Load() < minAcked {
		t.Fatalf("only %d writes acknowledged before the crash", acked.Load())
	}
	return states
}

func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	for _, tc := range []struct {
		name      string
		flags     []string
		valueSize int
		tamper    func(t *testing.T, dataDir string)
		check     func(t *testing.T, dataDir, log string)
	}{
		{name: "kill", flags: []string{"--fsync", "always"}, valueSize: 16},
		{name: "kill then torn tail", flags: []string{"--fsync", "always"}, valueSize: 16,
			tamper: func(t *testing.T, dir string) {
				f, err := os.OpenFile(newestLog(t, dir), os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				rec := appendRecord(nil, &record{op: opSet, key: "w0-k0", value: []byte("torn value"), cas: 1 << 40})
				f.Write(rec[:len(rec)-3])
				f.Close()
			},
			check: func(t *testing.T, dir, log string) {
				if !strings.Contains(log, "torn log tail") {
					t.Errorf("server did not report the torn tail:\n%s", log)
				}
			}},
		{name: "kill after compaction", flags: []string{"--fsync", "always", "--compact-bytes", "64k"}, valueSize: 400,
			check: func(t *testing.T, dir, log string) {
				if snaps, _ := filepath.Glob(filepath.Join(dir, "snapshot-*.jsonl")); len(snaps) == 0 {
					t.Errorf("no snapshot in %s", dir)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cl, log := startChild(t, dir, tc.flags...)
			states := crashDuringWrites(t, cl, tc.valueSize, 1500)
			dataDir := filepath.Join(dir, "memkv-data")
			if tc.tamper != nil {
				tc.tamper(t, dataDir)
			}
			if err := cl.Nodes()[0].Proc.Restart(context.Background()); err != nil {
				t.Fatalf("restart: %v", err)
			}
			verifyStates(t, cl, states)
			if tc.check != nil {
				tc.check(t, dataDir, log.String())
			}
		})
	}
}

func TestMemccapable(t *testing.T) {
	path, err := exec.LookPath("memccapable")
	if err != nil {
		t.Skip("memccapable not installed (Debian package libmemcached-tools)")
	}
	cl, _ := startChild(t, t.TempDir(), "--fsync", "always")
	host, port, _ := strings.Cut(cl.addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-a", "-h", host, "-p", port).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "All tests passed") {
		t.Fatalf("memccapable -a: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "[pass]"); n < 27 {
		t.Errorf("memccapable ran %d ASCII tests, want 27:\n%s", n, out)
	}
}

// TestServerStopsGracefully checks that SIGTERM (what Cluster.Close sends)
// lets the server write and fsync its log and exit.
func TestServerStopsGracefully(t *testing.T) {
	dir := t.TempDir()
	cl, log := startChild(t, dir, "--fsync", "never")
	c, err := cl.NewClient(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, err := c.Do(context.Background(), impls.Request{Kind: impls.Put, Key: fmt.Sprint("k", i), Value: "v"}); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if err := cl.Nodes()[0].Proc.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "memkv listening on "+cl.addr) {
		t.Errorf("no ready line in %q", log)
	}
	st := newStore(storeConfig{shards: 1, maxValue: 1 << 20}, nil)
	n, end, torn, err := replayLog(newestLog(t, filepath.Join(dir, "memkv-data")), st)
	if err != nil || torn || n != 100 || end == 0 {
		t.Errorf("log after SIGTERM: %d records, torn %v, err %v; want 100 intact", n, torn, err)
	}
	if err := cl.Nodes()[0].Proc.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	c2, _ := cl.NewClient(context.Background(), 0)
	defer c2.Close()
	if r, err := c2.Do(context.Background(), impls.Request{Kind: impls.Get, Key: "k99"}); err != nil || r.Value != "v" {
		t.Errorf("k99 after restart: %+v %v", r, errors.Unwrap(err))
	}
}

// TestClientAcrossServerKill: the adapter's idle connection to a server
// that was SIGKILLed between requests is not used for the next request:
// after a restart it succeeds on a new connection, with no server it
// fails definitely; never an unknown outcome (issue 15, part 6).
func TestClientAcrossServerKill(t *testing.T) {
	cl, _ := startChild(t, t.TempDir(), "--fsync", "always")
	p := cl.Nodes()[0].Proc
	for _, window := range []int{1, 8} {
		c, err := Dial(context.Background(), cl.addr, window)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		put := func(v string) error {
			_, err := c.Do(context.Background(), impls.Request{Kind: impls.Put, Key: "k", Value: v})
			return err
		}
		if err := put("before"); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if err := p.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := p.Restart(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := put(fmt.Sprint("after kill ", i)); err != nil {
				t.Fatalf("window %d: put after kill and restart %d: %v, want success", window, i, err)
			}
		}
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := put("nobody listens"); err == nil || impls.IsUnknown(err) {
			t.Fatalf("window %d: put with the server killed: %v, want a definite error", window, err)
		}
		if err := p.Restart(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// syncBuffer collects a started process's output while the test reads it.
type syncBuffer = kvbenchtest.Buffer
