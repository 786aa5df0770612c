package istkvs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kvbench/kvbench/internal/kvbenchtest"
	"golang.org/x/sys/unix"
)

var pipeSeq atomic.Int32

// testPipes returns fresh pipe paths under /tmp, short enough for the protocol.
func testPipes() [3]string {
	b := fmt.Sprintf("/tmp/ist%dt%d", os.Getpid(), pipeSeq.Add(1))
	return [3]string{b + "q", b + "r", b + "n"}
}

type testServer struct {
	s      *Server
	dir    string
	fifo   string
	cancel context.CancelFunc
	done   chan error
	stderr *syncBuffer
}

type syncBuffer = kvbenchtest.Buffer

func newSyncBuffer() *syncBuffer { return &syncBuffer{} }

// startServer runs a part-2 server in this process on a fresh directory.
func startServer(t *testing.T, mod func(*Config)) *testServer {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{Dir: dir, Threads: 4, Backups: 2, RegisterFifo: filepath.Join(dir, "reg"), Sessions: 8,
		NotifyTimeout: 200 * time.Millisecond}
	ts := &testServer{dir: dir, fifo: cfg.RegisterFifo, done: make(chan error, 1), stderr: newSyncBuffer()}
	cfg.Stderr = ts.stderr
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.s = s
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel = cancel
	go func() { ts.done <- s.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for FifoReady(cfg.RegisterFifo)(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("server not ready")
		}
		time.Sleep(time.Millisecond)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-ts.done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return ts
}

// job drops a job file into the server's directory (written aside, renamed
// in) and waits for its .out to hold want bytes.
func (ts *testServer) job(t *testing.T, name, content string, wantOut int) string {
	t.Helper()
	tmp := filepath.Join(ts.dir, "."+name+".tmp")
	os.WriteFile(tmp, []byte(content), 0o600)
	os.Rename(tmp, filepath.Join(ts.dir, name+".job"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(ts.dir, name+".out"))
		if err == nil && len(b) >= wantOut {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: no output (%q, %v)", name, b, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func mkfifos(t *testing.T, paths [3]string) {
	t.Helper()
	for _, p := range paths {
		os.Remove(p)
		if err := unix.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(p) })
	}
}

// TestProtocolBytes speaks the protocol with raw bytes and blocking opens,
// as the course's C client does, and checks every byte the server sends.
func TestProtocolBytes(t *testing.T) {
	ts := startServer(t, nil)
	if st, err := os.Stat(ts.fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("register fifo: %v %v", st.Mode(), err)
	}
	ts.job(t, "w", "WRITE [(a,1)(b,2)]\nREAD [a]\n", 1)
	paths := testPipes()
	mkfifos(t, paths)
	var msg [ConnectSize]byte
	msg[0] = 1
	for i, p := range paths {
		copy(msg[1+40*i:], p)
	}
	reg, err := os.OpenFile(ts.fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	reg.Write(msg[:])
	reg.Close()
	req, err := os.OpenFile(paths[0], os.O_WRONLY, 0) // blocks until the server opens it
	if err != nil {
		t.Fatal(err)
	}
	defer req.Close()
	resp, _ := os.OpenFile(paths[1], os.O_RDONLY, 0)
	defer resp.Close()
	notif, _ := os.OpenFile(paths[2], os.O_RDONLY, 0)
	defer notif.Close()
	expect := func(want ...byte) {
		t.Helper()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(resp, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("response %v, %v; want %v", got, err, want)
		}
	}
	key := func(op byte, k string) []byte {
		b := make([]byte, 1+KeySize)
		b[0] = op
		copy(b[1:], k)
		return b
	}
	expect(1, 0)
	req.Write(key(3, "a"))
	expect(3, 1) // exists: subscribed
	req.Write(key(3, "zz"))
	expect(3, 0) // missing
	req.Write(key(4, "zz"))
	expect(4, 1) // no such subscription
	req.Write(key(3, "b"))
	expect(3, 1)
	ts.job(t, "w2", "WRITE [(a,x)(c,3)(a,y)]\nDELETE [b]\nREAD [c]\n", 1)
	wantNote := func(k, v string) []byte {
		b := make([]byte, NotificationSize)
		copy(b, k)
		copy(b[KeySize:], v)
		return b
	}
	want := append(wantNote("a", "y"), wantNote("b", "DELETED")...)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(notif, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("notifications\n%q\nwant\n%q", got, want)
	}
	req.Write(key(4, "a"))
	expect(4, 0)
	req.Write([]byte{2})
	expect(2, 0)
	if n, err := notif.Read(got); n != 0 || err != io.EOF {
		t.Errorf("notification pipe after disconnect: %d %v, want EOF", n, err)
	}
}

// TestClientDiesMidSession: a client that vanishes (its pipes closed with
// subscriptions held, or that registered and never opened its pipes) ends
// only its own session; writes and other sessions go on.
func TestClientDiesMidSession(t *testing.T) {
	ts := startServer(t, nil)
	ts.job(t, "w", "WRITE [(a,1)]\nREAD [a]\n", 1)
	ctx := context.Background()
	dead, err := Connect(ctx, ts.fifo, testPipes())
	if err != nil {
		t.Fatal(err)
	}
	if r, err := dead.Subscribe(ctx, "a"); r != 1 || err != nil {
		t.Fatal(r, err)
	}
	dead.Close() // dies: every pipe closed, nothing sent
	// One that registers and never opens its pipes.
	ghost := testPipes()
	mkfifos(t, ghost)
	var msg [ConnectSize]byte
	msg[0] = 1
	for i, p := range ghost {
		copy(msg[1+40*i:], p)
	}
	fd, _ := unix.Open(ts.fifo, unix.O_WRONLY, 0)
	unix.Write(fd, msg[:])
	unix.Close(fd)

	alive, err := Connect(ctx, ts.fifo, testPipes())
	if err != nil {
		t.Fatal(err)
	}
	defer alive.Close()
	if r, err := alive.Subscribe(ctx, "a"); r != 1 || err != nil {
		t.Fatal(r, err)
	}
	for i := range 50 { // more than a pipe of notifications to the dead one would hold if it were not dropped
		ts.job(t, fmt.Sprint("x", i), "WRITE [(a,v"+fmt.Sprint(i)+")]\nREAD [a]\n", 1)
	}
	for i := range 50 {
		n := <-alive.Notifications()
		if n != (Notification{"a", fmt.Sprint("v", i)}) {
			t.Fatalf("notification %d = %v", i, n)
		}
	}
	if r, err := alive.Disconnect(ctx); r != 0 || err != nil {
		t.Fatal(r, err)
	}
}

// TestSIGUSR1 drops every open session and subscription; the server keeps
// running jobs and accepts new sessions.
func TestSIGUSR1(t *testing.T) {
	ts := startServer(t, nil)
	ts.job(t, "w", "WRITE [(a,1)]\nREAD [a]\n", 1)
	ctx := context.Background()
	var ss []*Session
	for range 3 {
		s, err := Connect(ctx, ts.fifo, testPipes())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if r, _ := s.Subscribe(ctx, "a"); r != 1 {
			t.Fatal("subscribe")
		}
		ss = append(ss, s)
	}
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	for i, s := range ss {
		select {
		case n, ok := <-s.Notifications():
			if ok {
				t.Fatalf("session %d: notification %v after SIGUSR1", i, n)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("session %d still open after SIGUSR1", i)
		}
		if _, err := s.Subscribe(ctx, "a"); err == nil {
			t.Errorf("session %d still answers", i)
		}
	}
	ts.s.sessions.mu.Lock()
	left := ts.s.sessions.nSubs
	ts.s.sessions.mu.Unlock()
	if left != 0 {
		t.Errorf("%d subscriptions left", left)
	}
	if out := ts.job(t, "w2", "WRITE [(a,2)]\nREAD [a]\n", 1); out != "[(a,2)]\n" {
		t.Errorf("after SIGUSR1: %q", out)
	}
	s, err := Connect(ctx, ts.fifo, testPipes())
	if err != nil {
		t.Fatal("new session after SIGUSR1:", err)
	}
	if r, _ := s.Subscribe(ctx, "a"); r != 1 {
		t.Error("subscribe after SIGUSR1")
	}
	s.Disconnect(ctx)
}

// TestEightSessions: S=8 sessions at once, each subscribed to its own key
// and a shared one, each told exactly its changes in apply order; a ninth
// waits in the buffer until one ends; the subscription limit is 10.
func TestEightSessions(t *testing.T) {
	ts := startServer(t, nil)
	var w strings.Builder
	w.WriteString("WRITE [(shared,0)")
	for i := range 12 {
		fmt.Fprintf(&w, "(k%d,0)", i)
	}
	w.WriteString("]\nREAD [shared]\n")
	ts.job(t, "init", w.String(), 1)
	ctx := context.Background()
	var ss []*Session
	for i := range 8 {
		s, err := Connect(ctx, ts.fifo, testPipes())
		if err != nil {
			t.Fatal(i, err)
		}
		defer s.Close()
		for _, k := range []string{"shared", fmt.Sprint("k", i)} {
			if r, err := s.Subscribe(ctx, k); r != 1 || err != nil {
				t.Fatal(r, err)
			}
		}
		ss = append(ss, s)
	}
	ninth := make(chan *Session, 1)
	go func() {
		s, err := Connect(ctx, ts.fifo, testPipes())
		if err != nil {
			t.Error("ninth:", err)
		}
		ninth <- s
	}()
	var jobs strings.Builder
	for n := 1; n <= 20; n++ {
		fmt.Fprintf(&jobs, "WRITE [(shared,%d)(k%d,%d)]\n", n, n%8, n)
	}
	jobs.WriteString("READ [shared]\n")
	ts.job(t, "updates", jobs.String(), 1)
	for i, s := range ss {
		var got []string
		for n := 1; n <= 20; n++ {
			got = append(got, fmt.Sprintf("(shared,%d)", n))
			if n%8 == i {
				got = append(got, fmt.Sprintf("(k%d,%d)", i, n))
			}
		}
		for j := range got {
			n := <-s.Notifications()
			if f := fmt.Sprintf("(%s,%s)", n.Key, n.Value); f != got[j] {
				t.Fatalf("session %d notification %d: %s, want %s", i, j, f, got[j])
			}
		}
	}
	select {
	case <-ninth:
		t.Fatal("a ninth session was served while 8 were open")
	case <-time.After(50 * time.Millisecond):
	}
	// The subscription limit.
	s0 := ss[0]
	for k := 2; k < 10; k++ {
		if r, _ := s0.Subscribe(ctx, fmt.Sprint("k", k)); r != 1 {
			t.Fatalf("subscription %d refused", k)
		}
	}
	if r, _ := s0.Subscribe(ctx, "k11"); r != 0 {
		t.Error("an 11th subscription was accepted")
	}
	ss[7].Disconnect(ctx)
	select {
	case s := <-ninth:
		if s != nil {
			s.Disconnect(ctx)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the ninth session was not served after one ended")
	}
}

// TestWatchWrittenInPlace: a job written in place (`echo ... > x.job`)
// runs once, after it is complete; rewriting it runs it again.
func TestWatchWrittenInPlace(t *testing.T) {
	ts := startServer(t, nil)
	path := filepath.Join(ts.dir, "update.job")
	f, _ := os.Create(path)
	f.WriteString("WRITE [(k,1)]\n")
	time.Sleep(20 * time.Millisecond) // a slow writer: not closed yet
	f.WriteString("READ [k]\n")
	f.Close()
	out := filepath.Join(ts.dir, "update.out")
	waitFile := func(want string) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			if b, _ := os.ReadFile(out); string(b) == want {
				return
			}
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(out)
				t.Fatalf("update.out = %q, want %q", b, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFile("[(k,1)]\n")
	os.WriteFile(path, []byte("WRITE [(k,2)]\nREAD [k]\n"), 0o600)
	waitFile("[(k,2)]\n")
}
