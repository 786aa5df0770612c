package madkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/conformance"
)

func TestParseServe3(t *testing.T) {
	tests := []struct {
		name string
		args string
		want config3
		err  string
	}{
		{name: "manager alone", args: "manager 0 3666 3606 none 3 127.0.0.1:3777,127.0.0.1:3778,127.0.0.1:3779 ./b",
			want: config3{role: "manager", listen: "127.0.0.1:3666", p2p: "127.0.0.1:3606", rf: 3,
				servers: []string{"127.0.0.1:3777", "127.0.0.1:3778", "127.0.0.1:3779"}, backer: "./b"}},
		{name: "server with peers", args: "server 0 1 127.0.0.1:3666 3778 3708 127.0.0.1:3707,127.0.0.1:3709 ./b",
			want: config3{role: "server", part: 0, rep: 1, managers: []string{"127.0.0.1:3666"}, listen: "127.0.0.1:3778",
				p2p: "127.0.0.1:3708", peers: []string{"127.0.0.1:3707", "127.0.0.1:3709"}, backer: "./b"}},
		{name: "servers not a multiple of rf", args: "manager 0 3666 3606 none 3 127.0.0.1:3777,127.0.0.1:3778 ./b", err: "whole number"},
		{name: "replica id beyond peers", args: "server 0 3 127.0.0.1:3666 3778 3708 127.0.0.1:3707,127.0.0.1:3709 ./b", err: "replica id 3"},
		{name: "bad port", args: "server 0 0 127.0.0.1:3666 99999 3708 none ./b", err: "api port"},
		{name: "bad peer", args: "server 0 0 127.0.0.1:3666 3778 3708 nohost ./b", err: "peer address"},
		{name: "rf zero", args: "manager 0 3666 3606 none 0 127.0.0.1:3777 ./b", err: "server rf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseServe3(strings.Fields(tc.args))
			if tc.err != "" {
				if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want ErrUsage mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct{ bytes.Buffer }

func (*memSink) ID() string    { return "mem" }
func (*memSink) Cancel() error { return nil }
func (*memSink) Close() error  { return nil }

func logEntry(index uint64, r request) *raft.Log {
	return &raft.Log{Index: index, Type: raft.LogCommand, Data: appendRequest(nil, &r)}
}

// TestSnapshotRoundTrip: a restored snapshot holds the same data, applied
// index and deduplication table (a retry after restore gets the first
// execution's reply).
func TestSnapshotRoundTrip(t *testing.T) {
	f := newDataFSM()
	f.Apply(logEntry(1, request{op: opPut, key: "a", val: "1", client: 7, seq: 1, acked: 1}))
	f.Apply(logEntry(2, request{op: opSwap, key: "a", val: "2", client: 7, seq: 2, acked: 1}))
	f.Apply(logEntry(3, request{op: opPut, key: "b\x00", val: "", client: 9, seq: 1, acked: 1}))
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	g := newDataFSM()
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if idx, _ := g.appliedIndex(); idx != 3 {
		t.Errorf("restored index %d, want 3", idx)
	}
	got := g.st.read(&request{op: opScan, key: "\x00", val: "\xff"})
	if fmt.Sprint(got.pairs) != fmt.Sprint([]pair{{"a", "2"}, {"b\x00", ""}}) {
		t.Errorf("restored pairs %q", got.pairs)
	}
	// The retry of client 7's SWAP must answer "found, old value 1" again,
	// not execute (which would answer "found, 2").
	resp := g.Apply(logEntry(4, request{op: opSwap, key: "a", val: "2", client: 7, seq: 2, acked: 1})).(response)
	if !resp.found || resp.val != "1" {
		t.Errorf("retried SWAP after restore answered %+v, want found with old value 1", resp)
	}
	if err := g.Restore(io.NopCloser(bytes.NewReader([]byte("MKV3\x00")))); err == nil {
		t.Error("a truncated snapshot restored without error")
	}
}

func startStage3(t *testing.T, flags ...string) (*cluster3, *syncWriter) {
	t.Helper()
	log := &syncWriter{}
	cl, err := start(context.Background(), impls.StartEnv{Exe: testExe(t), Dir: t.TempDir(), Clients: 4, Window: 1, Flags: flags, Log: log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	t.Cleanup(func() { cl.Close() })
	return cl.(*cluster3), log
}

func (c *cluster3) node(name string) *replicaNode {
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

func waitLeader(t *testing.T, c *cluster3, group string) *replicaNode {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if l, err := c.Leader(context.Background(), group); err == nil && l != "" {
			return c.node(l)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("group %s has no leader", group)
	return nil
}

// TestStage3LeaderCrash kills the leader of a 3-replica partition again and
// again (SIGKILL, restart on its backer) while writers put fresh keys. No
// acknowledged write may be lost, and every acknowledged PUT of a fresh key
// must say not_found (a retry across the failover is deduplicated).
func TestStage3LeaderCrash(t *testing.T) {
	cycles := 6
	if testing.Short() {
		cycles = 2
	}
	c, log := startStage3(t, "--rf", "3")
	ctx := context.Background()
	var (
		mu      sync.Mutex
		acked   = map[string]string{}
		wrong   []string
		unknown atomic.Int64
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	for w := range 3 {
		cl, err := c.NewClient(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k, v := fmt.Sprintf("w%d/%d", w, i), fmt.Sprintf("v%d", i)
				opCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
				r, err := cl.Do(opCtx, put(k, v))
				cancel()
				mu.Lock()
				noteFreshPut(k, v, r, err, acked, &wrong, &unknown)
				mu.Unlock()
			}
		})
	}
	for range cycles {
		time.Sleep(300 * time.Millisecond)
		l := waitLeader(t, c, "p0")
		if err := l.proc.Kill(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(700 * time.Millisecond) // the others elect a leader meanwhile
		if err := l.proc.Restart(ctx); err != nil {
			t.Fatalf("restart %s: %v\n%s", l.name, err, log)
		}
	}
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(wrong) > 0 {
		t.Fatalf("%d wrong answers, first: %s", len(wrong), wrong[0])
	}
	if len(acked) <= before {
		t.Fatalf("no progress after the last restart (%d acknowledged writes)", len(acked))
	}
	cl, err := c.NewClient(ctx, 9)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for k, v := range acked {
		r := do(t, cl, get(k))
		if r.Found != impls.Present || r.Value != v {
			t.Fatalf("acknowledged PUT %s=%s lost after %d leader crashes: GET says %v %q", k, v, cycles, r.Found, r.Value)
		}
	}
	// Every replica, restarted ones included, catches up from the log.
	deadline := time.Now().Add(20 * time.Second)
	for {
		applied := map[string]bool{}
		for _, n := range c.nodes {
			if n.group == "p0" {
				info, err := helloInfo(ctx, n.api)
				if err != nil {
					t.Fatalf("HELLO %s: %v", n.name, err)
				}
				applied[info["applied"]] = true
			}
		}
		if len(applied) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas did not converge: applied indexes %v", applied)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d acknowledged writes survived %d leader crashes (%d unknown outcomes)", len(acked), cycles, unknown.Load())
}

// FuzzRestore: a snapshot file that does not decode is refused, never a
// panic or an unbounded allocation.
func FuzzRestore(f *testing.F) {
	fsm := newDataFSM()
	fsm.Apply(logEntry(1, request{op: opPut, key: "a", val: "1", client: 7, seq: 1, acked: 1}))
	snap, _ := fsm.Snapshot()
	var sink memSink
	snap.Persist(&sink)
	f.Add(sink.Bytes())
	f.Add([]byte("MKV3"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g := newDataFSM()
		if err := g.Restore(io.NopCloser(bytes.NewReader(b))); err != nil {
			return
		}
		g.st.read(&request{op: opScan, key: "\x00", val: "\xff"})
	})
}

// TestStage3MajorityLoss: with two of three replicas down, every operation
// fails or has an unknown outcome (no answer is made up); after they come
// back the partition serves again and an unknown write either happened or
// did not, consistently.
func TestStage3MajorityLoss(t *testing.T) {
	c, log := startStage3(t, "--rf", "3")
	ctx := context.Background()
	cl, err := c.NewClient(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	do(t, cl, put("k0", "v0"))
	l := waitLeader(t, c, "p0")
	var down []*replicaNode
	for _, n := range c.nodes {
		if n.group == "p0" && (n == l || len(down) == 0) && len(down) < 2 {
			down = append(down, n)
		}
	}
	if len(down) < 2 { // the leader came after the first follower
		for _, n := range c.nodes {
			if n.group == "p0" && n != down[0] && len(down) < 2 {
				down = append(down, n)
			}
		}
	}
	for _, n := range down {
		if err := n.proc.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	reqs := []impls.Request{put("k1", "v1"), get("k0"), swap("k0", "v2"), del("k0"), scan("k", "l")}
	for _, req := range reqs {
		opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		r, err := cl.Do(opCtx, req)
		cancel()
		switch {
		case err == nil:
			t.Fatalf("%v with a majority down answered %+v", req.Kind, r)
		case req.Kind != impls.Get && req.Kind != impls.Scan && !impls.IsUnknown(err):
			t.Fatalf("%v with a majority down: %v, want an unknown outcome", req.Kind, err)
		}
	}
	for _, n := range down {
		if err := n.proc.Restart(ctx); err != nil {
			t.Fatalf("restart %s: %v\n%s", n.name, err, log)
		}
	}
	// k1 is v1 or absent; k0 is v0 (nothing applied), v2 (the swap) or
	// absent (the delete): whichever, every replica agrees and the next
	// write works.
	t.Logf("leader after recovery: %v", waitLeader(t, c, "p0").name)
	r1 := do(t, cl, get("k1"))
	if r1.Found == impls.Present && r1.Value != "v1" {
		t.Fatalf("k1 = %q after recovery", r1.Value)
	}
	r0 := do(t, cl, get("k0"))
	if r0.Found == impls.Present && r0.Value != "v0" && r0.Value != "v2" {
		t.Fatalf("k0 = %q after recovery", r0.Value)
	}
	if r := do(t, cl, put("k2", "v")); r.Found != impls.Absent {
		t.Fatalf("fresh PUT after recovery: %v", r.Found)
	}
}

// TestStage3PartitionedLeader cuts the leader off its peers (through the
// proxies), writes a new value through the new leader, then asks the old
// leader directly. The correct read path must not answer the old value;
// the test-only --unsafe-local-reads path does (the hazard exists, and the
// correct path is what prevents it).
func TestStage3PartitionedLeader(t *testing.T) {
	for _, unsafe := range []bool{false, true} {
		t.Run(fmt.Sprintf("unsafe=%v", unsafe), func(t *testing.T) {
			flags := []string{"--rf", "3"}
			if unsafe {
				flags = append(flags, "--unsafe-local-reads")
			}
			c, _ := startStage3(t, flags...)
			ctx := context.Background()
			cl, err := c.NewClient(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			do(t, cl, put("k", "old"))
			old := waitLeader(t, c, "p0")
			// Let every replica apply "old", so the stale answer is "old".
			time.Sleep(300 * time.Millisecond)
			if err := old.links.Isolate(); err != nil {
				t.Fatal(err)
			}
			defer old.links.Heal()
			opCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
			_, err = cl.Do(opCtx, put("k", "new"))
			cancel()
			if err != nil {
				t.Fatalf("PUT with the old leader cut off: %v", err)
			}
			rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
			defer rcancel()
			cn, err := dialConn(rctx, old.api)
			if err != nil {
				t.Fatal(err)
			}
			defer cn.close()
			resp, _, err := cn.call(rctx, &request{op: opGet, key: "k"})
			stale := err == nil && resp.status == stOK && resp.val == "old"
			switch {
			case !unsafe && err == nil && resp.status == stOK:
				t.Fatalf("cut-off old leader %s answered GET: %+v", old.name, resp)
			case !unsafe:
				t.Logf("cut-off old leader %s: %v status %d (%q)", old.name, err, resp.status, resp.val)
			case !stale:
				t.Fatalf("unsafe local reads: old leader answered %+v, %v; want the stale value", resp, err)
			}
		})
	}
}

// TestStage3Conformance runs the shared conformance suite on one
// partition of three replicas.
func TestStage3Conformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dozen 3-replica clusters")
	}
	conformance.Run(t, conformance.Subject{Name: "madkv --rf 3", Impl: Impl(), Start: start, Exe: testExe(t),
		Flags: []string{"--partitions", "1", "--rf", "3"}})
}

// TestStage3ManagerReplicaDown: with the leading manager replica killed, a
// new client still gets the map (from a surviving replica) and a restarted
// server replica still registers; with every manager down, a client that
// already has the map keeps working.
func TestStage3ManagerReplicaDown(t *testing.T) {
	c, log := startStage3(t, "--rf", "3", "--manager-rf", "3")
	ctx := context.Background()
	l := waitLeader(t, c, "manager")
	if err := l.proc.Kill(); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	cl, err := c.NewClient(dctx, 0)
	cancel()
	if err != nil {
		t.Fatalf("new client with manager %s down: %v", l.name, err)
	}
	defer cl.Close()
	do(t, cl, put("k", "v"))
	r := c.node("p0/r1")
	if err := r.proc.Restart(ctx); err != nil {
		t.Fatalf("restart %s with manager %s down: %v\n%s", r.name, l.name, err, log)
	}
	for _, n := range c.nodes {
		if n.role == "manager" && n != l {
			if err := n.proc.Kill(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := do(t, cl, get("k")); got.Found != impls.Present || got.Value != "v" {
		t.Fatalf("GET k with every manager down: %+v", got)
	}
}

// TestStage3SnapshotRestart writes past the snapshot threshold, then kills
// and restarts every replica: the group comes back from its snapshots and
// log tails with every acknowledged write.
func TestStage3SnapshotRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("writes more than raftSnapEntries keys")
	}
	c, log := startStage3(t, "--rf", "3")
	ctx := context.Background()
	const writers, per = 16, raftSnapEntries/16 + 200
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		cl, err := c.NewClient(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		wg.Go(func() {
			for i := range per {
				opCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := cl.Do(opCtx, put(fmt.Sprintf("w%02d/%05d", w, i), fmt.Sprint(i)))
				cancel()
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Raft snapshots in the background: wait for one on the leader.
	l := waitLeader(t, c, "p0")
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := helloInfo(ctx, l.api)
		if err == nil && info["last_snapshot_index"] != "" && info["last_snapshot_index"] != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot on %s after %d writes: %v %v", l.name, writers*per, info, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, n := range c.nodes {
		if n.group == "p0" {
			if err := n.proc.Kill(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, n := range c.nodes {
		if n.group == "p0" {
			if err := n.proc.Restart(ctx); err != nil {
				t.Fatalf("restart %s: %v\n%s", n.name, err, log)
			}
		}
	}
	cl, err := c.NewClient(ctx, 99)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, w := range []int{0, writers - 1} {
		for _, i := range []int{0, per / 2, per - 1} {
			k := fmt.Sprintf("w%02d/%05d", w, i)
			if r := do(t, cl, get(k)); r.Found != impls.Present || r.Value != fmt.Sprint(i) {
				t.Fatalf("after a full restart %s = %v %q, want %d", k, r.Found, r.Value, i)
			}
		}
	}
	r := do(t, cl, scan("w", "x"))
	if len(r.Pairs) != writers*per {
		t.Fatalf("after a full restart SCAN finds %d keys, want %d", len(r.Pairs), writers*per)
	}
}

func TestClaims3(t *testing.T) {
	tests := []struct {
		flags  string
		faults impls.Faults
		lin    bool
		why    string
	}{
		{"--rf 3", impls.Faults{Crash: true, Partition: true}, true, "3 Raft replicas"},
		{"--rf 1", impls.Faults{Crash: true}, true, "rf 1: a crashed or paused replica leaves its partition unavailable"},
		{"--partitions 2 --rf 5 --manager-rf 3", impls.Faults{Pause: true}, true, "2 partition(s) of 5 Raft replicas"},
		{"--rf 3 --unsafe-local-reads", impls.Faults{}, false, "stale reads"},
		{"--rf 2", impls.Faults{}, false, "want 1, 3, 5, 7 or 9"},
		{"--manager-rf 3", impls.Faults{}, false, "need --rf"},
	}
	for _, tc := range tests {
		t.Run(tc.flags, func(t *testing.T) {
			c := claims(strings.Fields(tc.flags), tc.faults)
			if c.Linearizable != tc.lin || !strings.Contains(c.Why, tc.why) {
				t.Fatalf("claims(%q) = %+v, want linearizable %v and %q", tc.flags, c, tc.lin, tc.why)
			}
		})
	}
}
