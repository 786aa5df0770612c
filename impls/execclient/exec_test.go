package execclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/madkvline"
	"github.com/kvbench/kvbench/impls/proc"
)

type step struct {
	req  impls.Request
	want impls.Response
}

func put(k, v string) impls.Request  { return impls.Request{Kind: impls.Put, Key: k, Value: v} }
func swap(k, v string) impls.Request { return impls.Request{Kind: impls.Swap, Key: k, Value: v} }
func get(k string) impls.Request     { return impls.Request{Kind: impls.Get, Key: k} }
func del(k string) impls.Request     { return impls.Request{Kind: impls.Delete, Key: k} }
func scan(a, b string) impls.Request { return impls.Request{Kind: impls.Scan, Key: a, End: b} }

var (
	present = impls.Response{Found: impls.Present}
	absent  = impls.Response{Found: impls.Absent}
)

func val(v string) impls.Response { return impls.Response{Found: impls.Present, Value: v} }

func run(t *testing.T, cl impls.Client, steps []step) {
	t.Helper()
	for i, s := range steps {
		got, err := cl.Do(context.Background(), s.req)
		if err != nil || !reflect.DeepEqual(got, s.want) {
			t.Fatalf("step %d %s: got %+.80v, %v; want %+.80v", i, madkvline.Describe(s.req), got, err, s.want)
		}
	}
}

// TestRoundTripAllKinds drives a fake client that answers every kind, with
// values of any non-whitespace bytes up to 1 MiB.
func TestRoundTripAllKinds(t *testing.T) {
	im, c := openExec(t, fakeCommand("store"), 1, 0)
	if im.Name != "exec" || im.MaxWindow != 1 || len(im.Kinds) != int(impls.NumKinds) {
		t.Errorf("Impl = %+v", im)
	}
	cl, err := c.NewClient(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x=_~\x7f", 1<<18) // 1.25 MiB
	run(t, cl, []step{
		{get("a"), absent},
		{put("a", "1"), absent},
		{put("a", "2"), present},
		{get("a"), val("2")},
		{swap("a", "3"), val("2")},
		{swap("b", big), absent},
		{get("b"), val(big)},
		{scan("a", "b"), impls.Response{Pairs: []impls.Pair{{Key: "a", Value: "3"}, {Key: "b", Value: big}}}},
		{scan("c", "z"), impls.Response{}},
		{del("a"), present},
		{del("a"), absent},
	})
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cl.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := cl.Do(context.Background(), get("a")); !errors.Is(err, ErrClosed) || impls.IsUnknown(err) {
		t.Errorf("Do after Close = %v, want definite ErrClosed", err)
	}
}

// TestKvbenchClientMemkv drives `kvbench client memkv` against a memkv
// server and checks it agrees with memkv's own semantics: PUT says whether
// the key existed (it runs as a swap), SCAN is unsupported.
func TestKvbenchClientMemkv(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kvbench")
	}
	addr := startMemkv(t)
	_, c := openExec(t, "kvbench client memkv "+addr, 2, 0)
	cl, err := c.NewClient(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("v", 1<<20) // memkv's default --max-value-size
	run(t, cl, []step{
		{get("k"), absent},
		{put("k", "1"), absent},
		{put("k", "2"), present},
		{swap("k", "3"), val("2")},
		{put("big", big), absent},
		{get("big"), val(big)},
		{del("k"), present},
		{del("k"), absent},
		{get("usertable_user6284781860667377211"), absent},
	})
	_, err = cl.Do(context.Background(), scan("a", "z"))
	var e *Error
	if !errors.Is(err, impls.ErrUnsupported) || !errors.As(err, &e) || e.Client != 0 || e.Pid == 0 {
		t.Errorf("SCAN = %v, want an *Error wrapping ErrUnsupported", err)
	}
	// The process kept serving after the ERROR line; a second client sees
	// the same store.
	cl2, err := c.NewClient(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	run(t, cl2, []step{{get("big"), val(big)}, {put("k", "x"), absent}})
	run(t, cl, []step{{get("k"), val("x")}})
}

// TestGarbageReply: a line that is no reply is an error naming the client,
// its pid, the request and the line; unknown for a write, definite for a
// read; the process is replaced and the next request works.
func TestGarbageReply(t *testing.T) {
	_, c := openExec(t, fakeCommand("store"), 1, 0)
	cl, err := c.NewClient(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		req     impls.Request
		unknown bool
	}{{get("garbage"), false}, {put("garbage", "v"), true}, {del("garbage"), true}, {scan("garbage", "z"), false}} {
		_, err := cl.Do(context.Background(), tt.req)
		var e *Error
		if !errors.As(err, &e) || e.Pid == 0 || !errors.Is(err, madkvline.ErrMalformed) {
			t.Fatalf("%v: %v, want an *Error wrapping ErrMalformed", tt.req, err)
		}
		msg := err.Error()
		for _, want := range []string{fmt.Sprintf("exec client 0 (pid %d)", e.Pid), madkvline.Describe(tt.req), `"hello there"`} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not contain %q", msg, want)
			}
		}
		if impls.IsUnknown(err) != tt.unknown {
			t.Errorf("%v: unknown outcome %v, want %v: %v", tt.req.Kind, impls.IsUnknown(err), tt.unknown, err)
		}
		run(t, cl, []step{{put("after", "1"), absent}}) // a fresh process (empty store)
	}
}

// TestClientExits: a client that exits mid-request leaves the outcome
// unknown, with its exit status and last stderr in the error; the next
// request runs on a new process.
func TestClientExits(t *testing.T) {
	_, c := openExec(t, fakeCommand("store"), 1, 0)
	cl, err := c.NewClient(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	run(t, cl, []step{{put("a", "1"), absent}})
	_, err = cl.Do(context.Background(), put("die", "x"))
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, impls.ErrUnknownOutcome) {
		t.Fatalf("PUT die = %v, want an unknown outcome", err)
	}
	for _, want := range []string{"exit status 3", "dying on purpose", `"PUT die x"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	first := e.Pid
	run(t, cl, []step{{get("a"), absent}}) // restarted: the fake's map is new
	_, err = cl.Do(context.Background(), get("half"))
	if !errors.As(err, &e) || e.Pid == first || !impls.IsUnknown(err) || !strings.Contains(err.Error(), `output ended inside this line: "GET half"`) {
		t.Errorf("GET half = %v, want an unknown outcome from a new pid naming the partial line", err)
	}
	run(t, cl, []step{{get("a"), absent}})
}

// TestClientHangs: no reply within the op timeout is an unknown outcome;
// the hung process is killed and the next request works.
func TestClientHangs(t *testing.T) {
	// An op timeout of a second: it also bounds the start of the process
	// that replaces the hung one, which the race detector slows.
	_, c := openExec(t, fakeCommand("store"), 1, time.Second)
	cl, err := c.NewClient(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Do(context.Background(), get("hang"))
	if !errors.Is(err, impls.ErrUnknownOutcome) || !strings.Contains(err.Error(), "no reply to \"GET hang\" within 1s") {
		t.Fatalf("GET hang = %v", err)
	}
	run(t, cl, []step{{put("a", "1"), absent}})

	// ctx ending mid-request is unknown too.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := cl.Do(ctx, get("hang")); !impls.IsUnknown(err) || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("GET hang under ctx = %v", err)
	}
	run(t, cl, []step{{get("a"), absent}})

	// A ctx that ended before the request is a definite failure: nothing
	// was sent, and the process stays.
	pid := cl.(*client).p.pid
	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	if _, err := cl.Do(done, put("a", "2")); err == nil || impls.IsUnknown(err) || !strings.Contains(err.Error(), "not sent") {
		t.Errorf("PUT under a cancelled ctx = %v, want a definite failure", err)
	}
	run(t, cl, []step{{get("a"), absent}})
	if cl.(*client).p.pid != pid {
		t.Error("a request that was not sent replaced the process")
	}
}

// TestCloseWithoutEcho: a client that never echoes STOP is killed after
// the grace period; Close twice is fine; the cluster's Close closes clients
// still open.
func TestCloseWithoutEcho(t *testing.T) {
	if testing.Short() {
		t.Skip("waits the 2 s STOP grace")
	}
	_, c := openExec(t, fakeCommand("nostop"), 2, 0)
	cl, err := c.NewClient(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	run(t, cl, []step{{put("a", "1"), absent}})
	p := cl.(*client).p
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if !p.exited() {
		t.Error("Close returned with the client still running")
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	cl2, err := c.NewClient(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	p2 := cl2.(*client).p
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !p2.exited() {
		t.Error("cluster Close left a client running")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NewClient(context.Background(), 0); !errors.Is(err, ErrClosed) {
		t.Errorf("NewClient after Close = %v", err)
	}
}

// TestServe: --serve commands become server nodes once they listen; one
// that exits first fails Open with its output.
func TestServe(t *testing.T) {
	_, c := openExec(t, fakeCommand("store"), 1, 0, impls.ServeCommand{Name: "srv", Command: fakeCommand("listen")})
	nodes := c.Nodes()
	if len(nodes) != 1 || nodes[0].Name != "srv" || nodes[0].Role != "server" || nodes[0].Proc.Pid() == 0 {
		t.Fatalf("Nodes = %+v", nodes)
	}
	socks, err := nodes[0].Proc.Sockets()
	if err != nil || len(socks) != 1 {
		t.Errorf("server sockets %v, %v", socks, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if nodes[0].Proc.Running() {
		t.Error("Close left the --serve process running")
	}

	_, _, err = Target().Open(context.Background(), impls.TargetEnv{Rest: fakeCommand("store"), Window: 1,
		Serve: []impls.ServeCommand{{Name: "bad", Command: fakeCommand("failbind")}}})
	if !errors.Is(err, proc.ErrExited) || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Open with a --serve that exits = %v", err)
	}
}

// TestListeningProbe: a process that does not listen is not ready, even
// when something else answers the port it would use.
func TestListeningProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // "something else" on a port
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p, err := proc.Start(context.Background(), proc.Spec{Name: "sleeper", Path: "/bin/sh",
		Args: []string{"-c", "exec " + fakeCommand("sleep")}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if err := listening(context.Background(), p); !errors.Is(err, errNotListening) {
		t.Errorf("probe of a process that does not listen = %v", err)
	}
}

// TestOpenChecks: an empty command and -w > 1 are refused.
func TestOpenChecks(t *testing.T) {
	for _, env := range []impls.TargetEnv{{Rest: "  ", Window: 1}, {Rest: "cat", Window: 2}} {
		if _, _, err := Target().Open(context.Background(), env); err == nil {
			t.Errorf("Open(%+v) succeeded", env)
		}
	}
}

// TestClientCommand: a first word "kvbench" runs the running binary.
func TestClientCommand(t *testing.T) {
	tests := []struct{ in, exe, want string }{
		{"kvbench client memkv 127.0.0.1:1", "/x/it's/kvbench", `'/x/it'\''s/kvbench' client memkv 127.0.0.1:1`},
		{"kvbench", "/k", "'/k'"},
		{"kvbenchx client", "/k", "kvbenchx client"},
		{"./client 127.0.0.1:3777", "/k", "./client 127.0.0.1:3777"},
		{"kvbench client memkv", "", "kvbench client memkv"},
	}
	for _, tt := range tests {
		if got := clientCommand(tt.in, tt.exe); got != tt.want {
			t.Errorf("clientCommand(%q, %q) = %q, want %q", tt.in, tt.exe, got, tt.want)
		}
	}
}

// TestUnrepresentableNotSent: a key with whitespace is refused before
// anything is written, definitely.
func TestUnrepresentableNotSent(t *testing.T) {
	_, c := openExec(t, fakeCommand("store"), 1, 0)
	cl, err := c.NewClient(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Do(context.Background(), put("a b", "1"))
	if !errors.Is(err, madkvline.ErrUnrepresentable) || impls.IsUnknown(err) {
		t.Errorf("PUT \"a b\" = %v", err)
	}
	run(t, cl, []step{{get("a"), absent}})
}

// TestKvbenchClientMemkvServerDown: while the server is down, `kvbench
// client memkv` keeps running and each request fails definitely; once the
// server is up, the same process serves.
func TestKvbenchClientMemkvServerDown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kvbench")
	}
	exe := kvbench(t)
	addr, err := proc.FreeTCPAddr()
	if err != nil {
		t.Fatal(err)
	}
	_, c := openExec(t, "kvbench client memkv "+addr, 1, 0)
	cl, err := c.NewClient(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Do(context.Background(), put("k", "1"))
	var e *Error
	if !errors.Is(err, madkvline.ErrFailed) || impls.IsUnknown(err) || !errors.As(err, &e) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("PUT with the server down = %v, want a definite failure", err)
	}
	pid := e.Pid
	p, err := proc.Start(context.Background(), proc.Spec{Name: "memkv", Path: exe,
		Args: []string{"serve", "memkv", "--addr", addr, "--data", ""}, Probe: proc.OwnedTCPReady(addr)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	run(t, cl, []step{{put("k", "1"), absent}, {get("k"), val("1")}})
	if now := cl.(*client).p.pid; now != pid {
		t.Errorf("the client process was replaced (pid %d, then %d)", pid, now)
	}
}

// TestCheckProgram: a client program that does not exist fails Open.
func TestCheckProgram(t *testing.T) {
	for _, tt := range []struct {
		command string
		ok      bool
	}{
		{"/bin/cat", true},
		{"cat -u", true},
		{"FOO=1 BAR=2 cat", true},
		{"env FOO=1 cat", true},
		{"./no-such-client 127.0.0.1:3777", false},
		{"FOO=1 no-such-client-anywhere", false},
		{"'unterminated", true}, // left to the shell
	} {
		if err := checkProgram(tt.command); (err == nil) != tt.ok {
			t.Errorf("checkProgram(%q) = %v", tt.command, err)
		}
	}
	if _, _, err := Target().Open(context.Background(), impls.TargetEnv{URL: "exec:./nope", Rest: "./nope", Window: 1}); err == nil ||
		!strings.Contains(err.Error(), "./nope") {
		t.Errorf("Open of a missing program = %v", err)
	}
}

// TestPrefixWriter: every line of a client's stderr is tagged, across
// writes that split lines.
func TestPrefixWriter(t *testing.T) {
	var b strings.Builder
	w := &prefixWriter{w: &b, prefix: "c1: "}
	for _, s := range []string{"one\ntw", "o\n", "\nthree"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatal(n, err)
		}
	}
	if want := "c1: one\nc1: two\nc1: \nc1: three"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
