package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/conformance"
	"github.com/kvbench/kvbench/impls/execclient"
	"github.com/kvbench/kvbench/impls/proc"
	"github.com/kvbench/kvbench/impls/registry"
)

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// execCase is one store driven through exec:'kvbench client NAME ARGS',
// its server started as --serve 'kvbench serve NAME ...', or (attach) by
// the store's own Start, the clients attaching to what it started.
type execCase struct {
	store string
	// serve is the server's arguments after `kvbench serve NAME`, for a
	// server at addr keeping its data in dir.
	serve func(addr, dir string) string
	// attach, instead of serve, is the client's arguments that reach a
	// server the store's Start started in dir (shm: the shared file; a
	// shm server listens on no socket, which --serve's readiness needs).
	attach func(dir string) string
	// clientFlags go between `kvbench client NAME` and the address.
	clientFlags  string
	foundUnknown []impls.Kind
	readFirst    []impls.Kind
	long         bool // only without -short
}

var execCases = []execCase{
	{store: "memkv", serve: func(addr, dir string) string {
		return "--addr " + addr + " --data " + shellQuote(filepath.Join(dir, "memkv-data"))
	}, readFirst: []impls.Kind{impls.Put, impls.Swap}}, // PUT runs as a gets/cas swap, so its reply says found or not_found
	{store: "memkv", clientFlags: "--put set", foundUnknown: []impls.Kind{impls.Put}, long: true, serve: func(addr, dir string) string {
		return "--addr " + addr + " --data " + shellQuote(filepath.Join(dir, "memkv-data"))
	}}, // one memcached set: "PUT k unknown"
	{store: "madkv", serve: func(addr, _ string) string { return "server " + addr }},
	{store: "shm", attach: func(dir string) string { return "--file " + shellQuote(filepath.Join(dir, "shmem_file")) },
		foundUnknown: []impls.Kind{impls.Put}}, // "PUT k unknown": the ring does not say
}

func (ec execCase) name() string {
	if ec.clientFlags == "" {
		return ec.store
	}
	return ec.store + " " + ec.clientFlags
}

// execTarget returns the URL and --serve command for one cluster.
func (ec execCase) execTarget(t *testing.T, dir string) (string, []impls.ServeCommand) {
	client := "kvbench client " + ec.store + " " + ec.clientFlags + " "
	if ec.attach != nil {
		return "exec:" + client + ec.attach(dir), nil
	}
	addr, err := proc.FreeTCPAddr()
	if err != nil {
		t.Fatal(err)
	}
	serve := shellQuote(kvbenchExe) + " serve " + ec.store + " " + ec.serve(addr, dir)
	return "exec:" + client + addr, []impls.ServeCommand{{Name: ec.store, Command: serve}}
}

// start returns how to start one cluster of ec and the exec: target's
// description.
func (ec execCase) start(t *testing.T, native *impls.Impl) (*impls.Impl, func(context.Context, impls.StartEnv) (impls.Cluster, error)) {
	im, start := targetStart(t, ec.execTarget)
	if ec.attach == nil {
		return im, start
	}
	return im, func(ctx context.Context, env impls.StartEnv) (impls.Cluster, error) {
		nenv := env
		nenv.Exe, nenv.Window = kvbenchExe, 1
		srv, err := native.Start(ctx, nenv)
		if err != nil {
			return nil, err
		}
		clients, err := start(ctx, env)
		if err != nil {
			srv.Close()
			return nil, err
		}
		return attached{clients, srv}, nil
	}
}

// attached is an exec: cluster whose clients attach to a server the
// store's own Start started: clients from the one, nodes from the other.
type attached struct {
	impls.Cluster               // the exec: target's: NewClient
	server        impls.Cluster // the store's: Nodes
}

func (a attached) Nodes() []impls.Node { return a.server.Nodes() }

func (a attached) Close() error { return errors.Join(a.Cluster.Close(), a.server.Close()) }

// execSubject is the suite's subject for ec: the exec: target's own
// description, except that the kinds are the store's (the client answers
// "ERROR unsupported" for the rest, which must be ErrUnsupported exactly
// as natively) and so are its claims (the server behind the pipe is the
// store's, so what it keeps across a crash is the same).
func execSubject(t *testing.T, ec execCase) conformance.Subject {
	native, err := registry.Lookup(ec.store)
	if err != nil {
		t.Fatal(err)
	}
	im, start := ec.start(t, native)
	for _, k := range native.Kinds {
		if !im.Supports(k) {
			t.Errorf("exec: lists %v, %s supports %v: the exec: target cannot drive all of it", im.Kinds, ec.store, k)
		}
	}
	desc := *im
	desc.Kinds, desc.Claims, desc.Canonical = native.Kinds, native.Claims, native.Canonical
	return conformance.Subject{Name: "exec:" + ec.name(), Impl: &desc, Start: start,
		FoundUnknown: ec.foundUnknown, ReadFirst: ec.readFirst, TokenValues: true}
}

// TestExec runs the suite through exec:'kvbench client NAME ADDR'.
func TestExec(t *testing.T) {
	if execclient.Target().Scheme != "exec" {
		t.Fatal("execclient.Target is not the exec: scheme")
	}
	for _, ec := range execCases {
		t.Run(ec.name(), func(t *testing.T) {
			if ec.long && testing.Short() {
				t.Skip("a second exec: client mode; not in -short")
			}
			conformance.Run(t, execSubject(t, ec))
		})
	}
}

// TestExecAgreesWithNative runs one seeded stream of requests through the
// store's own adapter and through exec:'kvbench client NAME', each against
// a fresh server, and compares the answers request by request: the same
// outcome, and the same Found, Value and Pairs wherever both paths know
// them (memkv's native PUT does not say Found; its client's does).
func TestExecAgreesWithNative(t *testing.T) {
	for _, ec := range execCases {
		t.Run(ec.name(), func(t *testing.T) {
			if ec.long && testing.Short() {
				t.Skip("a second exec: client mode; not in -short")
			}
			native, err := registry.Lookup(ec.store)
			if err != nil {
				t.Fatal(err)
			}
			_, execStart := ec.start(t, native)
			n := 300
			if testing.Short() {
				n = 100
			}
			reqs := requestStream(rand.New(rand.NewPCG(15, 5)), native, n)
			want := replay(t, native.Name, func(ctx context.Context, env impls.StartEnv) (impls.Cluster, error) {
				env.Exe = kvbenchExe
				return native.Start(ctx, env)
			}, reqs)
			got := replay(t, "exec:"+ec.name(), execStart, reqs)
			kinds := map[impls.Kind]int{}
			for i, r := range reqs {
				kinds[r.Kind]++
				if want[i].err != nil { // a fresh server answers every request of a kind it lists
					t.Errorf("request %d, %s: native %s", i, show(r), want[i])
				}
				if d := disagree(want[i], got[i]); d != "" {
					t.Errorf("request %d, %s: native %s, exec: %s: %s", i, show(r), want[i], got[i], d)
				}
			}
			t.Logf("%d requests (%v) answered alike", len(reqs), kinds)
		})
	}
}

// requestStream is n requests of the store's kinds over 6 keys, with
// token values.
func requestStream(r *rand.Rand, im *impls.Impl, n int) []impls.Request {
	reqs := make([]impls.Request, n)
	for i := range reqs {
		k := im.Kinds[r.IntN(len(im.Kinds))]
		key := fmt.Sprintf("agree/%d", r.IntN(6))
		switch k {
		case impls.Put, impls.Swap:
			reqs[i] = impls.Request{Kind: k, Key: key, Value: fmt.Sprintf("v%d_%d", i, r.IntN(1000))}
		case impls.Scan:
			lo, hi := r.IntN(6), r.IntN(6)
			reqs[i] = impls.Request{Kind: k, Key: fmt.Sprintf("agree/%d", min(lo, hi)), End: fmt.Sprintf("agree/%d", max(lo, hi))}
		default:
			reqs[i] = impls.Request{Kind: k, Key: key}
		}
	}
	return reqs
}

// answer is one request's outcome on one path.
type answer struct {
	res     impls.Response
	outcome string // success, definite failure, unknown outcome, unsupported
	err     error
}

func (a answer) String() string {
	if a.err != nil {
		return fmt.Sprintf("%s (%v)", a.outcome, a.err)
	}
	return fmt.Sprintf("%+v", a.res)
}

// replay starts a fresh cluster with start and runs reqs through one
// client, one at a time.
func replay(t *testing.T, name string, start func(context.Context, impls.StartEnv) (impls.Cluster, error), reqs []impls.Request) []answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := start(ctx, impls.StartEnv{Dir: t.TempDir(), Clients: 1, Window: 1})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer c.Close()
	cl, err := c.NewClient(ctx, 0)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer cl.Close()
	out := make([]answer, len(reqs))
	for i, r := range reqs {
		res, err := cl.Do(ctx, r)
		out[i] = answer{res: res, outcome: outcomeOf(err), err: err}
	}
	return out
}

// show renders a request for a failure message.
func show(r impls.Request) string {
	if r.Kind == impls.Scan {
		return fmt.Sprintf("%v [%q, %q]", r.Kind, r.Key, r.End)
	}
	return fmt.Sprintf("%v %q %q", r.Kind, r.Key, r.Value)
}

func outcomeOf(err error) string {
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

// disagree says how two answers to the same request differ, or "".
func disagree(a, b answer) string {
	if a.outcome != b.outcome {
		return "outcomes differ"
	}
	if a.err != nil {
		return ""
	}
	if a.res.Found != impls.Unknown && b.res.Found != impls.Unknown && a.res.Found != b.res.Found {
		return "Found differs"
	}
	if a.res.Value != b.res.Value {
		return "Value differs"
	}
	if len(a.res.Pairs) != len(b.res.Pairs) {
		return "Pairs differ"
	}
	for i := range a.res.Pairs {
		if a.res.Pairs[i] != b.res.Pairs[i] {
			return "Pairs differ"
		}
	}
	return ""
}
