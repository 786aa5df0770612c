package istkvs

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// notifyRun subscribes sessions to keys on a running server, runs
// concurrent WRITEs and DELETEs through the table recording their times,
// disconnects, and returns what CheckNotifications needs.
func notifyRun(t *testing.T, ts *testServer, sessions, writers, opsEach int) ([]ChangeOp, []Subscription, map[int][]Notification) {
	t.Helper()
	base := time.Now()
	now := func() int64 { return int64(time.Since(base)) }
	keys := []string{"h0", "h1", "h2"}
	var init []Pair
	for _, k := range keys {
		init = append(init, Pair{k, "init-" + k})
	}
	ts.s.table.Write(init)
	ctx := context.Background()
	var subs []Subscription
	notes := map[int][]Notification{}
	closed := map[int]int64{} // session -> when its notifications ended before Disconnect
	var nmu sync.Mutex
	var readers sync.WaitGroup
	var ss []*Session
	for i := range sessions {
		s, err := Connect(ctx, ts.fifo, testPipes())
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
		for _, k := range keys[:1+i%len(keys)] {
			c := now()
			if r, err := s.Subscribe(ctx, k); r != 1 || err != nil {
				t.Fatal(r, err)
			}
			subs = append(subs, Subscription{Session: i, Key: k, SubCall: c, SubReturn: now(),
				UnsubCall: math.MaxInt64, UnsubReturn: math.MaxInt64})
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			for n := range s.Notifications() {
				nmu.Lock()
				notes[i] = append(notes[i], n)
				nmu.Unlock()
			}
			nmu.Lock()
			closed[i] = now() // before Disconnect: the server dropped the session
			nmu.Unlock()
		}()
	}
	var ops []ChangeOp
	var omu sync.Mutex
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for n := range opsEach {
				k := keys[r.IntN(len(keys))]
				op := ChangeOp{Key: k, Call: now()}
				if r.IntN(5) == 0 {
					op.Delete = true
					missing := ts.s.table.Delete([]string{k})
					op.Found = 1
					if len(missing) > 0 {
						op.Found = -1
					}
				} else {
					op.Value = fmt.Sprintf("w%dn%d", w, n)
					ts.s.table.Write([]Pair{{k, op.Value}})
				}
				op.Return = now()
				omu.Lock()
				ops = append(ops, op)
				omu.Unlock()
			}
		}()
	}
	wg.Wait()
	nmu.Lock()
	for i := range subs {
		// A session the server dropped (its reader starved for a second on
		// a loaded machine) ended at an unknown time before this.
		if c, ok := closed[subs[i].Session]; ok {
			subs[i].UnsubCall, subs[i].UnsubReturn, subs[i].Dropped = c, c, true
		}
	}
	nmu.Unlock()
	for _, s := range ss {
		s.Disconnect(ctx)
	}
	readers.Wait()
	return ops, subs, notes
}

// patientNotify gives the server's notification writes 5 s instead of the
// tests' usual 200 ms: a session dropped because its reader was starved
// on a loaded machine would be a lost notification to the checker, had
// its reader not drained the pipe before the writers finished.
func patientNotify(c *Config) { c.NotifyTimeout = 5 * time.Second }

func TestNotificationsCorrectServer(t *testing.T) {
	ts := startServer(t, patientNotify)
	ops, subs, notes := notifyRun(t, ts, 4, 4, 300)
	total := 0
	for _, n := range notes {
		total += len(n)
	}
	if v := CheckNotifications(ops, subs, notes); len(v) != 0 {
		t.Fatalf("%d violations on a correct server, first: %v", len(v), v[0])
	}
	if total < 300 {
		t.Fatalf("only %d notifications", total)
	}
}

func TestNotificationsLostIsCaught(t *testing.T) {
	ts := startServer(t, func(c *Config) { patientNotify(c); c.bugs.loseNotification = 97 })
	ops, subs, notes := notifyRun(t, ts, 4, 4, 300)
	v := CheckNotifications(ops, subs, notes)
	if len(v) == 0 {
		t.Fatal("a server that drops every 97th notification passed")
	}
	if !strings.Contains(v[0].What, "lost notification") {
		t.Errorf("first violation %v", v[0])
	}
	t.Logf("%d violations, e.g. %v", len(v), v[0])
}

// TestCheckNotificationsCases: hand-made streams for each rule.
func TestCheckNotificationsCases(t *testing.T) {
	inf := int64(math.MaxInt64)
	sub := func(s int) Subscription {
		return Subscription{Session: s, Key: "a", SubCall: 0, SubReturn: 10, UnsubCall: inf, UnsubReturn: inf}
	}
	ops := []ChangeOp{
		{Key: "a", Value: "1", Call: 20, Return: 30},
		{Key: "a", Value: "2", Call: 40, Return: 50},
		{Key: "a", Delete: true, Found: 1, Call: 60, Return: 70},
		{Key: "a", Delete: true, Found: -1, Call: 80, Return: 90},
		{Key: "a", Value: "0", Call: 1, Return: 5}, // concurrent with the subscribe: optional
	}
	n := func(vs ...string) []Notification {
		var out []Notification
		for _, v := range vs {
			out = append(out, Notification{"a", v})
		}
		return out
	}
	for _, c := range []struct {
		name  string
		notes map[int][]Notification
		want  string // "" for no violation
	}{
		{"exact", map[int][]Notification{0: n("1", "2", "DELETED"), 1: n("0", "1", "2", "DELETED")}, ""},
		{"lost write", map[int][]Notification{0: n("1", "DELETED"), 1: n("1", "2", "DELETED")}, "lost notification"},
		{"lost delete", map[int][]Notification{0: n("1", "2"), 1: n("1", "2", "DELETED")}, "lost notification"},
		{"extra delete", map[int][]Notification{0: n("1", "2", "DELETED", "DELETED"), 1: n("1", "2", "DELETED")}, "at most 1"},
		{"twice", map[int][]Notification{0: n("1", "1", "2", "DELETED"), 1: n("1", "2", "DELETED")}, "2 times"},
		{"never written", map[int][]Notification{0: n("1", "2", "x", "DELETED"), 1: n("1", "2", "DELETED")}, "no WRITE"},
		{"out of order", map[int][]Notification{0: n("2", "1", "DELETED"), 1: n("1", "2", "DELETED")}, "returned before"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := CheckNotifications(ops, []Subscription{sub(0), sub(1)}, c.notes)
			if c.want == "" && len(v) != 0 {
				t.Fatalf("violations %v", v)
			}
			if c.want != "" && (len(v) == 0 || !strings.Contains(fmt.Sprint(v), c.want)) {
				t.Fatalf("want %q, got %v", c.want, v)
			}
		})
	}
	// Two sessions told of concurrent writes in different orders.
	conc := []ChangeOp{{Key: "a", Value: "x", Call: 20, Return: 40}, {Key: "a", Value: "y", Call: 25, Return: 45}}
	v := CheckNotifications(conc, []Subscription{sub(0), sub(1)}, map[int][]Notification{0: n("x", "y"), 1: n("y", "x")})
	if len(v) != 1 || !strings.Contains(v[0].What, "other way round") {
		t.Errorf("disagreeing sessions: %v", v)
	}
	// Not subscribed: nothing may arrive.
	v = CheckNotifications(ops, nil, map[int][]Notification{3: n("1")})
	if len(v) != 1 || !strings.Contains(v[0].What, "outside") {
		t.Errorf("unsubscribed: %v", v)
	}
}

// TestDroppedSessionIsHeldUntilItsLastNotification: a session the server
// dropped at an unknown time owes notifications only for changes that
// returned before the last WRITE it was told of was called.
func TestDroppedSessionIsHeldUntilItsLastNotification(t *testing.T) {
	ops := []ChangeOp{
		{Key: "a", Value: "1", Call: 10, Return: 20},
		{Key: "a", Value: "2", Call: 30, Return: 40},
		{Key: "a", Value: "3", Call: 50, Return: 60}, // after the drop: optional
	}
	sub := Subscription{Session: 0, Key: "a", SubCall: 0, SubReturn: 5, UnsubCall: 100, UnsubReturn: 100, Dropped: true}
	told := func(vals ...string) map[int][]Notification {
		var ns []Notification
		for _, v := range vals {
			ns = append(ns, Notification{Key: "a", Value: v})
		}
		return map[int][]Notification{0: ns}
	}
	if v := CheckNotifications(ops, []Subscription{sub}, told("1", "2")); len(v) != 0 {
		t.Errorf("dropped after 2: %v", v)
	}
	if v := CheckNotifications(ops, []Subscription{sub}, told("2")); len(v) == 0 || !strings.Contains(v[0].What, "lost") {
		t.Errorf("1 returned before 2 was called, so it was applied and notified first; missing it is lost: %v", v)
	}
	sub.Dropped = false // the same notifications from a session that lasted: 3 is lost
	if v := CheckNotifications(ops, []Subscription{sub}, told("1", "2")); len(v) == 0 {
		t.Error("a session that lasted must be told of 3")
	}
}
