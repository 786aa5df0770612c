package madkv

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
)

func rawCall(t *testing.T, addr string, r request) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := retry(ctx, &peer{addr: addr}, &r)
	if err != nil {
		t.Fatalf("%s to %s: %v", r.op, addr, err)
	}
	return resp
}

// TestPartitionMap: the manager's map lists the servers in order; each key
// lives on server partitionOf(key) and the others refuse it; a scan through
// the client merges every partition in key order.
func TestPartitionMap(t *testing.T) {
	c := startStage2(t, 3)
	cl := dial(t, c.mgr)
	m := rawCall(t, c.mgr, request{op: opMap})
	var want []pair
	for i, a := range c.servers {
		want = append(want, pair{strconv.Itoa(i), a})
	}
	if !reflect.DeepEqual(m.pairs, want) {
		t.Fatalf("map %v, want %v", m.pairs, want)
	}
	var all []impls.Pair
	perServer := make([]int, 3)
	for i := 0; i < 30; i++ {
		k := fmt.Sprintf("key%02d", i)
		do(t, cl, put(k, "v"+k))
		all = append(all, impls.Pair{Key: k, Value: "v" + k})
		owner := partitionOf(k, 3)
		perServer[owner]++
		for s, addr := range c.servers {
			cn, err := dialConn(context.Background(), addr)
			if err != nil {
				t.Fatal(err)
			}
			r, _, err := cn.call(context.Background(), &request{op: opGet, key: k})
			cn.close()
			if err != nil {
				t.Fatal(err)
			}
			if s == owner && (r.status != stOK || r.val != "v"+k) {
				t.Errorf("owner %d of %s: %+v", s, k, r)
			}
			if s != owner && r.status != stWrongPartition {
				t.Errorf("server %d answered %s (owner %d) with status %d", s, k, owner, r.status)
			}
		}
	}
	for s, n := range perServer {
		if n == 0 {
			t.Errorf("server %d owns none of 30 keys", s)
		}
	}
	if got := do(t, cl, scan("key00", "key29")); !reflect.DeepEqual(got.Pairs, all) {
		t.Errorf("cross-partition scan: got %v, want %v", got.Pairs, all)
	}
	if got := do(t, cl, scan("key05", "key07")); !reflect.DeepEqual(got.Pairs, all[5:8]) {
		t.Errorf("scan key05..key07: got %v, want %v", got.Pairs, all[5:8])
	}
}

// TestDedup: a mutation sent again with the same (client, seq), before and
// after its server restarts, gets the first execution's reply and is not
// executed twice; a new seq executes.
func TestDedup(t *testing.T) {
	c := startStage2(t, 1)
	dial(t, c.mgr) // waits for registration
	srv := c.servers[0]
	p1 := request{op: opPut, client: 7, seq: 1, acked: 1, key: "k", val: "a"}
	if r := rawCall(t, srv, p1); r.found {
		t.Fatalf("first PUT: found")
	}
	if r := rawCall(t, srv, p1); r.found {
		t.Errorf("retried PUT: found (executed twice)")
	}
	s2 := request{op: opSwap, client: 7, seq: 2, acked: 1, key: "k", val: "b"}
	if r := rawCall(t, srv, s2); !r.found || r.val != "a" {
		t.Errorf("SWAP: %+v", r)
	}
	// Restart the server on its backer: the stored replies survive.
	if err := c.procs[0].stop(); err != nil {
		t.Fatal(err)
	}
	c.procs[0] = c.startServer(t, 0)
	if r := rawCall(t, srv, s2); !r.found || r.val != "a" {
		t.Errorf("SWAP retried after restart: %+v, want the first reply (found a)", r)
	}
	if r := rawCall(t, srv, request{op: opGet, key: "k"}); r.val != "b" {
		t.Errorf("GET after restart: %+v", r)
	}
	// seq 1 acknowledged by seq 3's acked: forgotten, executes again.
	if r := rawCall(t, srv, request{op: opDelete, client: 7, seq: 3, acked: 3, key: "k"}); !r.found {
		t.Errorf("DELETE: %+v", r)
	}
	if r := rawCall(t, srv, p1); r.found {
		t.Errorf("PUT with a forgotten seq: %+v (should execute on the deleted key)", r)
	}
	if r := rawCall(t, srv, request{op: opGet, key: "k"}); r.val != "a" {
		t.Errorf("GET: %+v", r)
	}
}

// TestBackerMismatch: a backer written by server 0 of 1 refuses to serve
// as server 0 of 2.
func TestBackerMismatch(t *testing.T) {
	c := startStage2(t, 1)
	dial(t, c.mgr)
	if err := c.procs[0].stop(); err != nil {
		t.Fatal(err)
	}
	mgr2, s0, s1 := freeAddr(t), freeAddr(t), freeAddr(t)
	startInProc(t, "manager", portOf(mgr2), s0+","+s1)
	p := startInProc(t, "server", "0", mgr2, portOf(s0), c.backers[0])
	select {
	case err := <-p.done:
		p.done <- err
		if err == nil || !errors.Is(err, ErrBackerMismatch) {
			t.Errorf("server exited with %v, want ErrBackerMismatch", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("server with a foreign backer kept running")
	}
}
