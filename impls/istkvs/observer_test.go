package istkvs_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/istkvs"
	"github.com/kvbench/kvbench/results"
)

// TestObserverThroughJobs: sessions subscribe to hot keys while clients
// write and delete them through the job adapter; every change in the
// recorded history is notified exactly once, in one order.
func TestObserverThroughJobs(t *testing.T) {
	c := startCluster(t)
	epoch := time.Now()
	keys := []string{"hot0", "hot1", "hot2"}
	obs, err := istkvs.StartObserver(c, keys, 2, epoch)
	if err != nil {
		t.Fatal(err)
	}
	// The capability fuzz --subscribe uses, side by side.
	check, err := c.(interface {
		ObserveNotifications([]string, time.Time) (func([]results.Event, []results.Fault) (string, []string), error)
	}).ObserveNotifications(keys, epoch)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var events []results.Event
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, _ := c.NewClient(ctx, w)
			r := rand.New(rand.NewPCG(uint64(w), 2))
			for n := range 150 {
				req := impls.Request{Kind: impls.Put, Key: keys[r.IntN(len(keys))], Value: fmt.Sprintf("c%dv%d", w, n)}
				if r.IntN(6) == 0 {
					req = impls.Request{Kind: impls.Delete, Key: req.Key}
				}
				call := int64(time.Since(epoch))
				resp, err := cl.Do(ctx, req)
				e := results.Event{Client: w, Req: req, Resp: resp, Call: call, Return: int64(time.Since(epoch)), Outcome: results.OK}
				if err != nil {
					t.Error(err)
					e.Outcome = results.Unknown
				}
				mu.Lock()
				events = append(events, e)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	subs, notes := obs.Stop()
	if len(subs) != 6 {
		t.Fatalf("subscriptions %+v", subs)
	}
	total := 0
	for _, n := range notes {
		total += len(n)
	}
	if v := istkvs.CheckHistoryNotifications(events, subs, notes, nil); len(v) != 0 {
		t.Fatalf("%d violations, first %v", len(v), v[0])
	}
	if sum, v := check(events, nil); len(v) != 0 || !strings.HasSuffix(sum, "over 6 subscriptions checked against 450 changes") {
		t.Fatalf("ObserveNotifications: %s; %d violations %v", sum, len(v), v)
	}
	if total < 300 {
		t.Errorf("only %d notifications", total)
	}
	t.Logf("%d changes, %d notifications to 2 sessions", len(events), total)
}
