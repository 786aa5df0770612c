package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/proc"
)

// Subject is one store, or one target kind, under test.
type Subject struct {
	// Name labels failures ("memkv", "memcached", "exec:memkv").
	Name string
	// Impl describes what the store supports: Kinds, MaxWindow, Canonical
	// and Claims are read; Start and Serve are not (see Start).
	Impl *impls.Impl
	// Start starts a fresh cluster. Run fills env.Dir (a private temp
	// directory removed after the cluster's Close), env.Exe and env.Flags
	// from the Subject, env.Clients, env.Window and env.Log. Every case
	// that crashes a server starts its own cluster.
	Start func(ctx context.Context, env impls.StartEnv) (impls.Cluster, error)
	// Exe is the kvbench binary passed as StartEnv.Exe.
	Exe string
	// Flags are the server flags passed as StartEnv.Flags; Impl.Claims
	// judges durability under them.
	Flags []string
	// FoundUnknown lists the kinds whose response's Found the protocol
	// does not reveal (memcached's set: Put). For them the suite expects
	// Found == impls.Unknown exactly; for every other supported kind it
	// expects Present or Absent, whichever is true. Get, Swap and Scan
	// cannot be listed: a read that does not say what it read is no read.
	FoundUnknown []impls.Kind
	// TokenValues says values and keys travel as whitespace-free tokens
	// (MadKV's line protocol): the suite then writes no empty value and no
	// value with whitespace, and none that is literally "null".
	TokenValues bool
	// MaxValueSize is the largest value the suite writes; 0 means 256 KiB.
	MaxValueSize int
	// NoNUL says the store refuses values with a NUL byte (dkvs's C
	// strings): the suite writes none.
	NoNUL bool
	// ReadFirst lists the kinds whose client reads before it writes
	// (memkv's `kvbench client` runs PUT as a gets/cas swap). When the
	// crash hits such a request's read step, the write was never sent and
	// a definite failure is the truth; the kill-in-flight case then
	// accepts one, and checks after the restart that the write indeed did
	// not happen. Every other kind must report an unknown outcome.
	ReadFirst []impls.Kind
	// Datagram says requests travel as datagrams (dkvs over UDP): no
	// connection tells a client that its servers are gone, and a write sent
	// while they are down may have been applied by one whose answer was
	// lost, so the after-crash case accepts an unknown outcome for it.
	// Connection-based stores must answer or fail definitely instead.
	Datagram bool
}

// Case names, in the order Run runs them; each is one subtest of Run's t.
const (
	CaseGetAfterPut      = "get-after-put"             // a put reads back, from this client and another; an overwrite too
	CaseGetAbsent        = "get-absent"                // a key never written is Absent with no value
	CaseFound            = "found"                     // PUT and DELETE say Present/Absent where the protocol reveals it, else Unknown
	CaseSwap             = "swap"                      // SWAP returns the previous value, Absent when none (also after a delete)
	CaseDelete           = "delete"                    // a deleted key reads Absent, its neighbours stay
	CaseScan             = "scan"                      // both ends inclusive, sorted, keys just outside and deleted keys excluded
	CaseUnsupported      = "unsupported"               // ErrUnsupported (a definite failure) exactly for the kinds not listed
	CaseValues           = "values"                    // every value shape the store accepts reads back exactly (canonical form)
	CaseKeys             = "keys"                      // keys of several shapes each hold their own value
	CaseWindow           = "window"                    // MaxWindow (at most 8) concurrent Do on one client, each answer its own
	CaseClose            = "close-twice"               // Close twice does not panic; Do after Close fails definitely
	CaseKillInFlight     = "kill-in-flight"            // a PUT to a paused server that is killed: unknown outcome
	CaseAfterCrash       = "after-crash"               // a request sent after the crash: success or definite failure
	CaseRestart          = "restart"                   // the restarted store answers; a durable one kept every acknowledged write
	CaseIdleAfterRestart = "idle-client-after-restart" // a client idle across a restart succeeds at once
)

const (
	clients             = 4 // StartEnv.Clients of every cluster the suite starts
	maxSuiteWindow      = 8 // the window the suite uses when MaxWindow allows more
	opTimeout           = 10 * time.Second
	defaultMaxValueSize = 256 << 10
	// inFlightTimeout bounds a request sent to a paused server that is
	// then killed; a ctx that expires first leaves it just as unknown.
	inFlightTimeout = time.Second
)

// Run applies every case to s, each as a subtest of t. Cases that need no
// fault share one cluster (each uses its own keys); every fault case starts
// its own.
func Run(t *testing.T, s Subject) {
	t.Helper()
	if s.Impl == nil || s.Start == nil {
		t.Fatalf("conformance: subject %q needs Impl and Start", s.Name)
	}
	for _, k := range s.FoundUnknown {
		if k == impls.Get || k == impls.Swap || k == impls.Scan {
			t.Fatalf("conformance: subject %q: FoundUnknown may not list %v", s.Name, k)
		}
	}
	h := &harness{s: s}
	if c := s.Impl.Claims; c != nil {
		t.Logf("%s: durable across a crash: %v (%s)", s.Name, h.durable(), c(s.Flags, impls.Faults{Crash: true}).Why)
	} else {
		t.Logf("%s: claims nothing, so the restart cases expect answers but no surviving data", s.Name)
	}
	shared := h.start(t, h.window()) // closed at t's cleanup, after every subtest
	for _, c := range []struct {
		name string
		run  func(t *testing.T, h *harness, c impls.Cluster)
	}{
		{CaseGetAfterPut, caseGetAfterPut},
		{CaseGetAbsent, caseGetAbsent},
		{CaseFound, caseFound},
		{CaseSwap, caseSwap},
		{CaseDelete, caseDelete},
		{CaseScan, caseScan},
		{CaseUnsupported, caseUnsupported},
		{CaseValues, caseValues},
		{CaseKeys, caseKeys},
		{CaseWindow, caseWindow},
		{CaseClose, caseClose},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, h, shared) })
	}
	for _, c := range []struct {
		name string
		run  func(t *testing.T, h *harness)
	}{
		{CaseKillInFlight, caseKillInFlight},
		{CaseAfterCrash, caseAfterCrash},
		{CaseRestart, caseRestart},
		{CaseIdleAfterRestart, caseIdleAfterRestart},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, h) })
	}
}

// harness holds the subject and the helpers every case uses.
type harness struct {
	s Subject
}

// window is the Window the suite's clusters use: the store's MaxWindow,
// capped at maxSuiteWindow.
func (h *harness) window() int {
	return max(1, min(h.s.Impl.MaxWindow, maxSuiteWindow))
}

// durable reports whether the store's claims say a crash loses nothing
// acknowledged (linearizable with crashes under the subject's flags).
func (h *harness) durable() bool {
	c := h.s.Impl.Claims
	return c != nil && c(h.s.Flags, impls.Faults{Crash: true}).Linearizable
}

// start starts a fresh cluster with the given window, closed at cleanup
// (before its directory is removed). Its servers' output is shown when the
// test fails.
func (h *harness) start(t *testing.T, window int) impls.Cluster {
	t.Helper()
	dir := t.TempDir()
	log := proc.NewTail(4096) // the last few KiB of every server's output
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := h.s.Start(ctx, impls.StartEnv{Exe: h.s.Exe, Dir: dir, Clients: clients, Window: window,
		Flags: h.s.Flags, Log: log})
	if err != nil {
		t.Fatalf("%s: start: %v\nserver output:\n%s", h.s.Name, err, log.String())
	}
	t.Cleanup(func() {
		_ = c.Close()
		if t.Failed() {
			t.Logf("%s server output:\n%s", h.s.Name, log.String())
		}
	})
	return c
}

// client opens client id of c, closed at cleanup.
func (h *harness) client(t *testing.T, c impls.Cluster, id int) impls.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	cl, err := c.NewClient(ctx, id)
	if err != nil {
		t.Fatalf("%s: client %d: %v", h.s.Name, id, err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// val is the value to write for v: Impl.Canonical(v) when the store
// stores a canonical form, so that what is written is what reads back.
func (h *harness) val(v string) string {
	if h.s.Impl.Canonical != nil {
		return h.s.Impl.Canonical(v)
	}
	return v
}

// readsFirst reports whether k is listed in Subject.ReadFirst.
func (h *harness) readsFirst(k impls.Kind) bool {
	for _, x := range h.s.ReadFirst {
		if x == k {
			return true
		}
	}
	return false
}

// found is what a response of kind k must say when the truth is f.
func (h *harness) found(k impls.Kind, f impls.Found) impls.Found {
	for _, u := range h.s.FoundUnknown {
		if u == k {
			return impls.Unknown
		}
	}
	return f
}

// try runs one request with the suite's timeout.
func try(cl impls.Client, req impls.Request) (impls.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	return cl.Do(ctx, req)
}

// do runs one request that must succeed.
func (h *harness) do(t *testing.T, cl impls.Client, req impls.Request) impls.Response {
	t.Helper()
	res, err := try(cl, req)
	if err != nil {
		t.Fatalf("%s: %s: %v", h.s.Name, show(req), err)
	}
	return res
}

// expect runs req and compares the whole response with want.
func (h *harness) expect(t *testing.T, cl impls.Client, req impls.Request, want impls.Response) {
	t.Helper()
	got := h.do(t, cl, req)
	if !sameResponse(got, want) {
		t.Errorf("%s: %s\n got  %s\n want %s", h.s.Name, show(req), showResponse(got), showResponse(want))
	}
}

// put writes key=value and checks the response's Found against before
// (whether the key existed before the write).
func (h *harness) put(t *testing.T, cl impls.Client, key, value string, before impls.Found) {
	t.Helper()
	h.expect(t, cl, impls.Request{Kind: impls.Put, Key: key, Value: value},
		impls.Response{Found: h.found(impls.Put, before)})
}

// get reads key and expects value (present) or, with absent, nothing.
func (h *harness) get(t *testing.T, cl impls.Client, key, value string, found impls.Found) {
	t.Helper()
	want := impls.Response{Found: found}
	if found == impls.Present {
		want.Value = value
	}
	h.expect(t, cl, impls.Request{Kind: impls.Get, Key: key}, want)
}

// sameResponse compares two responses; a nil and an empty Pairs are equal.
func sameResponse(a, b impls.Response) bool {
	if a.Found != b.Found || a.Value != b.Value || len(a.Pairs) != len(b.Pairs) {
		return false
	}
	for i := range a.Pairs {
		if a.Pairs[i] != b.Pairs[i] {
			return false
		}
	}
	return true
}

// show renders a request with long values shortened.
func show(r impls.Request) string {
	switch r.Kind {
	case impls.Put, impls.Swap:
		return fmt.Sprintf("%v %q %s", r.Kind, r.Key, short(r.Value))
	case impls.Scan:
		return fmt.Sprintf("%v [%q, %q]", r.Kind, r.Key, r.End)
	default:
		return fmt.Sprintf("%v %q", r.Kind, r.Key)
	}
}

func showResponse(r impls.Response) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{Found: %s, Value: %s", foundName(r.Found), short(r.Value))
	if len(r.Pairs) > 0 {
		b.WriteString(", Pairs: [")
		for i, p := range r.Pairs {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%q=%s", p.Key, short(p.Value))
		}
		b.WriteString("]")
	}
	b.WriteString("}")
	return b.String()
}

func foundName(f impls.Found) string {
	switch f {
	case impls.Present:
		return "Present"
	case impls.Absent:
		return "Absent"
	case impls.Unknown:
		return "Unknown"
	}
	return fmt.Sprintf("Found(%d)", f)
}

func short(v string) string {
	if len(v) <= 40 {
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%q...(%d bytes)", v[:32], len(v))
}

// outcome classifies an error the way the checker does.
func outcome(err error) string {
	switch {
	case err == nil:
		return "success"
	case impls.IsUnknown(err):
		return "unknown outcome"
	case errors.Is(err, impls.ErrUnsupported):
		return "unsupported"
	default:
		return "definite failure"
	}
}
