package shm

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/probe"
)

// TestProbeClientTruncatedFile truncates the shared file while client
// threads have requests in flight (Do from several goroutines of one
// thread, and a pipelined thread with Send and Recv): the client's next
// access to the mapping faults, and must become an error of that call, not
// a SIGBUS that kills this process. Once the file is whole again the client
// serves on (quarantined slots are reclaimed after the server maps the
// file afresh), and Close returns.
func TestProbeClientTruncatedFile(t *testing.T) {
	const w = 4
	c, log := startReal(t, 3, w)
	file, size := c.path, int64(c.r.size())
	rounds := 3
	if probe.Long() {
		rounds = 30
	}
	var faults, unknown, other atomic.Int64
	var otherErr atomic.Value
	note := func(err error) {
		switch {
		case err == nil:
		case errors.Is(err, errClientFault):
			faults.Add(1)
		case impls.IsUnknown(err), errors.Is(err, context.DeadlineExceeded):
			unknown.Add(1)
		default:
			other.Add(1)
			otherErr.Store(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	do := mustClient(t, c, 0)
	for g := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := strconv.Itoa(g*1_000_000 + i%1000)
				_, err := do.Do(shortCtx(200*time.Millisecond), put(k, k))
				note(err)
			}
		}()
	}
	pl := pipe(t, c, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			sent := 0
			for j := range w {
				err := pl.Send(shortCtx(200*time.Millisecond), get(strconv.Itoa(i*w+j)))
				note(err)
				if err != nil {
					break
				}
				sent++
			}
			for range sent {
				_, err := pl.Recv(shortCtx(200 * time.Millisecond))
				note(err)
			}
		}
	}()

	probeCl := mustClient(t, c, 2)
	for round := range rounds {
		time.Sleep(50 * time.Millisecond)
		if err := os.Truncate(file, 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		// A call on the truncated file fails at once, and says why.
		if _, err := probeCl.Do(shortCtx(5*time.Second), get("1")); !errors.Is(err, errClientFault) {
			t.Fatalf("round %d: Do on a truncated file: %v, want %v", round, err, errClientFault)
		}
		time.Sleep(100 * time.Millisecond)
		if err := os.Truncate(file, size); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if n := other.Load(); n > 0 {
		t.Errorf("%d calls failed with an unexpected error, e.g. %v", n, otherErr.Load())
	}
	t.Logf("%d rounds: %d calls saw the fault, %d gave up (unknown outcome or deadline)", rounds, faults.Load(), unknown.Load())
	if !c.proc.Running() {
		t.Fatalf("the server died\n%s", log)
	}
	// The file is whole again: every client thread serves, including the
	// ones with slots quarantined by the truncation.
	serves(t, do, 900, 20)
	serves(t, mustClient(t, c, 1), 901, 20)
	serves(t, probeCl, 902, 20)
	if err := c.Close(); err != nil {
		t.Logf("close: %v", err)
	}
}
