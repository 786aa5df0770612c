package netproxy

import (
	"errors"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// Links is one node's faults over several proxies: with a proxy per
// directed link between replicas, a node's Links are the proxies into it
// and out of it, so Isolate cuts it off from every peer both ways.
type Links []impls.NetFaulter

var _ impls.NetFaulter = Links(nil)

// Isolate isolates every link.
func (l Links) Isolate() error { return l.each(func(f impls.NetFaulter) error { return f.Isolate() }) }

// Degrade degrades every link alike.
func (l Links) Degrade(delay, jitter time.Duration, loss, dup float64) error {
	return l.each(func(f impls.NetFaulter) error { return f.Degrade(delay, jitter, loss, dup) })
}

// Heal heals every link.
func (l Links) Heal() error { return l.each(func(f impls.NetFaulter) error { return f.Heal() }) }

func (l Links) each(fn func(impls.NetFaulter) error) error {
	var errs []error
	for _, f := range l {
		errs = append(errs, fn(f))
	}
	return errors.Join(errs...)
}
