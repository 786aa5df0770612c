package madkv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// TestCrashRecovery kills a random stage 2 server with SIGKILL at random
// moments, over many cycles, while writers put fresh keys, and restarts it
// on the same backer. Afterwards every acknowledged write must be present
// with its value, and every acknowledged PUT of a fresh key must have
// replied not_found: a PUT retried across a crash after its first attempt
// landed must not report "found" (deduplication). Each writer also swaps a
// counter key of its own: an acknowledged SWAP following an acknowledged
// one must return exactly the previous value (a re-executed retry would
// return its own).
func TestCrashRecovery(t *testing.T) {
	cycles := 25
	if testing.Short() {
		cycles = 4
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	ctx := context.Background()
	log := &syncWriter{}
	cl, err := start(ctx, impls.StartEnv{Exe: testExe(t), Dir: t.TempDir(), Clients: 4, Window: 1,
		Flags: []string{"--partitions", "2"}, Log: log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	defer cl.Close()
	c := cl.(*cluster)

	const writers = 4
	var (
		mu         sync.Mutex
		acked      = map[string]string{}
		unknown    atomic.Int64
		wrong      []string
		stop       = make(chan struct{})
		wg         sync.WaitGroup
		attempts   atomic.Int64
		swapsAcked atomic.Int64
		clients    []*Client
	)
	for w := 0; w < writers; w++ {
		client, err := c.NewClient(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		clients = append(clients, client.(*Client))
		wg.Go(func() {
			prevSwapAcked := false
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k, v := fmt.Sprintf("w%d/%d", w, i), fmt.Sprintf("v%d", i)
				opCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
				r, err := client.Do(opCtx, put(k, v))
				sk := fmt.Sprintf("swap/%d", w)
				sr, serr := client.Do(opCtx, swap(sk, v))
				cancel()
				attempts.Add(1)
				mu.Lock()
				switch {
				case serr == nil && i > 0 && prevSwapAcked && (sr.Found != impls.Present || sr.Value != fmt.Sprintf("v%d", i-1)):
					wrong = append(wrong, fmt.Sprintf("SWAP %s %s replied %+v, want the previous value v%d", sk, v, sr, i-1))
				case serr == nil && i == 0 && sr.Found != impls.Absent:
					wrong = append(wrong, fmt.Sprintf("first SWAP %s replied %+v, want absent", sk, sr))
				case serr != nil && !impls.IsUnknown(serr):
					wrong = append(wrong, fmt.Sprintf("SWAP %s: definite error %v", sk, serr))
				}
				prevSwapAcked = serr == nil
				if serr == nil {
					swapsAcked.Add(1)
				}
				noteFreshPut(k, v, r, err, acked, &wrong, &unknown)
				mu.Unlock()
			}
		})
	}
	for i := 0; i < cycles; i++ {
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		n := c.servers[rng.IntN(len(c.servers))]
		if err := n.Kill(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond)
		if err := n.Restart(ctx); err != nil {
			t.Fatalf("restart %s: %v\n%s", n.Name(), err, log)
		}
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()

	check, err := c.NewClient(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	missing := 0
	for k, v := range acked {
		r := do(t, check, get(k))
		if r.Found != impls.Present || r.Value != v {
			missing++
			if missing < 5 {
				t.Errorf("acknowledged PUT %s %s lost: GET gives %+v", k, v, r)
			}
		}
	}
	for _, s := range wrong {
		t.Error(s)
	}
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
	var resent uint64
	for _, cl := range clients {
		resent += cl.Resent()
	}
	t.Logf("%d cycles: %d PUTs, %d acknowledged, %d unknown, %d lost; %d SWAPs acknowledged; %d mutations resent after a failed attempt",
		cycles, attempts.Load(), len(acked), unknown.Load(), missing, swapsAcked.Load(), resent)
	if !testing.Short() && resent == 0 {
		t.Error("no mutation was resent: the test did not exercise deduplication")
	}
	if missing > 0 {
		t.Errorf("%d acknowledged writes lost", missing)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		t.Fatal("cancelled")
	}
}
