package netproxy

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// Faults is the fault state of one node's links. Its methods may be called
// from any goroutine. Decisions draw from one random stream seeded at
// construction, so the same seed and the same packet order give the same
// drops, delays and duplicates.
type Faults struct {
	mu       sync.Mutex
	rng      *rand.Rand
	isolated bool
	delay    time.Duration
	jitter   time.Duration
	loss     float64
	dup      float64
}

var _ impls.NetFaulter = (*Faults)(nil)

// NewFaults returns healthy links whose random decisions come from seed.
func NewFaults(seed int64) *Faults {
	return &Faults{rng: rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))}
}

// Isolate drops every packet in both directions until Heal.
func (f *Faults) Isolate() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.isolated = true
	return nil
}

// Degrade delays each packet by delay plus a uniform [0, jitter), drops a
// fraction loss of them and sends a fraction dup twice, until Heal. It
// replaces an earlier Degrade; an isolation stays until Heal.
func (f *Faults) Degrade(delay, jitter time.Duration, loss, dup float64) error {
	if delay < 0 || jitter < 0 || loss < 0 || loss > 1 || dup < 0 || dup > 1 {
		return fmt.Errorf("netproxy: bad degradation delay=%v jitter=%v loss=%v dup=%v", delay, jitter, loss, dup)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay, f.jitter, f.loss, f.dup = delay, jitter, loss, dup
	return nil
}

// Heal restores normal delivery.
func (f *Faults) Heal() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.isolated, f.delay, f.jitter, f.loss, f.dup = false, 0, 0, 0, 0
	return nil
}

// Decide returns the delays after which to deliver copies of one packet:
// none to drop it, one normally, two to duplicate it.
func (f *Faults) Decide() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.isolated:
		return nil
	case f.delay == 0 && f.jitter == 0 && f.loss == 0 && f.dup == 0:
		return zeroDelay
	case f.loss > 0 && f.rng.Float64() < f.loss:
		return nil
	}
	out := []time.Duration{f.draw()}
	if f.dup > 0 && f.rng.Float64() < f.dup {
		out = append(out, f.draw())
	}
	return out
}

var zeroDelay = []time.Duration{0}

func (f *Faults) draw() time.Duration {
	d := f.delay
	if f.jitter > 0 {
		d += time.Duration(f.rng.Int64N(int64(f.jitter)))
	}
	return d
}
