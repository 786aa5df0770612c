package scenarios

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/kvbench/kvbench/impls/proc"
	"github.com/kvbench/kvbench/results"
)

// nemesis injects faults into server processes while the driver runs: every
// interval (±25% jitter) it picks a process and crashes it (SIGKILL of its
// process group, then a restart with the same arguments and data after
// duration) or pauses it (SIGSTOP, SIGCONT after duration). With both kinds
// enabled it alternates. Every fault window is recorded on the run's clock.
type nemesis struct {
	procs              []*proc.Process
	crash, pause       bool
	interval, duration time.Duration
	epoch              time.Time
	rng                *rand.Rand
	log                io.Writer

	// enough is closed once minFaults faults have been healed.
	minFaults int
	enough    chan struct{}

	mu     sync.Mutex
	faults []results.Fault
}

// run injects faults until ctx is done; an active fault is healed before it
// returns, whatever ctx says.
func (n *nemesis) run(ctx context.Context) {
	next := n.crash
	for i := 0; ; i++ {
		wait := n.interval
		if i == 0 {
			wait /= 2 // the first fault comes early, so short runs see one too
		}
		wait = time.Duration(float64(wait) * (0.75 + 0.5*n.rng.Float64()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		p := n.procs[n.rng.IntN(len(n.procs))]
		crash := next
		if n.crash && n.pause {
			next = !next
		}
		if crash {
			n.crashOnce(ctx, p)
		} else {
			n.pauseOnce(ctx, p)
		}
	}
}

func (n *nemesis) since() int64 { return int64(time.Since(n.epoch)) }

func (n *nemesis) record(f results.Fault) {
	n.mu.Lock()
	n.faults = append(n.faults, f)
	if len(n.faults) == n.minFaults {
		close(n.enough)
	}
	n.mu.Unlock()
	if f.Error != "" {
		fmt.Fprintf(n.log, "nemesis: %s of %s could not be healed: %s\n", f.Kind, f.Process, f.Error)
	}
}

// crashOnce kills p (SIGKILL of its group) and restarts it on the same data
// after the fault duration; the window spans kill to ready. The restart
// happens even when the run is over: the store must serve afterwards.
func (n *nemesis) crashOnce(ctx context.Context, p *proc.Process) {
	n.inject(ctx, "crash", p, p.Kill, func() error {
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			rctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			err = p.Restart(rctx)
			cancel()
			if err == nil {
				return nil
			}
		}
		return err
	})
}

// pauseOnce stops p's group with SIGSTOP and continues it after the fault
// duration.
func (n *nemesis) pauseOnce(ctx context.Context, p *proc.Process) {
	n.inject(ctx, "pause", p, p.Pause, p.Resume)
}

// inject applies one fault, holds it for the fault duration (or until ctx
// ends), heals it, and records the window and any error.
func (n *nemesis) inject(ctx context.Context, kind string, p *proc.Process, apply, heal func() error) {
	f := results.Fault{Kind: kind, Process: p.Name(), Start: n.since()}
	if err := apply(); err != nil {
		f.End, f.Error = n.since(), err.Error()
		n.record(f)
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(n.duration):
	}
	if err := heal(); err != nil {
		f.Error = err.Error()
	}
	f.End = n.since()
	n.record(f)
}

// windows returns the recorded fault windows in order.
func (n *nemesis) windows() []results.Fault {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]results.Fault(nil), n.faults...)
}
