package istkvs

import (
	"fmt"
	"math"
	"sort"
)

// ChangeOp is one WRITE or DELETE of a key as a history recorded it, for
// CheckNotifications. Times are on one clock (nanoseconds).
type ChangeOp struct {
	Key   string
	Value string // a WRITE's value; "" for a DELETE
	// Delete: the op deleted Key. Found says whether the key existed (a
	// DELETE of a missing key changes nothing and is not notified); Unknown
	// when the history does not say.
	Delete bool
	Found  int8 // 1 present, -1 absent, 0 unknown (impls.Found's values)
	Call   int64
	// Return is when the answer arrived; math.MaxInt64 when the outcome
	// is unknown (the op may or may not have happened).
	Return int64
}

// Subscription is one session's subscription to a key: the subscribe
// call's start and reply, and the unsubscribe's (or the session's end:
// UnsubCall = UnsubReturn = math.MaxInt64 while it lasted to the end).
type Subscription struct {
	Session                int
	Key                    string
	SubCall, SubReturn     int64
	UnsubCall, UnsubReturn int64
	// Dropped: the server ended the session (a client too slow to read,
	// SIGUSR1) at an unknown time before UnsubReturn. The checker then
	// takes the subscription as surely held only until the call of the
	// last WRITE the session was told of: the server sent that
	// notification, so the session was alive then; later changes need not
	// have been notified.
	Dropped bool
}

// NotifViolation is one notification-stream problem with its witness.
type NotifViolation struct {
	Session int
	Key     string
	What    string
}

func (v NotifViolation) String() string {
	return fmt.Sprintf("session %d, key %s: %s", v.Session, v.Key, v.What)
}

// CheckNotifications checks each session's notifications against the
// history's changes, for every subscription:
//   - a change made entirely while the subscription surely held (called
//     after the subscribe's reply, returned before the unsubscribe's
//     call) is notified exactly once: missing is a lost notification;
//   - a change surely outside it (returned before the subscribe was
//     called, or called after the unsubscribe's reply) is not notified;
//   - no value is notified that no WRITE of that key wrote, none twice,
//     and DELETED at most as often as DELETEs that found the key;
//   - two WRITEs one of which returned before the other was called are
//     notified in that order, and every session sees the WRITEs of a key
//     it was told of in one order (the order they were applied).
//
// It assumes each WRITE of a key writes a distinct value (the fuzzer's
// random values are), which is what ties a notification to its WRITE.
// notes maps a session to its notifications in arrival order.
func CheckNotifications(ops []ChangeOp, subs []Subscription, notes map[int][]Notification) []NotifViolation {
	var out []NotifViolation
	add := func(s int, k, format string, a ...any) {
		if len(out) < 100 {
			out = append(out, NotifViolation{Session: s, Key: k, What: fmt.Sprintf(format, a...)})
		}
	}
	byKey := map[string][]int{} // key -> op indexes
	for i, op := range ops {
		byKey[op.Key] = append(byKey[op.Key], i)
	}
	writeOf := func(k, v string) (int, bool) {
		for _, i := range byKey[k] {
			if !ops[i].Delete && ops[i].Value == v {
				return i, true
			}
		}
		return 0, false
	}
	subs = boundDropped(subs, notes, func(k, v string) (int64, bool) {
		i, ok := writeOf(k, v)
		if !ok {
			return 0, false
		}
		return ops[i].Call, true
	})
	subsOf := map[[2]any][]Subscription{}
	sessions := map[int]bool{}
	for _, s := range subs {
		subsOf[[2]any{s.Session, s.Key}] = append(subsOf[[2]any{s.Session, s.Key}], s)
		sessions[s.Session] = true
	}
	for s := range notes {
		sessions[s] = true
	}
	// Per key, the order of WRITEs each session was told of, for the
	// cross-session check.
	seq := map[string]map[int][]int{}
	ids := make([]int, 0, len(sessions))
	for s := range sessions {
		ids = append(ids, s)
	}
	sort.Ints(ids)
	for _, s := range ids {
		told := map[string][]int{} // key -> notified op indexes (-1: DELETED)
		for _, n := range notes[s] {
			if n.Value == Deleted {
				told[n.Key] = append(told[n.Key], -1)
				continue
			}
			i, ok := writeOf(n.Key, n.Value)
			if !ok {
				add(s, n.Key, "notified (%s,%s), a value no WRITE of %s wrote", n.Key, n.Value, n.Key)
				continue
			}
			told[n.Key] = append(told[n.Key], i)
		}
		keys := map[string]bool{}
		for k := range told {
			keys[k] = true
		}
		for sk := range subsOf {
			if sk[0] == s {
				keys[sk[1].(string)] = true
			}
		}
		for k := range keys {
			windows := subsOf[[2]any{s, k}]
			// classify: 1 required, 0 optional, -1 forbidden
			class := func(op ChangeOp) int {
				if op.Delete && op.Found < 0 {
					return -1
				}
				best := -1
				for _, w := range windows {
					switch {
					case op.Call > w.SubReturn && op.Return < w.UnsubCall && (op.Return != math.MaxInt64) && !(op.Delete && op.Found == 0):
						return 1
					case op.Return < w.SubCall || op.Call > w.UnsubReturn:
					default:
						best = 0
					}
				}
				return best
			}
			count := map[int]int{}
			deletes := 0
			for _, i := range told[k] {
				if i < 0 {
					deletes++
					continue
				}
				count[i]++
			}
			var reqDel, maxDel int
			for _, i := range byKey[k] {
				op := ops[i]
				c := class(op)
				if op.Delete {
					if c == 1 {
						reqDel++
					}
					if c >= 0 {
						maxDel++
					}
					continue
				}
				switch n := count[i]; {
				case n > 1:
					add(s, k, "WRITE (%s,%s) notified %d times", k, op.Value, n)
				case n == 0 && c == 1:
					add(s, k, "WRITE (%s,%s) [%d, %d] was not notified though the subscription held throughout: a lost notification", k, op.Value, op.Call, op.Return)
				case n == 1 && c == -1:
					add(s, k, "WRITE (%s,%s) [%d, %d] notified outside the subscription", k, op.Value, op.Call, op.Return)
				}
			}
			if deletes < reqDel {
				add(s, k, "%d DELETED notifications for %d DELETEs that surely removed it while subscribed: a lost notification", deletes, reqDel)
			}
			if deletes > maxDel {
				add(s, k, "%d DELETED notifications, but at most %d DELETEs could have removed it while subscribed", deletes, maxDel)
			}
			// Real-time order of the notified WRITEs.
			var ws []int
			for _, i := range told[k] {
				if i >= 0 {
					ws = append(ws, i)
				}
			}
			for a := 0; a < len(ws); a++ {
				for b := a + 1; b < len(ws); b++ {
					if ops[ws[b]].Return < ops[ws[a]].Call {
						add(s, k, "(%s,%s) notified before (%s,%s), which returned before it was called", k, ops[ws[a]].Value, k, ops[ws[b]].Value)
					}
				}
			}
			if seq[k] == nil {
				seq[k] = map[int][]int{}
			}
			seq[k][s] = ws
		}
	}
	// Every session saw one apply order per key.
	for k, bySession := range seq {
		pos := map[int]map[int]int{} // session -> op -> position
		for s, ws := range bySession {
			pos[s] = map[int]int{}
			for p, i := range ws {
				pos[s][i] = p
			}
		}
		for _, s1 := range ids {
			for _, s2 := range ids {
				if s1 >= s2 {
					continue
				}
				w1 := bySession[s1]
				for a := 0; a < len(w1); a++ {
					for b := a + 1; b < len(w1); b++ {
						pa, oka := pos[s2][w1[a]]
						pb, okb := pos[s2][w1[b]]
						if oka && okb && pa > pb {
							add(s1, k, "told (%s,%s) before (%s,%s), session %d the other way round", k, ops[w1[a]].Value, k, ops[w1[b]].Value, s2)
						}
					}
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Session != out[j].Session {
			return out[i].Session < out[j].Session
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// boundDropped returns subs with each dropped session's subscriptions
// surely held only until the call of the last WRITE it was notified of (or
// their subscribe's reply, if none): see Subscription.Dropped.
func boundDropped(subs []Subscription, notes map[int][]Notification, callOf func(k, v string) (int64, bool)) []Subscription {
	out := append([]Subscription(nil), subs...)
	alive := map[int]int64{} // session -> latest call of a WRITE it was told of
	for i := range out {
		if !out[i].Dropped {
			continue
		}
		sess := out[i].Session
		if _, done := alive[sess]; !done {
			last := int64(math.MinInt64)
			for _, n := range notes[sess] {
				if c, ok := callOf(n.Key, n.Value); ok && c > last { // a DELETED matches no WRITE
					last = c
				}
			}
			alive[sess] = last
		}
		bound := max(alive[sess], out[i].SubReturn)
		if bound < out[i].UnsubCall {
			out[i].UnsubCall = bound
		}
	}
	return out
}
