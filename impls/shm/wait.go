package shm

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// parkMode is what a waiter does once spinning and yielding did not help.
type parkMode uint8

const (
	// parkNone never blocks: it keeps yielding (spin+yield).
	parkNone parkMode = iota
	// parkSleep sleeps ParkFor in nanosleep(2); nobody wakes it early.
	parkSleep
	// parkFutex blocks in FUTEX_WAIT on the watched word for at most
	// ParkFor; a kvbench peer that changes the word wakes it at once (a C
	// peer does not wake anybody, so the timeout bounds the extra latency).
	parkFutex
)

var parkNames = [...]string{"yield", "sleep", "futex"}

// waitPolicy says how a thread waits for a word in the shared region to
// change: it busy re-checks for SpinFor, then re-checks and yields the
// processor in between (runtime.Gosched for the other goroutines of this
// process, then sched_yield(2) for the other processes) until YieldFor has
// passed as well, then parks per Park, re-checking in between: for ParkFor
// at first, doubling with every further park of the same wait up to
// ParkMax (an idle thread should cost next to nothing: every timed-out park
// is a wake-up, tens of microseconds of CPU on a VM). Yielding costs nothing when no other thread wants
// the processor and hands it over when one does, so it is polite spinning.
// With parkNone it never parks; a huge SpinFor is pure spinning.
type waitPolicy struct {
	SpinFor  time.Duration
	YieldFor time.Duration
	Park     parkMode
	ParkFor  time.Duration
	ParkMax  time.Duration
	// NoGosched leaves runtime.Gosched out of yielding: set when the
	// waiters of this process have a P each (see forBusy).
	NoGosched bool
	// LazyWake publishes with a release store of p_tail and no check of
	// the server's awake count; the waits that depend on the server
	// (ready, room in the ring) check it first instead (region.wakeServer).
	// For pipelined threads: a sequentially consistent store of p_tail (a
	// full fence) and the load after it cost each request a stall on the
	// ring's hottest cache line, while a pipelined thread waits far less
	// often than it publishes.
	LazyWake bool
	// RawPark parks without telling the Go runtime (futexWaitRaw): for
	// the server's threads.
	RawPark bool
	// YieldAtOnce (with SpinFor 0) yields at the first failed check, as
	// the C peers do, instead of after spinCheck checks: for a Do's wait
	// for its answer and the server's waits, which 64 checks (about
	// 0.1 µs) rarely see end while a thread they wait for may share the
	// core (see doc.go). Pipelined waits (Recv) keep the checks.
	YieldAtOnce bool
}

// forBusy is p for a process where busy goroutines may wait at once. If
// they are no more than GOMAXPROCS, each has a P and runtime.Gosched has
// nobody to hand it to; worse, once a P is idle (a thread parked in a
// system call gives its P up), Gosched wakes an OS thread to look for work,
// which finds none and sleeps again: two futex calls and a thread switch
// per yield (profiled: 10% of a -n 1 pipelined client's CPU; 90% of the
// futex calls of a -n 1 -w 1 run, in the two-thread server). So yielding
// is then sched_yield alone.
func forBusy(p waitPolicy, busy int) waitPolicy {
	p.NoGosched = busy <= runtime.GOMAXPROCS(0)
	return p
}

// defaultWait is the policy kvbench uses (no spinning phase: SpinFor 0
// still checks spinCheck times before it yields, unless YieldAtOnce);
// doc.go records the measurements behind it.
func defaultWait() waitPolicy {
	return waitPolicy{SpinFor: 0, YieldFor: 50 * time.Microsecond,
		Park: parkFutex, ParkFor: 200 * time.Microsecond, ParkMax: 2 * time.Millisecond}
}

// String renders p in the syntax parseWaitPolicy accepts.
func (p waitPolicy) String() string {
	return fmt.Sprintf("%s:spin=%v,yield=%v,park=%v,max=%v", parkNames[p.Park], p.SpinFor, p.YieldFor, p.ParkFor, p.ParkMax)
}

// parseWaitPolicy parses "MODE[:spin=D,yield=D,park=D,max=D]" (D a duration) where MODE is
// spin (spin forever), yield, sleep or futex; omitted numbers keep the
// defaults. It exists to measure the options (the hidden --wait flag).
func parseWaitPolicy(s string) (waitPolicy, error) {
	p := defaultWait()
	mode, rest, _ := strings.Cut(s, ":")
	switch mode {
	case "spin":
		p.SpinFor, p.Park = 1<<62, parkNone
	case "yield":
		p.Park = parkNone
	case "sleep":
		p.Park = parkSleep
	case "futex", "":
		p.Park = parkFutex
	default:
		return p, fmt.Errorf("wait policy %q: mode must be spin, yield, sleep or futex", s)
	}
	if rest == "" {
		return p, nil
	}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, fmt.Errorf("wait policy %q: %q is not key=value", s, kv)
		}
		var err error
		switch k {
		case "spin":
			p.SpinFor, err = time.ParseDuration(v)
		case "yield":
			p.YieldFor, err = time.ParseDuration(v)
		case "park":
			p.ParkFor, err = time.ParseDuration(v)
		case "max":
			p.ParkMax, err = time.ParseDuration(v)
		default:
			err = fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return p, fmt.Errorf("wait policy %q: %w", s, err)
		}
	}
	if p.SpinFor < 0 || p.YieldFor < 0 || p.ParkFor <= 0 || p.ParkMax < 0 {
		return p, fmt.Errorf("wait policy %q: negative duration or zero park", s)
	}
	p.ParkMax = max(p.ParkMax, p.ParkFor)
	return p, nil
}

// backoff is the state of one wait: how many failed checks so far, when
// the wait started, and its phase.
type backoff struct {
	p     *waitPolicy
	n     int
	t0    time.Duration // monoNow() when the wait started
	phase uint8         // 0 spinning, 1 yielding, 2 parking
	next  time.Duration // the next park's length
}

// spinCheck is how many spins pass between two looks at the clock.
const spinCheck = 64

// monoBase is the origin of monoNow.
var monoBase = time.Now()

// monoNow is the time since monoBase, from one read of the monotonic
// clock (time.Now reads the wall clock too, which costs as much again).
func monoNow() time.Duration { return time.Since(monoBase) }

// yieldCheck is how many yields pass between two looks at the clock.
const yieldCheck = 4

// step is called after each failed check. It spins or yields; it returns
// true when the caller should look at its context and, if parking() says
// so, park: every check once parking, and now and then before.
func (b *backoff) step() bool {
	b.n++
	switch b.phase {
	case 0:
		// Without a spinning phase the clock is first read when the
		// wait turns to yielding: most waits end within spinCheck
		// checks, and a clock read per wait was a few percent of a
		// pipelined client's CPU.
		if b.n == 1 && b.p.SpinFor > 0 {
			b.t0 = monoNow()
		}
		if b.n%spinCheck != 0 && !(b.p.YieldAtOnce && b.p.SpinFor == 0) {
			return false
		}
		if b.p.SpinFor == 0 {
			b.t0 = monoNow()
		} else if monoNow()-b.t0 < b.p.SpinFor {
			return b.n%(16*spinCheck) == 0
		}
		b.phase = 1
		fallthrough
	case 1:
		// The clock is read every yieldCheck yields, not at each: a
		// yield that finds nobody to run returns in a few hundred ns,
		// and a clock read per yield was a tenth of a -n 1 -w 1
		// client's CPU (profiled); one that runs somebody else lasts
		// longer, and the wait then parks a few yields late.
		if b.p.Park != parkNone && b.n%yieldCheck == 0 && monoNow()-b.t0 >= b.p.SpinFor+b.p.YieldFor {
			b.phase = 2
			return true
		}
		yield(!b.p.NoGosched)
		return b.n%16 == 0
	default:
		return true
	}
}

// parking reports whether the next step parks (callers check ctx then).
func (b *backoff) parking() bool { return b.phase == 2 }

// park blocks while *addr == v, for at most the wait's current park
// length, which then doubles (up to ParkMax). With parkFutex it registers
// in *waiters first, so that whoever changes *addr and then sees a waiter
// issues FUTEX_WAKE: the writer stores the word and then loads the counter,
// the waiter increments the counter and then the kernel compares the word;
// both sides use sequentially consistent operations, so at least one of
// them sees the other (no lost wake-up).
func (b *backoff) park(addr *uint32, v uint32, waiters *uint32) {
	d := b.grow()
	switch b.p.Park {
	case parkFutex:
		atomic.AddUint32(waiters, 1)
		switch {
		case load(addr) != v:
		case b.p.RawPark:
			futexWaitRaw(addr, v, d)
		default:
			futexWait(addr, v, d)
		}
		atomic.AddUint32(waiters, ^uint32(0))
	case parkSleep:
		sleep(d)
	}
}

// grow returns the length of the next park and doubles the one after.
func (b *backoff) grow() time.Duration {
	if b.next == 0 {
		b.next = b.p.ParkFor
	}
	d := b.next
	b.next = min(2*b.next, max(b.p.ParkMax, b.p.ParkFor))
	return d
}

// wakeWaiters wakes every thread parked on addr if the waiter count says
// there is one. Call it after the store to addr.
func wakeWaiters(addr, waiters *uint32) {
	if load(waiters) != 0 {
		futexWake(addr, 1<<30)
	}
}

// yield gives the processor away: to the other goroutines of this process
// (if gosched), then to the other threads of the machine (a peer process's
// thread may be the one we wait for, and runtime.Gosched alone never leaves
// this process).
func yield(gosched bool) {
	if gosched {
		runtime.Gosched()
	}
	unix.RawSyscallNoError(unix.SYS_SCHED_YIELD, 0, 0, 0)
}

// sleep blocks the thread in nanosleep(2); time.Sleep is not used because
// the runtime rounds short sleeps up to a millisecond when it is idle.
func sleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	_ = unix.Nanosleep(&ts, nil)
}

// Futex operations on a shared (not FUTEX_PRIVATE) mapping: the kernel keys
// the wait queue by the file page and offset, so the two processes meet.
const (
	futexWaitOp = 0 // FUTEX_WAIT
	futexWakeOp = 1 // FUTEX_WAKE
)

// futexWait blocks while *addr == v, for at most d, or until woken.
func futexWait(addr *uint32, v uint32, d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitOp,
		uintptr(v), uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// futexWaitRaw is futexWait without the runtime's system call path: the
// P stays with the blocked thread, so sysmon neither hands it off nor
// shortens its own tick (see doc.go, "Server threads park with a raw
// FUTEX_WAIT"). Only for goroutines that own their P's work, as the
// server's threads do: nothing else runs on that P until the park ends.
func futexWaitRaw(addr *uint32, v uint32, d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	_, _, _ = unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitOp,
		uintptr(v), uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// futexWake wakes up to n threads parked on addr.
func futexWake(addr *uint32, n int) {
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakeOp,
		uintptr(n), 0, 0, 0)
}
