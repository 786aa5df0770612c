package shm

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
)

func pipe(t *testing.T, c impls.Cluster, id int) impls.Pipeliner {
	t.Helper()
	p, ok := mustClient(t, c, id).(impls.Pipeliner)
	if !ok {
		t.Fatal("the shm client does not pipeline")
	}
	return p
}

// TestPipelineInOrder: each of n threads keeps w requests in flight with
// Send and takes the answers back with Recv; every answer is checked
// against the thread's own model, so one taken for another request shows.
func TestPipelineInOrder(t *testing.T) {
	const n, w, ops = 3, 8, 2000
	ip := startInProcess(t, n, w, ServerOptions{Threads: 2, TableSize: 1})
	ctx := shortCtx(30 * time.Second)
	errs := make(chan error, n)
	for id := range n {
		p := pipe(t, ip, id)
		go func() { errs <- pipelineModel(ctx, p, w, ops, (id+1)*1000) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// pipelineModel sends ops requests on keys base..base+49 through p, at most
// w in flight, and checks every answer in order against a model.
func pipelineModel(ctx context.Context, p impls.Pipeliner, w, ops, base int) error {
	model := map[string]string{}
	var want []impls.Response // the answers expected, oldest first
	recv := func() error {
		res, err := p.Recv(ctx)
		if err != nil {
			return err
		}
		if res.Found != want[0].Found || res.Value != want[0].Value {
			return fmt.Errorf("answer %+v, want %+v", res, want[0])
		}
		want = want[1:]
		return nil
	}
	for i := range ops {
		if len(want) == w {
			if err := recv(); err != nil {
				return err
			}
		}
		k := strconv.Itoa(base + (i*31)%50)
		req, exp := get(k), impls.Response{Found: impls.Absent}
		if v, ok := model[k]; ok {
			exp = impls.Response{Found: impls.Present, Value: v}
		}
		if i%3 == 0 {
			v := strconv.Itoa(1 + i)
			req, exp = put(k, v), impls.Response{Found: impls.Unknown}
			model[k] = v
		}
		if err := p.Send(ctx, req); err != nil {
			return err
		}
		want = append(want, exp)
	}
	for len(want) > 0 {
		if err := recv(); err != nil {
			return err
		}
	}
	return nil
}

// TestPipelineErrors: unsupported kinds fail at Send, definitely; Recv
// with nothing sent fails without touching anything.
func TestPipelineErrors(t *testing.T) {
	ip := startInProcess(t, 1, 2, ServerOptions{})
	p := pipe(t, ip, 0)
	ctx := shortCtx(10 * time.Second)
	if err := p.Send(ctx, impls.Request{Kind: impls.Delete, Key: "1"}); !errors.Is(err, impls.ErrUnsupported) {
		t.Errorf("Send DELETE: %v, want ErrUnsupported", err)
	}
	if _, err := p.Recv(ctx); !errors.Is(err, errNothingSent) || impls.IsUnknown(err) {
		t.Errorf("Recv with nothing sent: %v", err)
	}
	if err := p.Send(ctx, put("3", "33")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	checkGet(t, p.(impls.Client), "3", "33")
}

// TestPipelineGivesUp: with no server, Recv gives up on the oldest request
// when its ctx ends (unknown outcome) and its slot is quarantined; the
// next Recv concerns the next request. Once a server runs, the late
// answers are dropped, not taken for later requests, and the thread
// works with all its slots again. Close with a request in flight
// quarantines it too.
func TestPipelineGivesUp(t *testing.T) {
	ip := noServer(t, 1, 2)
	cl := mustClient(t, ip, 0)
	p := cl.(impls.Pipeliner)
	if err := p.Send(context.Background(), put("1", "11")); err != nil {
		t.Fatal(err)
	}
	if err := p.Send(context.Background(), put("2", "22")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err := p.Recv(shortCtx(20 * time.Millisecond))
		wantUnknown(t, err)
	}
	// Both slots are quarantined: nothing can be submitted yet.
	if err := p.Send(shortCtx(20*time.Millisecond), get("1")); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, impls.ErrUnknownOutcome) {
		t.Fatalf("Send with every slot quarantined: %v, want a deadline before submission", err)
	}
	ip.startServer(t, ServerOptions{})
	if err := pipelineModel(shortCtx(10*time.Second), p, 2, 50, 100); err != nil {
		t.Fatal(err)
	}
	checkGet(t, cl, "1", "11") // the late PUTs took effect
	checkGet(t, cl, "2", "22")

	ip.stopServer(t)
	if err := p.Send(context.Background(), put("4", "44")); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	cl = mustClient(t, ip, 0)
	ip.startServer(t, ServerOptions{})
	if err := pipelineModel(shortCtx(10*time.Second), cl.(impls.Pipeliner), 2, 50, 200); err != nil {
		t.Fatal(err)
	}
	checkGet(t, cl, "4", "44")
}

// TestPipelineCloseUnblocks: closing the cluster makes a waiting Recv
// return an unknown outcome, and later calls fail cleanly.
func TestPipelineCloseUnblocks(t *testing.T) {
	ip := noServer(t, 1, 1)
	p := pipe(t, ip, 0)
	if err := p.Send(context.Background(), get("1")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := p.Recv(context.Background()); done <- err }()
	time.Sleep(10 * time.Millisecond)
	if err := ip.cluster.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, impls.ErrUnknownOutcome) || !errors.Is(err, errClosed) {
		t.Errorf("pending Recv: %v", err)
	}
	if err := p.Send(context.Background(), get("1")); !errors.Is(err, errClosed) {
		t.Errorf("Send after Close: %v", err)
	}
}

// TestPipelineCloseAbandoned: a pipelining client holds its thread's
// region between calls while requests are in flight (client.session). One
// that abandons them, neither receiving nor closing, must not hang the
// cluster's Close nor let it unmap under it: Close returns after closeWait
// with the region still mapped, and the client's later calls fail without
// touching it. One that receives lets Close unmap.
func TestPipelineCloseAbandoned(t *testing.T) {
	defer func(d time.Duration) { closeWait = d }(closeWait)
	closeWait = 200 * time.Millisecond

	ip := startInProcess(t, 1, 4, ServerOptions{Threads: 1, TableSize: 1})
	abandoned := pipe(t, ip, 0)
	if err := abandoned.Send(context.Background(), put("1", "7")); err != nil {
		t.Fatal(err)
	}
	ip.stopServer(t)
	start := time.Now()
	if err := ip.cluster.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < closeWait {
		t.Errorf("Close returned after %v, before the abandoned client's %v", d, closeWait)
	}
	if ip.r.mem == nil {
		t.Fatal("Close unmapped the region while a client held it")
	}
	if _, err := abandoned.Recv(context.Background()); !errors.Is(err, errClosed) || !errors.Is(err, impls.ErrUnknownOutcome) {
		t.Errorf("Recv after Close: %v", err)
	}
	if err := abandoned.Send(context.Background(), get("1")); !errors.Is(err, errClosed) {
		t.Errorf("Send after Close: %v", err)
	}

	// A cluster whose client received everything is unmapped by Close
	// at once: well before a closeWait no slow machine could reach.
	closeWait = 10 * time.Second
	ip2 := startInProcess(t, 1, 4, ServerOptions{Threads: 1, TableSize: 1})
	p := pipe(t, ip2, 0)
	if err := p.Send(context.Background(), put("1", "7")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Recv(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Send(context.Background(), put("1", "8")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Recv(context.Background()); err != nil {
		t.Fatal(err)
	}
	ip2.stopServer(t)
	start = time.Now()
	if err := ip2.cluster.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= closeWait {
		t.Errorf("Close of a cluster whose client received everything took %v", d)
	}
	if ip2.r.mem != nil {
		t.Error("the region is still mapped after Close")
	}
}

// TestPipelineThenDo: the slots Recv keeps for the next Send (thread.spare)
// go back to the thread for Do calls, of the same client and of a new
// client of the same id, and a pipelined burst sent after the server
// parked (published lazily, see waitPolicy.LazyWake) is answered.
func TestPipelineThenDo(t *testing.T) {
	const w = 4
	ip := startInProcess(t, 1, w, ServerOptions{Threads: 2, TableSize: 1})
	ctx := shortCtx(20 * time.Second)
	p := pipe(t, ip, 0)
	for round := range 3 {
		time.Sleep(20 * time.Millisecond) // the server threads park
		for i := range w {
			if err := p.Send(ctx, put(strconv.Itoa(i), strconv.Itoa(round))); err != nil {
				t.Fatalf("round %d: Send: %v", round, err)
			}
		}
		for range w {
			if _, err := p.Recv(ctx); err != nil {
				t.Fatalf("round %d: Recv: %v", round, err)
			}
		}
	}
	// Every slot is in spare now: Do must still find one, w at a time.
	errs := make(chan error, w)
	for i := range w {
		go func() {
			res, err := p.(impls.Client).Do(shortCtx(5*time.Second), get(strconv.Itoa(i)))
			if err == nil && res.Value != "2" {
				err = fmt.Errorf("get %d: %+v, want 2", i, res)
			}
			errs <- err
		}()
	}
	for range w {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	// A new client of the id while the pipelined one is open.
	if err := p.Send(ctx, put("x", "y")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := mustClient(t, ip, 0).Do(shortCtx(5*time.Second), get("x")); err != nil {
		t.Fatalf("Do of a new client after pipelining: %v", err)
	}
}
