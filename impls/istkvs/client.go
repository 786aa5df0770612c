package istkvs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Notification is one change a session was told of; Value is Deleted for a
// delete.
type Notification struct{ Key, Value string }

// Session is a client session with an IST-KVS server over named pipes.
// Requests are serialized; notifications arrive on Notifications until the
// server closes the session (disconnect, SIGUSR1) or the server dies.
type Session struct {
	paths            [3]string
	req, resp, notif *os.File
	mu               sync.Mutex // one request at a time
	notes            chan Notification
	readerDone       chan struct{} // closed when readNotifications has seen the pipe end
	closeOnce        sync.Once
}

// ErrClosed is returned by a session whose server closed its pipes.
var ErrClosed = errors.New("istkvs: the server closed the session")

// PipePaths returns the course's pipe paths for a client id:
// /tmp/req<id>, /tmp/resp<id>, /tmp/notif<id>.
func PipePaths(id string) [3]string {
	return [3]string{"/tmp/req" + id, "/tmp/resp" + id, "/tmp/notif" + id}
}

// Connect creates the three pipes (0600) at paths (request, response,
// notification), registers with the server at registerFifo and waits for
// its reply.
func Connect(ctx context.Context, registerFifo string, paths [3]string) (*Session, error) {
	for _, p := range paths {
		if len(p) > PipePathSize {
			return nil, fmt.Errorf("istkvs: pipe path %q longer than %d characters", p, PipePathSize)
		}
	}
	for _, p := range paths {
		os.Remove(p)
		if err := unix.Mkfifo(p, 0o600); err != nil {
			return nil, fmt.Errorf("istkvs: mkfifo %s: %w", p, err)
		}
	}
	s := &Session{paths: paths, notes: make(chan Notification, 64), readerDone: make(chan struct{})}
	var msg [ConnectSize]byte
	msg[0] = OpConnect
	for i, p := range paths {
		copy(msg[1+i*PipePathSize:], p)
	}
	reg, err := unix.Open(registerFifo, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		s.removePipes()
		return nil, fmt.Errorf("istkvs: register fifo %s (is the server running?): %w", registerFifo, err)
	}
	_, err = unix.Write(reg, msg[:])
	unix.Close(reg)
	if err != nil {
		s.removePipes()
		return nil, fmt.Errorf("istkvs: register: %w", err)
	}
	if s.req, err = openFifo(ctx, paths[0], unix.O_WRONLY); err == nil {
		if s.resp, err = openFifo(ctx, paths[1], unix.O_RDONLY); err == nil {
			s.notif, err = openFifo(ctx, paths[2], unix.O_RDONLY)
		}
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("istkvs: connect: %w", err)
	}
	// Until the server opens its write end, a read of the response pipe
	// sees EOF: poll for the reply.
	var r [2]byte
	got := 0
	deadline := time.Now().Add(openTimeout)
	for got < 2 {
		n, err := s.resp.Read(r[got:])
		got += n
		if err != nil && !errors.Is(err, io.EOF) {
			s.Close()
			return nil, fmt.Errorf("istkvs: connect: %w", err)
		}
		if n == 0 {
			if time.Now().After(deadline) || ctx.Err() != nil {
				s.Close()
				return nil, fmt.Errorf("istkvs: connect: %w", errNoPeer)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if r[0] != OpConnect || r[1] != 0 {
		s.Close()
		return nil, fmt.Errorf("istkvs: connect: server answered %d %d", r[0], r[1])
	}
	go s.readNotifications()
	return s, nil
}

func (s *Session) readNotifications() {
	defer close(s.readerDone)
	defer close(s.notes)
	var b [NotificationSize]byte
	for {
		if _, err := io.ReadFull(s.notif, b[:]); err != nil {
			return
		}
		s.notes <- Notification{Key: cString(b[:KeySize]), Value: cString(b[KeySize:])}
	}
}

// Notifications delivers notifications in the order the server sent them;
// it is closed when the server closes the session. The caller must drain it.
func (s *Session) Notifications() <-chan Notification { return s.notes }

// request sends op (with key for subscribe/unsubscribe) and returns the
// server's result byte.
func (s *Session) request(ctx context.Context, op byte, key string) (byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := []byte{op}
	if op == OpSubscribe || op == OpUnsubscribe {
		if len(key) > MaxString {
			return 0, fmt.Errorf("istkvs: key %q longer than %d characters", key, MaxString)
		}
		var k [KeySize]byte
		copy(k[:], key)
		msg = append(msg, k[:]...)
	}
	if d, ok := ctx.Deadline(); ok {
		s.req.SetWriteDeadline(d)
		s.resp.SetReadDeadline(d)
	}
	if _, err := s.req.Write(msg); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrClosed, err)
	}
	var r [2]byte
	if _, err := io.ReadFull(s.resp, r[:]); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrClosed, err)
	}
	if r[0] != op {
		return 0, fmt.Errorf("istkvs: reply to opcode %d has opcode %d", op, r[0])
	}
	return r[1], nil
}

// Subscribe asks for notifications of key: 1 if it exists (subscribed), 0 if not.
func (s *Session) Subscribe(ctx context.Context, key string) (byte, error) {
	return s.request(ctx, OpSubscribe, key)
}

// Unsubscribe drops the subscription to key: 0 if there was one, 1 if not.
func (s *Session) Unsubscribe(ctx context.Context, key string) (byte, error) {
	return s.request(ctx, OpUnsubscribe, key)
}

// Disconnect ends the session (the server answers 0) and closes it.
//
// The notifications the server sent before it answered are still in the
// pipe: Disconnect lets the reader drain them to the end of the pipe (the
// server closes its end) before it closes ours, so none is lost on this
// side; it waits at most disconnectDrain (or ctx).
func (s *Session) Disconnect(ctx context.Context) (byte, error) {
	r, err := s.request(ctx, OpDisconnect, "")
	if err == nil {
		select {
		case <-s.readerDone:
		case <-ctx.Done():
		case <-time.After(disconnectDrain):
		}
	}
	s.Close()
	return r, err
}

// disconnectDrain bounds Disconnect's wait for the notification pipe's end.
const disconnectDrain = 2 * time.Second

// Close closes the pipes and removes them.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		for _, f := range []*os.File{s.req, s.resp, s.notif} {
			if f != nil {
				f.Close()
			}
		}
		s.removePipes()
	})
	return nil
}

func (s *Session) removePipes() {
	for _, p := range s.paths {
		os.Remove(p)
	}
}

// clientMain is `kvbench client istkvs CLIENT_ID REGISTER_FIFO`: the
// course's client, reading SUBSCRIBE [k], UNSUBSCRIBE [k], DELAY <ms> and
// DISCONNECT lines from stdin and printing the course's lines.
func clientMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) != 2 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, `Usage: kvbench client istkvs CLIENT_ID REGISTER_FIFO < commands

Commands, one a line: SUBSCRIBE [key], UNSUBSCRIBE [key], DELAY <ms>, DISCONNECT.
Creates /tmp/req<id>, /tmp/resp<id>, /tmp/notif<id>.
Example: kvbench client istkvs c1 /tmp/register_fifo < client_tests.txt
`)
		if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return errors.New("istkvs client: want CLIENT_ID REGISTER_FIFO")
	}
	var outMu sync.Mutex
	println := func(format string, a ...any) {
		outMu.Lock()
		fmt.Fprintf(stdout, format+"\n", a...)
		outMu.Unlock()
	}
	s, err := Connect(ctx, args[1], PipePaths(args[0]))
	if err != nil {
		return err
	}
	defer s.Close()
	println("Server returned %d for operation: connect", 0)
	notesDone := make(chan struct{})
	go func() {
		defer close(notesDone)
		for n := range s.Notifications() {
			println("(%s,%s)", n.Key, n.Value)
		}
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-notesDone:
				return
			}
		}
	}()
	for {
		var line string
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case <-notesDone:
			return nil // the server closed the session
		case line, ok = <-lines:
		}
		if !ok {
			return nil // end of input
		}
		cmd, arg, _ := strings.Cut(line, " ")
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case line == "DISCONNECT":
			r, err := s.Disconnect(ctx)
			if err != nil {
				return err
			}
			println("Server returned %d for operation: disconnect", r)
			<-notesDone
			println("Disconnected from server")
			return nil
		case cmd == "DELAY" && isDigits(arg):
			ms, _ := strconv.ParseUint(arg, 10, 32)
			println("Waiting...")
			t := time.NewTimer(time.Duration(ms) * time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				return nil
			case <-notesDone:
				return nil
			}
		case (cmd == "SUBSCRIBE" || cmd == "UNSUBSCRIBE") && len(arg) > 2 && arg[0] == '[' && arg[len(arg)-1] == ']' &&
			len(arg) <= MaxString+2 && !strings.ContainsAny(arg[1:len(arg)-1], " ,()[]"):
			key := arg[1 : len(arg)-1]
			var r byte
			var err error
			name := "subscribe"
			if cmd == "SUBSCRIBE" {
				r, err = s.Subscribe(ctx, key)
			} else {
				name = "unsubscribe"
				r, err = s.Unsubscribe(ctx, key)
			}
			if err != nil {
				return nil // the server closed the session
			}
			println("Server returned %d for operation: %s", r, name)
		default:
			outMu.Lock()
			fmt.Fprintln(stderr, InvalidMessage)
			outMu.Unlock()
		}
	}
}

func isDigits(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
