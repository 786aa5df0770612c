package shm

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/kvbench/kvbench/impls"
)

// The client side of a truncated file. Whoever can write the file can
// truncate it under our mapping (the course's client reopens it with
// O_TRUNC on every run; a hostile or buggy process may do anything), and
// the next access to a page past the new end raises SIGBUS, which kills a
// Go process unless the faulting goroutine asked for a panic instead
// (debug.SetPanicOnFault). So every client function that touches the
// mapping does so under catchFault, which turns the fault into an error:
//
//   - marking the status slot (before anything is claimed): errClientFault,
//     nothing was submitted;
//   - producing: errFaultSubmit, which (like errUnpublished) means the
//     outcome is unknown (the entry may have been claimed or published),
//     so the slot is quarantined;
//   - waiting for or reading the answer: the request is given up as an
//     unknown outcome (the slot quarantined, or freed when the answer had
//     been posted already);
//   - the poller, reclaim and the readiness probes read through tryLoad
//     and tryStore, so that a fault never leaves their lists half updated.
//
// Locks held across an access are released by defers, which run while the
// fault unwinds. The client keeps working if the file grows back (a
// server maps it afresh; quarantined slots free as usual).

// errClientFault is the error of an access to the mapping that faulted.
var errClientFault = errors.New("shm: the shared file was truncated under the client's mapping (an access faulted)")

// errFaultSubmit is produce's fault: the request may have been claimed or
// published, so its outcome is unknown.
var errFaultSubmit = fmt.Errorf("%w while submitting: %w", errClientFault, impls.ErrUnknownOutcome)

// errFaultAnswer is the fault of reading a posted answer: the server
// applied the request, but what it answered is lost.
var errFaultAnswer = fmt.Errorf("%w while reading the answer: %w", errClientFault, impls.ErrUnknownOutcome)

// claimedUnpublished reports whether produce's err means the request may
// have been submitted (its slot must be quarantined).
func claimedUnpublished(err error) bool {
	return errors.Is(err, errUnpublished) || errors.Is(err, errFaultSubmit)
}

// onFault makes a fault of the calling goroutine a panic and returns the
// previous setting, for catchFault.
func onFault() bool { return debug.SetPanicOnFault(true) }

// catchFault is deferred by a function that touches the mapping, as
// `defer catchFault(onFault(), &err, fail)`: it restores the goroutine's
// setting and turns a fault into *err = fail; any other panic goes on.
func catchFault(old bool, err *error, fail error) {
	debug.SetPanicOnFault(old)
	if e := recover(); e != nil {
		if !isFault(e) {
			panic(e)
		}
		*err = fail
	}
}

// tryLoad is load, or ok = false if the access faulted.
func tryLoad(p *uint32) (v uint32, ok bool) {
	var err error
	defer catchFault(onFault(), &err, errClientFault)
	return load(p), true
}

// tryStore is store; it reports false if the access faulted.
func tryStore(p *uint32, v uint32) (ok bool) {
	var err error
	defer catchFault(onFault(), &err, errClientFault)
	store(p, v)
	return true
}
