package shm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// noServer is a cluster whose file no server serves yet: the test plays the
// dead server's part by hand, then starts a real one.
func noServer(t *testing.T, n, w int) *inProcess {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	c, err := newCluster(path, n, w, defaultWait())
	if err != nil {
		t.Fatal(err)
	}
	ip := &inProcess{cluster: c, path: path}
	t.Cleanup(func() {
		ip.stopServer(t)
		c.Close()
	})
	return ip
}

func shortCtx(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	_ = cancel // the timer releases it
	return ctx
}

func wantUnknown(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, impls.ErrUnknownOutcome) {
		t.Fatalf("err = %v, want ErrUnknownOutcome", err)
	}
}

// TestRestartRetakesClaimedEntries: a server died after claiming entries
// (c_head advanced) but before releasing them (c_tail). A new server hands
// them back to itself and answers them.
func TestRestartRetakesClaimedEntries(t *testing.T) {
	ip := noServer(t, 1, 2)
	cl := mustClient(t, ip, 0)
	done := make(chan error, 2)
	go func() { _, err := cl.Do(context.Background(), put("1", "11")); done <- err }()
	go func() { _, err := cl.Do(context.Background(), put("2", "22")); done <- err }()
	for load(ip.r.pTail()) != 2 {
		time.Sleep(time.Millisecond)
	}
	store(ip.r.cHead(), 2) // the dead server's claims
	ip.startServer(t, ServerOptions{})
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	checkGet(t, cl, "1", "11")
	checkGet(t, cl, "2", "22")
}

// TestLateAnswer: a request abandoned while no server runs (a pause) is
// answered later; its slot is quarantined until then, so the answer is
// never taken for the next request's, and the thread (w=1) goes on.
func TestLateAnswer(t *testing.T) {
	ip := noServer(t, 1, 1)
	cl := mustClient(t, ip, 0)
	_, err := cl.Do(shortCtx(20*time.Millisecond), put("5", "55"))
	wantUnknown(t, err)
	// The slot is quarantined: with w=1 nothing can be submitted yet.
	if _, err := cl.Do(shortCtx(20*time.Millisecond), get("5")); !errors.Is(err, context.DeadlineExceeded) || impls.IsUnknown(err) && errors.Is(err, impls.ErrUnknownOutcome) {
		t.Fatalf("second request: err = %v, want a deadline before submission", err)
	}
	ip.startServer(t, ServerOptions{})
	checkGet(t, cl, "5", "55") // the late PUT took effect; its answer was dropped
}

// TestLostRequest: a server took a request off the ring and died before
// answering. Once a restarted server has drained the ring, the client knows
// the answer will never come and reuses the slot.
func TestLostRequest(t *testing.T) {
	ip := noServer(t, 1, 1)
	cl := mustClient(t, ip, 0)
	// The "dead server": consume without answering.
	var stop atomic.Bool
	var released atomic.Uint64
	var tail atomic.Uint32
	took := make(chan struct{})
	go func() {
		ip.r.consume(consumer{quit: stop.Load, threads: 1, wait: &ip.wait, released: &released, tail: &tail})
		close(took)
	}()
	_, err := cl.Do(shortCtx(50*time.Millisecond), put("7", "77"))
	wantUnknown(t, err)
	<-took
	if released.Load() != 1 {
		t.Fatal("the fake server did not take the request")
	}
	ip.startServer(t, ServerOptions{})
	checkGet(t, cl, "7", "") // lost with its server: the new table is empty
	if _, err := cl.Do(context.Background(), put("7", "78")); err != nil {
		t.Fatal(err)
	}
	checkGet(t, cl, "7", "78")
}

// TestAbandonKeepsOrder: with w=2, abandoning the older request lets the
// newer one complete; in-order completion does not wedge the thread.
func TestAbandonKeepsOrder(t *testing.T) {
	ip := noServer(t, 1, 2)
	cl := mustClient(t, ip, 0)
	first := make(chan error, 1)
	go func() { _, err := cl.Do(shortCtx(30*time.Millisecond), put("1", "1")); first <- err }()
	for load(ip.r.pTail()) != 1 {
		time.Sleep(time.Millisecond)
	}
	second := make(chan error, 1)
	go func() { _, err := cl.Do(context.Background(), put("2", "2")); second <- err }()
	wantUnknown(t, <-first)
	ip.startServer(t, ServerOptions{})
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	checkGet(t, cl, "2", "2")
}

// TestCrashRestart kills the real server process, restarts it on the same
// file and checks the ring still serves, with an empty table; and pauses it
// to check that a pause only delays answers.
func TestCrashRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx := context.Background()
	c, err := start(ctx, impls.StartEnv{Exe: serverExe(t), Dir: t.TempDir(), Clients: 2, Window: 2,
		Flags: []string{"-n", "2", "-s", "3"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl := mustClient(t, c, 0)
	for i := range 100 {
		if _, err := cl.Do(ctx, put(strconv.Itoa(i), strconv.Itoa(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	p := c.Nodes()[0].Proc
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := p.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	checkGet(t, cl, "3", "") // the table died with the server
	checkModel(t, mustClient(t, c, 1), "0", 300)

	// Pause: a request times out (unknown), the answer comes after resume.
	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, p.Pid()) // SIGSTOP takes a moment to stop every thread
	_, err = cl.Do(shortCtx(50*time.Millisecond), put("42", "4242"))
	wantUnknown(t, err)
	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	// The late PUT takes effect; a GET from another slot may be served by
	// the other server thread before it, so look until it shows.
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := cl.Do(shortCtx(10*time.Second), get("42"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Found == impls.Present && res.Value == "4242" {
			break
		}
		if res.Found != impls.Absent || time.Now().After(deadline) {
			t.Fatalf("get 42 = %+v after the pause", res)
		}
	}
}

// waitStopped waits until every thread of pid is stopped.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		stopped := len(tasks) > 0
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			// The state follows the parenthesized command name.
			if i := bytes.LastIndexByte(b, ')'); err != nil || i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
				stopped = false
			}
		}
		if stopped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not stop", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

func checkGet(t *testing.T, cl impls.Client, k, want string) {
	t.Helper()
	res, err := cl.Do(shortCtx(10*time.Second), get(k))
	if err != nil {
		t.Fatalf("get %s: %v", k, err)
	}
	if want == "" && res.Found != impls.Absent || want != "" && (res.Found != impls.Present || res.Value != want) {
		t.Fatalf("get %s = %+v, want %q", k, res, want)
	}
}
