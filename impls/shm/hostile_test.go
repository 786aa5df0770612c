package shm

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/probe"
	"github.com/kvbench/kvbench/internal/kvbenchtest"
)

// Hostile-writer probes (issue 13; TestProbe* so that `make probe` runs
// their long versions, KVBENCH_PROBE=long): something other than the protocol writes the
// shared file while the real server process serves it. The server must
// stay up, keep answering legitimate requests once the ring is usable,
// never burn the CPU on a broken ring, and stop on SIGTERM.

// startReal starts the real server process (this test binary as `serve
// shm`) with 2 threads on a file for n clients of w slots.
func startReal(t *testing.T, n, w int) (*cluster, *syncBuffer) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts processes")
	}
	log := &syncBuffer{}
	c, err := start(context.Background(), impls.StartEnv{Exe: serverExe(t), Dir: t.TempDir(), Clients: n, Window: w,
		Flags: []string{"-n", "2", "-s", "16"}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	cl := c.(*cluster)
	t.Cleanup(func() { cl.Close() })
	return cl, log
}

// serves checks that the server answers ops sequential requests of client
// cl on fresh keys prefix*1000+i, each within a bounded time.
func serves(t *testing.T, cl impls.Client, prefix, ops int) {
	t.Helper()
	for i := range ops {
		k, v := strconv.Itoa(prefix*1000+i), strconv.Itoa(prefix*1000+i+7)
		if _, err := cl.Do(shortCtx(5*time.Second), put(k, v)); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
		res, err := cl.Do(shortCtx(5*time.Second), get(k))
		if err != nil || res.Found != impls.Present || res.Value != v {
			t.Fatalf("get %s = %+v, %v; want %s", k, res, err, v)
		}
	}
}

// cpuTicks returns the user+system CPU time of pid in clock ticks (1/100 s).
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	// Fields after the name: state is [0], utime [11], stime [12].
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}

// quietOnBrokenRing checks that the server stays alive and nearly idle for
// a while on a ring it cannot use: a spinning server burns up to 2 cores.
func quietOnBrokenRing(t *testing.T, c *cluster, d time.Duration) {
	t.Helper()
	pid := c.proc.Pid()
	before := cpuTicks(t, pid)
	time.Sleep(d)
	if !c.proc.Running() {
		t.Fatal("the server exited")
	}
	// A resource bound, not a timing one: a loaded machine only lowers it.
	if used, limit := cpuTicks(t, pid)-before, int(d/(10*time.Millisecond))/4; used > limit {
		t.Errorf("the server used %d ticks of CPU in %v on a broken ring (limit %d)", used, d, limit)
	}
}

// terminates sends SIGTERM and checks the server exits by itself, with its
// summary.
func terminates(t *testing.T, c *cluster, log *syncBuffer) {
	t.Helper()
	if err := syscall.Kill(c.proc.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.proc.Running() {
		if time.Now().After(deadline) {
			t.Fatalf("the server ignored SIGTERM\n%s", log)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(log.String(), "shm server: served ") {
		t.Errorf("no summary on exit:\n%s", log)
	}
}

// TestProbeHostileIndices sets one ring index to a value the protocol never
// writes. Consumer indices (c_head, c_tail) are the server's to repair: it
// must do so by itself and serve on. p_tail is the producers': the server
// must wait for it quietly and serve once it is repaired.
func TestProbeHostileIndices(t *testing.T) {
	for _, tc := range []struct {
		name   string
		off    int
		val    func(r *region) uint32
		wait   bool   // the server cannot repair it: check it idles, then repair
		logged string // what the server reports
	}{
		{"p_tail out of range", OffPTail, func(*region) uint32 { return 5000 }, true, "p_tail=5000 p_head="},
		{"p_tail huge", OffPTail, func(*region) uint32 { return 1<<32 - 1 }, true, "p_tail=4294967295 p_head="},
		{"c_head out of range", OffCHead, func(*region) uint32 { return 5000 }, false, "c_head=5000"},
		{"c_tail out of range", OffCTail, func(*region) uint32 { return 1 << 31 }, false, "c_tail=2147483648"},
		{"c_head past p_tail", OffCHead, func(r *region) uint32 { return next(next(load(r.pTail()))) }, false, "corrupt consumer indices"},
		{"c_tail far behind", OffCTail, func(r *region) uint32 { return (load(r.cTail()) + RingSize - 300) % RingSize }, false, "corrupt consumer indices"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, log := startReal(t, 2, 2)
			cl := mustClient(t, c, 0)
			serves(t, cl, 1, 20)
			store(c.r.word(tc.off), tc.val(c.r))
			// A request now: with a broken p_tail nobody can publish, so
			// only the consumer cases take one.
			if !tc.wait {
				serves(t, cl, 2, 20)
			} else {
				quietOnBrokenRing(t, c, 500*time.Millisecond)
				store(c.r.pTail(), load(c.r.pHead())) // the owner repairs it
				serves(t, cl, 2, 20)
			}
			serves(t, mustClient(t, c, 1), 3, 20)
			terminates(t, c, log) // the log is complete once the process is gone
			if !strings.Contains(log.String(), tc.logged) {
				t.Errorf("server log lacks %q:\n%s", tc.logged, log)
			}
			if !strings.Contains(log.String(), "repaired 1 corrupt ring states") {
				t.Errorf("summary lacks the repair:\n%s", log)
			}
		})
	}
}

// TestProbeHostileScribbler writes random words all over the region, indices
// included, for a bounded number of writes, with the server running. The
// server must survive it without burning the CPU, serve again once the
// owner reinitializes the ring (as a new client run does), and stop on
// SIGTERM, also while the ring is broken.
func TestProbeHostileScribbler(t *testing.T) {
	c, log := startReal(t, 2, 4)
	cl := mustClient(t, c, 0)
	serves(t, cl, 1, 20)

	// A hostile producer follows the ring protocol with malformed
	// descriptors while a legitimate client works: every legitimate request
	// is answered right, every bad one skipped and counted.
	const hostile = 3000
	done := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range hostile {
			d := Desc{Type: TypeGet, Key: rng.Uint32(), ResOff: int32(rng.Uint32())}
			if i%2 == 0 {
				d.Type, d.ResOff = 2+rng.Uint32()%100, int32(ResOff(1, 4, i))
			} else if ValidResOff(d.ResOff, c.r.size()) {
				d.ResOff++
			}
			if err := c.r.produce(shortCtx(5*time.Second), &d, &c.wait); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	serves(t, cl, 4, 200)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	serves(t, cl, 5, 5)
	if bad := load(c.r.word(offBad)); bad != hostile {
		t.Errorf("the server counted %d malformed descriptors, want %d", bad, hostile)
	}

	// Random words all over the region, in rounds: indices out of range,
	// indices in range only (the server then takes scribbled entries), and
	// both; after each round the owner reinitializes the region, as a new
	// run of the course's client does, and the server must serve again.
	rng := rand.New(rand.NewPCG(13, 37))
	words := c.r.size() / 4
	mixes := []int{0, 2, 1, 2, 1} // 1 in mix writes to an index is in range (0: none)
	if probe.Long() {
		for range 5 {
			mixes = append(mixes, mixes...)
		}
	}
	for round, inRange := range mixes {
		for i := range 5000 {
			off := 4 * rng.IntN(words)
			if i%4 == 0 { // every fourth write hits an index
				off = []int{OffPTail, OffPHead, OffCTail, OffCHead}[rng.IntN(4)]
			}
			v := rng.Uint32()
			if inRange > 0 && rng.IntN(inRange) == 0 {
				v %= RingSize
			}
			store(c.r.word(off), v)
			if i%500 == 0 {
				time.Sleep(time.Millisecond) // let the server run into it
			}
		}
		if !c.proc.Running() {
			t.Fatalf("round %d: the server exited\n%s", round, log)
		}
		clear(c.r.mem)
		serves(t, cl, 10+round, 20)
	}
	store(c.r.pTail(), 7777) // leave it broken for a while
	quietOnBrokenRing(t, c, 500*time.Millisecond)
	clear(c.r.mem) // the owner reinitializes the region
	serves(t, cl, 2, 50)
	serves(t, mustClient(t, c, 1), 3, 50)
	store(c.r.pTail(), 7777)
	time.Sleep(50 * time.Millisecond)
	terminates(t, c, log)
	t.Logf("server log:\n%s", log)
}

// TestProbeTruncatedFile truncates the shared file under the running server (as
// a new run of the course's client does: open with O_TRUNC, then size it):
// the server must not die of SIGBUS but wait, map the file again once it
// is whole, and serve; while it is truncated, SIGTERM still stops it.
func TestProbeTruncatedFile(t *testing.T) {
	c, log := startReal(t, 1, 2)
	cl := mustClient(t, c, 0)
	serves(t, cl, 1, 20)
	file, size := c.path, int64(c.r.size())
	rounds := 3
	if probe.Long() {
		rounds = 50
	}
	for round := range rounds {
		if err := os.Truncate(file, 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // the server touches the ring all the time
		if !c.proc.Running() {
			t.Fatalf("round %d: the server died on the truncated file\n%s", round, log)
		}
		// The client's own mapping is of the same file: growing it back
		// makes both mappings valid again, zeroed (a fresh ring).
		if err := os.Truncate(file, size); err != nil {
			t.Fatal(err)
		}
		serves(t, cl, 2+round, 20)
	}
	if err := os.Truncate(file, 0); err != nil {
		t.Fatal(err)
	}
	quietOnBrokenRing(t, c, 300*time.Millisecond)
	terminates(t, c, log)
	for _, want := range []string{"was truncated under the mapping", "mapped again (20776 bytes",
		fmt.Sprintf("mapped the file again %d times after it was truncated", rounds)} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("server log lacks %q:\n%s", want, log)
		}
	}
}

// syncBuffer collects a started process's output while the test reads it.
type syncBuffer = kvbenchtest.Buffer
