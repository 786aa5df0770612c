package istkvs

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func waitFor(t *testing.T, b *syncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %q; have %q", s, b.String())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestClientLines runs `kvbench client istkvs ID FIFO` on the course's
// client test and checks every line it prints.
func TestClientLines(t *testing.T) {
	ts := startServer(t, nil)
	ts.job(t, "w", "WRITE [(a,anna)]\nREAD [a]\n", 1)
	id := fmt.Sprintf("kvbt%d", os.Getpid())
	in, feed := io.Pipe()
	out, errb := newSyncBuffer(), newSyncBuffer()
	done := make(chan error, 1)
	go func() { done <- clientMain(context.Background(), []string{id, ts.fifo}, in, out, errb) }()
	fmt.Fprint(feed, "# the course's client test, shortened\nSUBSCRIBE [a]\nSUBSCRIBE [NONE]\nBOGUS\nDELAY 200\n")
	waitFor(t, out, "Waiting...")
	ts.job(t, "u", "WRITE [(a,bruno)]\nDELETE [a]\nREAD [a]\n", 1)
	waitFor(t, out, "(a,DELETED)")
	fmt.Fprint(feed, "UNSUBSCRIBE [a]\nDISCONNECT\n")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := `Server returned 0 for operation: connect
Server returned 1 for operation: subscribe
Server returned 0 for operation: subscribe
Waiting...
(a,bruno)
(a,DELETED)
Server returned 0 for operation: unsubscribe
Server returned 0 for operation: disconnect
Disconnected from server
`
	if out.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}
	if errb.String() != InvalidMessage+"\n" {
		t.Errorf("stderr %q", errb.String())
	}
	for _, p := range PipePaths(id) {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
}

// TestClientExitsOnSIGUSR1AndEOF: the client returns when the server drops
// its session, and when its input ends.
func TestClientExitsOnServerCloseAndEOF(t *testing.T) {
	ts := startServer(t, nil)
	id := fmt.Sprintf("kvbu%d", os.Getpid())
	in, feed := io.Pipe()
	defer feed.Close()
	out := newSyncBuffer()
	done := make(chan error, 1)
	go func() { done <- clientMain(context.Background(), []string{id, ts.fifo}, in, out, io.Discard) }()
	waitFor(t, out, "connect")
	ts.s.DropSessions()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client still running after the server closed its pipes")
	}
	go func() {
		done <- clientMain(context.Background(), []string{id, ts.fifo}, strings.NewReader("SUBSCRIBE [x]\n"), io.Discard, io.Discard)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client still running after end of input")
	}
}
