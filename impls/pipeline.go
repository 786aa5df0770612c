package impls

import "context"

// Pipeliner is an optional capability of a Client: in-order pipelining from
// one goroutine. The caller submits requests with Send and collects their
// answers with Recv, strictly in the order they were sent, keeping up to
// the window the client was opened for (StartEnv.Window) in flight, the
// way the course's C client thread does (submit w requests, then wait for
// the oldest, submit the next). It saves the goroutine per request in
// flight, and the hand-offs between those goroutines, that concurrent Do
// calls need. The driver uses it when -w > 1 and every client implements
// it; otherwise it calls Do.
//
// Send and Recv are called from one goroutine at a time, and not while Do
// calls of the same client are under way.
//
// Failure semantics:
//   - Send returning nil makes the request pending: exactly one later Recv
//     returns its outcome, after those of every request sent before it.
//   - Send returning an error leaves nothing pending: the request was never
//     submitted and failed definitely (ErrUnsupported, a closed client, ctx
//     ended while it waited for room), unless the error wraps
//     ErrUnknownOutcome (it may have been submitted; see IsUnknown). Either
//     way no Recv answers for it.
//   - Recv returns the oldest pending request's outcome and removes it from
//     the pending ones, whatever it returns; the request's Response and
//     error mean what Do's would. If ctx ends first, Recv gives up on that
//     request with an error for which IsUnknown is true (it was submitted,
//     so it may yet take effect), and a late answer for it is never taken
//     for a later request's. Recv with nothing pending returns an error
//     (not unknown: no request is concerned).
type Pipeliner interface {
	Send(ctx context.Context, req Request) error
	Recv(ctx context.Context) (Response, error)
}
