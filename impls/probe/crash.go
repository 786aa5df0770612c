package probe

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// Subject is a durable store as CrashCycles drives it.
type Subject struct {
	// Kill stops the store abruptly (SIGKILL of every process).
	Kill func() error
	// Restart starts it again on the same data; it returns once the store
	// is ready.
	Restart func(ctx context.Context) error
	// NewClient connects a client. CrashConfig.PerClient writers share
	// each one, so it must allow that many concurrent calls.
	NewClient func(ctx context.Context) (impls.Client, error)
}

// ClusterSubject drives a cluster kvbench started: Kill kills every node,
// Restart restarts them all, NewClient is the cluster's.
func ClusterSubject(cl impls.Cluster) Subject {
	var ids atomic.Int64
	return Subject{
		Kill: func() error {
			var errs []error
			for _, n := range cl.Nodes() {
				errs = append(errs, n.Proc.Kill())
			}
			return errors.Join(errs...)
		},
		Restart: func(ctx context.Context) error {
			for _, n := range cl.Nodes() {
				if err := n.Proc.Restart(ctx); err != nil {
					return err
				}
			}
			return nil
		},
		NewClient: func(ctx context.Context) (impls.Client, error) {
			return cl.NewClient(ctx, int(ids.Add(1)))
		},
	}
}

// CrashConfig sizes a crash-cycle run. Zero fields take the defaults.
type CrashConfig struct {
	// Cycles is the number of kill/restart cycles (default 5).
	Cycles int
	// Clients is the number of connections per cycle (default 4) and
	// PerClient the writers sharing each, pipelined (default 2).
	Clients, PerClient int
	// Keys is the number of keys each writer owns (default 20); ValueSize
	// pads every value to at least that many bytes (default 16).
	Keys, ValueSize int
	// Writers run for a random time in [MinRun, MaxRun] before the kill
	// (default 50 ms to 400 ms), unless KillWhen is set.
	MinRun, MaxRun time.Duration
	// KillWhen, if set, returns when the store should be killed in a cycle
	// (e.g. once a compaction has begun); it must return when ctx ends.
	KillWhen func(ctx context.Context, cycle int)
	// OpTimeout bounds each request (default 10 s).
	OpTimeout time.Duration
	// Seed makes the key choices and kill times reproducible.
	Seed uint64
}

func (c *CrashConfig) defaults() {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.Cycles, 5)
	def(&c.Clients, 4)
	def(&c.PerClient, 2)
	def(&c.Keys, 20)
	def(&c.ValueSize, 16)
	if c.MinRun <= 0 {
		c.MinRun = 50 * time.Millisecond
	}
	if c.MaxRun < c.MinRun {
		c.MaxRun = max(c.MinRun, 400*time.Millisecond)
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = 10 * time.Second
	}
}

// CrashResult is what a crash-cycle run found.
type CrashResult struct {
	Cycles int
	// Acked, Unknown and Failed count the writes by outcome.
	Acked, Unknown, Failed int64
	// Checked counts key reads after restarts; Lost those that found
	// neither the last acknowledged value nor a value whose write's
	// outcome was unknown (a lost write, or one that failed definitely
	// but took effect).
	Checked, Lost int
	// Examples describes up to 10 lost keys.
	Examples []string
}

// String summarizes the result on one line.
func (r CrashResult) String() string {
	return fmt.Sprintf("%d crash cycles, %d acknowledged writes (%d unknown, %d failed), %d keys checked after restarts, %d lost",
		r.Cycles, r.Acked, r.Unknown, r.Failed, r.Checked, r.Lost)
}

// keyState is what a key may hold after a crash: its last acknowledged
// value (or absent if none) or a value written since with an unknown
// outcome.
type keyState struct {
	acked   string
	hasAck  bool
	pending []string
}

// CrashCycles runs writers against s, kills it, restarts it and checks
// every key, cfg.Cycles times. Each writer owns its keys and writes
// unique values, so a key's history is sequential and its recovered value
// must be its last acknowledged one or an unacknowledged later one. It
// returns an error only when the probe could not run (the store did not
// restart, a read after restart failed).
func CrashCycles(ctx context.Context, s Subject, cfg CrashConfig) (CrashResult, error) {
	cfg.defaults()
	var res CrashResult
	var mu sync.Mutex
	states := map[string]*keyState{}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6b696c6c))
	pad := strings.Repeat("p", cfg.ValueSize)
	for cycle := 0; cycle < cfg.Cycles; cycle++ {
		clients := make([]impls.Client, cfg.Clients)
		for i := range clients {
			c, err := s.NewClient(ctx)
			if err != nil {
				closeAll(clients)
				return res, fmt.Errorf("crash cycle %d: client: %w", cycle, err)
			}
			clients[i] = c
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < cfg.Clients*cfg.PerClient; w++ {
			wg.Add(1)
			go func(w int, c impls.Client) {
				defer wg.Done()
				r := rand.New(rand.NewPCG(cfg.Seed+uint64(w), uint64(cycle)))
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					key := fmt.Sprintf("crash-w%d-k%d", w, r.IntN(cfg.Keys))
					val := fmt.Sprintf("w%d-c%d-i%d-%s", w, cycle, i, pad)
					octx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
					_, err := c.Do(octx, impls.Request{Kind: impls.Put, Key: key, Value: val})
					cancel()
					mu.Lock()
					st := states[key]
					if st == nil {
						st = &keyState{}
						states[key] = st
					}
					switch {
					case err == nil:
						st.acked, st.hasAck, st.pending = val, true, nil
						res.Acked++
					case impls.IsUnknown(err):
						st.pending = append(st.pending, val)
						res.Unknown++
					default:
						res.Failed++
					}
					mu.Unlock()
					if err != nil {
						return // the store is down; the cycle ends
					}
				}
			}(w, clients[w%cfg.Clients])
		}
		if cfg.KillWhen != nil {
			cfg.KillWhen(ctx, cycle)
		} else {
			d := cfg.MinRun + time.Duration(rng.Int64N(int64(cfg.MaxRun-cfg.MinRun)+1))
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		kerr := s.Kill()
		close(stop)
		wg.Wait()
		closeAll(clients)
		if kerr != nil {
			return res, fmt.Errorf("crash cycle %d: kill: %w", cycle, kerr)
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := s.Restart(ctx); err != nil {
			return res, fmt.Errorf("crash cycle %d: restart: %w", cycle, err)
		}
		if err := verify(ctx, s, cfg, states, &res, cycle); err != nil {
			return res, err
		}
		res.Cycles++
	}
	return res, nil
}

func closeAll(cs []impls.Client) {
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}

// verify reads every key after a restart and checks it against its state;
// what it reads becomes the key's acknowledged state (it is durable now).
func verify(ctx context.Context, s Subject, cfg CrashConfig, states map[string]*keyState, res *CrashResult, cycle int) error {
	c, err := s.NewClient(ctx)
	if err != nil {
		return fmt.Errorf("crash cycle %d: client after restart: %w", cycle, err)
	}
	defer c.Close()
	for key, st := range states {
		octx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
		r, err := c.Do(octx, impls.Request{Kind: impls.Get, Key: key})
		cancel()
		if err != nil {
			return fmt.Errorf("crash cycle %d: read %s after restart: %w", cycle, key, err)
		}
		res.Checked++
		ok := false
		switch r.Found {
		case impls.Present:
			ok = st.hasAck && r.Value == st.acked
			for _, p := range st.pending {
				ok = ok || r.Value == p
			}
		case impls.Absent:
			ok = !st.hasAck
		}
		if !ok {
			res.Lost++
			if len(res.Examples) < 10 {
				res.Examples = append(res.Examples, fmt.Sprintf("cycle %d: %s holds %.30q (found %v); acknowledged %.30q, %d unknown since",
					cycle, key, r.Value, r.Found, st.acked, len(st.pending)))
			}
		}
		st.acked, st.hasAck, st.pending = r.Value, r.Found == impls.Present, nil
	}
	return nil
}
