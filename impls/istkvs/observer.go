package istkvs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

// ErrNoSessions: the cluster has no register fifo to open sessions on.
var ErrNoSessions = errors.New("istkvs: no register fifo: sessions need the bundled server (--impl istkvs)")

// Observer keeps sessions subscribed to a run's hot keys and records what
// they are told, for CheckHistoryNotifications. A key that does not exist
// yet cannot be subscribed (the server answers 0): each session retries
// every few milliseconds until it can. A session the server drops (a
// crash, SIGUSR1) is replaced by a new one, with new subscriptions.
type Observer struct {
	c     *JobCluster
	keys  []string
	epoch time.Time
	stop  context.CancelFunc
	wg    sync.WaitGroup

	mu    sync.Mutex
	subs  []Subscription
	notes map[int][]Notification
	next  int
}

// subscribeRetry is how often a session retries keys it has not got yet.
const subscribeRetry = 5 * time.Millisecond

// StartObserver opens sessions on c (a cluster from Impl.Start) that
// subscribe to keys (at most MaxSubscriptions). Times are nanoseconds since
// epoch, the run's clock.
func StartObserver(c impls.Cluster, keys []string, sessions int, epoch time.Time) (*Observer, error) {
	jc, ok := c.(*JobCluster)
	if !ok || jc.fifo == "" {
		return nil, ErrNoSessions
	}
	if len(keys) > MaxSubscriptions {
		keys = keys[:MaxSubscriptions]
	}
	ctx, cancel := context.WithCancel(context.Background())
	o := &Observer{c: jc, keys: keys, epoch: epoch, stop: cancel, notes: map[int][]Notification{}}
	for range sessions {
		o.wg.Add(1)
		go o.run(ctx)
	}
	return o, nil
}

func (o *Observer) now() int64 { return int64(time.Since(o.epoch)) }

// run keeps one session slot alive until ctx ends.
func (o *Observer) run(ctx context.Context) {
	defer o.wg.Done()
	for ctx.Err() == nil {
		o.mu.Lock()
		id := o.next
		o.next++
		o.mu.Unlock()
		s, err := o.c.Session(ctx, fmt.Sprintf("o%d", id))
		if err != nil {
			sleepCtx(ctx, 50*time.Millisecond)
			continue
		}
		o.session(ctx, id, s)
	}
}

// session subscribes s to every key and records its notifications until
// the server drops it or ctx ends (then it disconnects).
func (o *Observer) session(ctx context.Context, id int, s *Session) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := range s.Notifications() {
			o.mu.Lock()
			o.notes[id] = append(o.notes[id], n)
			o.mu.Unlock()
		}
	}()
	var mine []int // indexes into o.subs
	got := map[string]bool{}
	end := func(call, ret int64, dropped bool) {
		o.mu.Lock()
		for _, i := range mine {
			o.subs[i].UnsubCall, o.subs[i].UnsubReturn, o.subs[i].Dropped = call, ret, dropped
		}
		o.mu.Unlock()
	}
	for {
		for _, k := range o.keys {
			if got[k] {
				continue
			}
			call := o.now()
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			r, err := s.Subscribe(rctx, k)
			cancel()
			ret := o.now()
			if err != nil {
				break
			}
			if r == 1 {
				got[k] = true
				o.mu.Lock()
				mine = append(mine, len(o.subs))
				o.subs = append(o.subs, Subscription{Session: id, Key: k, SubCall: call, SubReturn: ret,
					UnsubCall: math.MaxInt64, UnsubReturn: math.MaxInt64})
				o.mu.Unlock()
			}
		}
		select {
		case <-done: // dropped by the server at some time before now
			t := o.now()
			end(t, t, true)
			s.Close()
			return
		case <-ctx.Done():
			call := o.now()
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			s.Disconnect(dctx)
			cancel()
			<-done
			end(call, o.now(), false)
			return
		case <-time.After(subscribeRetry):
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// Stop disconnects every session and returns the subscriptions held and
// the notifications each session received.
func (o *Observer) Stop() ([]Subscription, map[int][]Notification) {
	o.stop()
	o.wg.Wait()
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.subs, o.notes
}

// ChangesOf extracts the WRITEs (Put) and DELETEs of a recorded history. A
// definite failure changed nothing and is left out; an unknown outcome may
// have happened at any time after its call.
func ChangesOf(events []results.Event) []ChangeOp {
	var ops []ChangeOp
	for _, e := range events {
		if e.Outcome == results.Fail || (e.Req.Kind != impls.Put && e.Req.Kind != impls.Delete) {
			continue
		}
		op := ChangeOp{Key: EncodeKey(e.Req.Key), Call: e.Call, Return: e.Return}
		if e.Req.Kind == impls.Put {
			op.Value = Canonical(e.Req.Value)
		} else {
			op.Delete, op.Found = true, int8(e.Resp.Found)
		}
		if e.Outcome == results.Unknown {
			op.Return, op.Found = math.MaxInt64, 0
		}
		ops = append(ops, op)
	}
	return ops
}

// CheckHistoryNotifications checks an observer's sessions against a
// recorded history (CheckNotifications). A crash drops every session at
// some moment inside its fault window, so each subscription is taken to
// end surely no later than the start of the first crash after it began.
func CheckHistoryNotifications(events []results.Event, subs []Subscription, notes map[int][]Notification, faults []results.Fault) []NotifViolation {
	subs = append([]Subscription(nil), subs...)
	for i := range subs {
		for _, f := range faults {
			if f.Kind == "crash" && f.Start > subs[i].SubCall && f.Start < subs[i].UnsubCall {
				subs[i].UnsubCall = f.Start
			}
		}
	}
	return CheckNotifications(ChangesOf(events), subs, notes)
}

// ObserveNotifications is the optional Cluster capability `kvbench fuzz
// --subscribe` looks for: it starts two sessions that keep keys subscribed
// (times on the run's clock, from epoch) and returns a function that stops
// them and checks what they were told against the run's history and fault
// windows: a one-line summary, and one line per violation (at most 100).
func (c *JobCluster) ObserveNotifications(keys []string, epoch time.Time) (func(events []results.Event, faults []results.Fault) (string, []string), error) {
	obs, err := StartObserver(c, keys, 2, epoch)
	if err != nil {
		return nil, err
	}
	return func(events []results.Event, faults []results.Fault) (string, []string) {
		subs, notes := obs.Stop()
		var out []string
		for _, v := range CheckHistoryNotifications(events, subs, notes, faults) {
			out = append(out, v.String())
		}
		n := 0
		for _, ns := range notes {
			n += len(ns)
		}
		return fmt.Sprintf("%d notifications to %d sessions over %d subscriptions checked against %d changes",
			n, len(notes), len(subs), len(ChangesOf(events))), out
	}, nil
}
