package impls

import (
	"context"
	"errors"
	"fmt"
)

// Kind is the kind of a key-value operation.
type Kind uint8

// The operation kinds every store is described in. A store supports a subset.
const (
	Get    Kind = iota // read one key
	Put                // write one key
	Delete             // remove one key
	Swap               // write one key and return its previous value
	Scan               // read every key in [Key, End], both ends inclusive
	NumKinds
)

var kindNames = [NumKinds]string{"GET", "PUT", "DELETE", "SWAP", "SCAN"}

// String returns the upper-case name of k, as MadKV's protocol spells it.
func (k Kind) String() string {
	if k < NumKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind parses an upper- or lower-case kind name.
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if equalFold(n, s) {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown op kind %q", s)
}

// MarshalText implements encoding.TextMarshaler so kinds read well in JSON.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	*k = v
	return err
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Request is one operation a client sends. Value is the written value (Put,
// Swap); End is the inclusive upper bound of a Scan.
type Request struct {
	Kind  Kind   `json:"kind"`
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
	End   string `json:"end,omitempty"`
}

// Found says whether a key existed, or that the protocol did not reveal it
// (memcached's set does not say whether it overwrote a key).
type Found int8

// The three answers to "did the key exist?".
const (
	Unknown Found = 0 // the protocol does not say
	Present Found = 1
	Absent  Found = -1
)

// FoundOf converts a bool into Present or Absent.
func FoundOf(b bool) Found {
	if b {
		return Present
	}
	return Absent
}

// Pair is one key-value entry returned by a Scan.
type Pair struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// Response carries only what the store's protocol reveals:
//   - Get: Found (Present/Absent) and Value when Present.
//   - Put, Delete: Found is whether the key existed before, or Unknown.
//   - Swap: Found and Value describe the previous value.
//   - Scan: Pairs, sorted by key, every present key in the range.
//
// The checker compares only what is known.
type Response struct {
	Found Found  `json:"found,omitempty"`
	Value string `json:"value,omitempty"`
	Pairs []Pair `json:"pairs,omitempty"`
}

// Client executes requests against one store. Do must honour ctx. A Client
// whose Impl allows a window above one must be safe for that many concurrent
// Do calls (they share one connection or one set of shared-memory slots);
// otherwise the driver calls Do from one goroutine at a time.
type Client interface {
	Do(ctx context.Context, req Request) (Response, error)
	Close() error
}

// Errors an adapter returns, tested with errors.Is.
var (
	// ErrUnsupported: the store's protocol has no such operation.
	ErrUnsupported = errors.New("operation not supported by this store")
	// ErrUnknownOutcome: the request may or may not have taken effect
	// (timeout, connection lost mid-request). Wrap it; never return it for a
	// failure that certainly left the store unchanged.
	ErrUnknownOutcome = errors.New("outcome unknown")
	// ErrInvalid: a store produced wrong output (Impl.Batch's check
	// failed): a caught bug, not a failure to run.
	ErrInvalid = errors.New("invalid output")
)

// IsUnknown reports whether err leaves the outcome of a request unknown.
// A context cancellation or deadline during a request is also unknown.
func IsUnknown(err error) bool {
	return errors.Is(err, ErrUnknownOutcome) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
