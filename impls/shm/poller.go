package shm

import (
	"sync"
	"sync/atomic"
)

// poller parks on behalf of a cluster's Do calls. A Do first spins and
// yields on its own status slot (the answer usually comes within a few
// microseconds); if that does not do, it registers the slot here and blocks
// on a Go channel. Only the poller's goroutine then blocks in the kernel
// (FUTEX_WAIT on the client wake word, bounded by the policy's park length), so
// at most one OS thread of the client process sits in a system call holding
// a Go P: with per-Do futex waits, two parked Do calls on a 2-core machine
// held both Ps, and every other goroutine waited for the runtime's sysmon to
// take a P back (tens of microseconds, measured; see doc.go).
//
// Wake-up protocol: a registered slot's ready word is CAS'd from 0 to
// readyParked after the registration is visible; a kvbench server that
// swaps ready from readyParked to 1 then increments the wake word and
// issues FUTEX_WAKE on it. The poller loads the wake word, scans the
// registered slots, and waits only while the word is unchanged, so an
// answer posted between its scan and its wait is not missed. A C server
// never wakes anybody; the park length bounds the delay then.
type poller struct {
	r    *region
	wait *waitPolicy

	mu      sync.Mutex
	regs    []*pollReg
	running bool // a poll goroutine is alive
	kick    chan struct{}
	loops   sync.WaitGroup
}

// pollReg is one registered wait: the slot's offset and the channel the
// poller closes when ready == 1.
type pollReg struct {
	off  int
	done chan struct{}
}

func newPoller(r *region, wait *waitPolicy) *poller {
	return &poller{r: r, wait: wait, kick: make(chan struct{}, 1)}
}

// register adds a wait for the slot at off. It returns nil if the answer is
// already there, or, with errClientFault, if the slot cannot be read (the
// file was truncated).
func (p *poller) register(off int) (*pollReg, error) {
	reg := &pollReg{off: off, done: make(chan struct{})}
	p.mu.Lock()
	p.regs = append(p.regs, reg)
	start := !p.running
	p.running = true
	if start {
		p.loops.Add(1)
	}
	p.mu.Unlock()
	if start {
		go p.loop()
	} else {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
	// Marked after the registration is visible: a server that swaps the mark
	// away wakes the poller, which then finds the registration. If the
	// answer came first, the caller takes it itself.
	switch p.r.markParked(off) {
	case markFaulted:
		if p.cancel(reg) {
			return nil, errClientFault
		}
		return nil, nil // completed meanwhile (the file grew back)
	case markAnswered:
		if p.cancel(reg) {
			return nil, nil
		}
	}
	return reg, nil
}

// What markParked found.
const (
	markDone = iota
	markAnswered
	markFaulted
)

// markParked marks the slot at off as watched by the poller (ready 0 ->
// readyParked); it returns markAnswered if the answer is there instead,
// markFaulted if the access faulted.
func (r *region) markParked(off int) (res int) {
	var err error
	defer func() {
		if err != nil {
			res = markFaulted
		}
	}()
	defer catchFault(onFault(), &err, errClientFault)
	rd := r.ready(off)
	if !atomic.CompareAndSwapUint32(rd, 0, readyParked) && load(rd) == 1 {
		return markAnswered
	}
	return markDone
}

// idle waits until no poll goroutine runs; call it when no Do is under way
// (before unmapping).
func (p *poller) idle() { p.loops.Wait() }

// cancel removes reg; it reports false if the poller had already completed
// it (the answer is there).
func (p *poller) cancel(reg *pollReg) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.regs {
		if x == reg {
			p.regs = append(p.regs[:i], p.regs[i+1:]...)
			return true
		}
	}
	return false
}

// scan completes every registration whose slot is ready; it reports how
// many remain and whether it completed any. When none remain the goroutine
// is marked stopped (under the lock, so a concurrent register starts a new
// one).
func (p *poller) scan() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	keep := p.regs[:0]
	for _, reg := range p.regs {
		if v, ok := tryLoad(p.r.ready(reg.off)); ok && v == 1 {
			close(reg.done)
			continue
		}
		keep = append(keep, reg)
	}
	done := len(keep) < len(p.regs)
	clear(p.regs[len(keep):])
	p.regs = keep
	if len(keep) == 0 {
		p.running = false
	}
	return len(keep), done
}

// pending reports whether a registration is pending; if none is, the
// goroutine is marked stopped (under the lock, so a concurrent register
// starts a new one). loop asks it before it touches the mapping: a
// registration the caller cancelled (its answer came first) can leave a
// loop that has nothing to wait for, started just as the caller returned,
// and by the time it runs the file may be unmapped or truncated (the
// course's client reopens it with O_TRUNC), where a read would fault.
func (p *poller) pending() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.regs) == 0 {
		p.running = false
		return false
	}
	return true
}

// loop runs while registrations are pending. Its parks grow like a
// waiter's (see backoff.park) while nothing completes.
func (p *poller) loop() {
	defer p.loops.Done()
	wake := p.r.word(offClientWake)
	b := backoff{p: p.wait}
	for {
		if !p.pending() {
			return
		}
		w, ok := tryLoad(wake)
		if !ok {
			// The file is truncated: the callers give up (ctx, Close)
			// or it grows back.
			sleep(b.grow())
			continue
		}
		n, done := p.scan()
		if n == 0 {
			return
		}
		if done {
			b.next = 0
		}
		select {
		case <-p.kick: // a new registration: scan it at once
			continue
		default:
		}
		d := b.grow()
		switch p.wait.Park {
		case parkFutex:
			futexWait(wake, w, d)
		case parkSleep:
			sleep(d)
		default:
			yield(!p.wait.NoGosched)
		}
	}
}
