package impls

import (
	"context"
	"errors"
)

// Polled is an optional capability of a Client opened with a window of one:
// an event loop may drive it, one request at a time, without a goroutine
// that waits for each answer. Begin writes a request and returns without
// its answer; the caller waits until the client's socket is readable (an
// epoll loop over many clients' sockets) and collects the answer with
// Finish. The driver uses it for closed-loop benchmarks with -w 1 (see
// driver/mux_linux.go), where parking and waking a goroutine per request
// cost more than the request's own system calls.
//
// Begin, Finish and Do are called by one goroutine at a time (the loop
// that owns the client), never concurrently.
//
// Failure semantics:
//   - Begin returning pending=true leaves exactly one request in flight:
//     the next call on the client must be Finish, which returns its
//     outcome (Response and error mean what Do's would); if ctx ends
//     meanwhile, Finish gives up with an error for which IsUnknown is true.
//   - Begin returning pending=false leaves nothing in flight: resp and err
//     are the request's final outcome (a definite failure such as a bad
//     key or a connection that could not be opened, or an unknown outcome
//     when a write failed half way), unless errors.Is(err, ErrNotPolled):
//     then nothing was sent and the caller uses Do instead (kinds that take
//     several round trips, such as Swap).
//   - watch is called before the request is written, with the socket the
//     answer will arrive on and an identifier of that connection that no
//     other connection of this process shares, while the socket cannot be
//     closed; the caller (re)registers the socket when the identifier
//     changes. A closed socket drops out of epoll by itself.
type Polled interface {
	Client
	Begin(ctx context.Context, req Request, watch func(fd int, conn uint64) error) (pending bool, resp Response, err error)
	Finish(ctx context.Context) (Response, error)
}

// BorrowedValues is an optional capability of a Polled client. After
// BorrowValues, the Value of a Response that Finish returns may alias a
// buffer the client reuses: it is valid only until the client's next call
// (Begin, Finish, Do or Close), so the caller must copy it to keep it.
// Do's answers are unaffected. The driver's event loops ask for it when
// they keep no history: they look at no answer's value once it is timed,
// and a Get's value then costs a copy into that buffer instead of an
// allocation.
type BorrowedValues interface {
	Polled
	BorrowValues()
}

// ErrNotPolled is Begin's answer for a request it does not start: nothing
// was sent; use Do.
var ErrNotPolled = errors.New("request not polled: use Do")
