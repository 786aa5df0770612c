package istkvs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The session protocol's opcodes (the first byte of every request and reply).
const (
	OpConnect     byte = 1
	OpDisconnect  byte = 2
	OpSubscribe   byte = 3
	OpUnsubscribe byte = 4
)

// Sizes of the protocol's fixed fields.
const (
	PipePathSize = 40 // a pipe path in the connect request, NUL-padded
	KeySize      = 41 // a key or value with its NUL
	// ConnectSize is the connect request: opcode and three pipe paths.
	ConnectSize = 1 + 3*PipePathSize
	// NotificationSize is one notification: key and value fields.
	NotificationSize = 2 * KeySize
	// MaxSubscriptions is how many keys one session may subscribe to.
	MaxSubscriptions = 10
)

// openTimeout bounds how long a manager waits for a client to open its end
// of a pipe: a client that registered and died must not hold a manager.
const openTimeout = 5 * time.Second

// sessions is the server's part 2: the host that reads the register fifo,
// the bounded buffer of connect requests, S managers, and the
// subscriptions that the table's writers notify.
type sessions struct {
	s *Server

	mu     sync.Mutex
	active map[*session]struct{}
	subs   map[string]map[*session]struct{} // key -> subscribed sessions
	nSubs  int                              // total subscriptions, for a lock-free "none" test
	notes  int                              // notifications attempted (for the lose-notification bug)
}

// session is one connected client.
type session struct {
	req, resp, notif *os.File
	keys             map[string]struct{}
	closeOnce        sync.Once
	dead             bool // guarded by sessions.mu: a notification write failed
}

func (se *session) close() {
	se.closeOnce.Do(func() {
		for _, f := range []*os.File{se.req, se.resp, se.notif} {
			if f != nil {
				f.Close()
			}
		}
	})
}

func newSessions(s *Server) *sessions {
	return &sessions{s: s, active: map[*session]struct{}{}, subs: map[string]map[*session]struct{}{}}
}

// notify is Table.onChange: under the table's write lock, it writes one
// notification to every session subscribed to key, in apply order. A
// client that does not take it within NotifyTimeout loses its session.
func (ss *sessions) notify(key, value string, deleted bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.nSubs == 0 {
		return
	}
	subs := ss.subs[key]
	if len(subs) == 0 {
		return
	}
	if deleted {
		value = Deleted
	}
	var msg [NotificationSize]byte
	copy(msg[:KeySize-1], key)
	copy(msg[KeySize:NotificationSize-1], value)
	for se := range subs {
		if se.dead {
			continue
		}
		ss.notes++
		if n := ss.s.cfg.bugs.loseNotification; n > 0 && ss.notes%n == 0 {
			continue
		}
		se.notif.SetWriteDeadline(time.Now().Add(ss.s.cfg.NotifyTimeout))
		if _, err := se.notif.Write(msg[:]); err != nil {
			se.dead = true
			se.close() // its manager ends the session
		}
	}
}

// subscribe registers key for se if the key exists (1), else answers 0.
// It holds the table's read lock, so no change slips between the test and
// the registration.
func (ss *sessions) subscribe(se *session, key string) byte {
	var r byte
	ss.s.table.withReadLock(func(has func(string) bool) {
		if !has(key) {
			return
		}
		ss.mu.Lock()
		defer ss.mu.Unlock()
		if _, ok := se.keys[key]; ok {
			r = 1
			return
		}
		if len(se.keys) >= MaxSubscriptions {
			return
		}
		se.keys[key] = struct{}{}
		m := ss.subs[key]
		if m == nil {
			m = map[*session]struct{}{}
			ss.subs[key] = m
		}
		m[se] = struct{}{}
		ss.nSubs++
		r = 1
	})
	return r
}

// unsubscribe removes se's subscription to key: 0 if there was one, else 1.
func (ss *sessions) unsubscribe(se *session, key string) byte {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if _, ok := se.keys[key]; !ok {
		return 1
	}
	ss.dropKeyLocked(se, key)
	return 0
}

func (ss *sessions) dropKeyLocked(se *session, key string) {
	delete(se.keys, key)
	if m := ss.subs[key]; m != nil {
		delete(m, se)
		if len(m) == 0 {
			delete(ss.subs, key)
		}
	}
	ss.nSubs--
}

// end removes se's subscriptions and closes its pipes.
func (ss *sessions) end(se *session) {
	ss.mu.Lock()
	for k := range se.keys {
		ss.dropKeyLocked(se, k)
	}
	delete(ss.active, se)
	ss.mu.Unlock()
	se.close()
}

// DropSessions is SIGUSR1: it removes every subscription and closes every
// client's pipes; the server goes on accepting sessions.
func (s *Server) DropSessions() {
	ss := s.sessions
	ss.mu.Lock()
	var all []*session
	for se := range ss.active {
		for k := range se.keys {
			ss.dropKeyLocked(se, k)
		}
		all = append(all, se)
	}
	ss.mu.Unlock()
	for _, se := range all {
		se.close()
	}
}

// host creates the register fifo (0600), reports on ready, then reads
// connect requests into a bounded buffer served by S managers, and handles
// SIGUSR1, until ctx ends.
func (ss *sessions) host(ctx context.Context, path string, ready chan<- error) error {
	os.Remove(path)
	if err := unix.Mkfifo(path, 0o600); err != nil {
		ready <- fmt.Errorf("istkvs: register fifo: %w", err)
		return nil
	}
	defer os.Remove(path)
	// O_RDWR: the host is also a writer, so it never reads EOF between
	// clients; O_NONBLOCK puts it in Go's poller, so ctx can interrupt it.
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		ready <- fmt.Errorf("istkvs: register fifo: %w", err)
		return nil
	}
	reg := os.NewFile(uintptr(fd), path)
	defer reg.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	defer signal.Stop(sig)
	ready <- nil
	buffer := make(chan [ConnectSize]byte, ss.s.cfg.Sessions)
	var managers sync.WaitGroup
	for range ss.s.cfg.Sessions {
		managers.Add(1)
		go func() {
			defer managers.Done()
			for req := range buffer {
				ss.serve(ctx, req)
			}
		}()
	}
	defer managers.Wait()
	defer close(buffer)
	stop := context.AfterFunc(ctx, func() { reg.SetReadDeadline(time.Now()) })
	defer stop()

	reqs := make(chan [ConnectSize]byte)
	readErr := make(chan error, 1)
	go func() {
		for {
			var req [ConnectSize]byte
			if _, err := io.ReadFull(reg, req[:1]); err != nil {
				readErr <- err
				return
			}
			if req[0] != OpConnect {
				ss.s.printf(ss.s.cfg.Stderr, "istkvs: register fifo: unexpected opcode %d\n", req[0])
				continue
			}
			if _, err := io.ReadFull(reg, req[1:]); err != nil {
				readErr <- err
				return
			}
			select {
			case reqs <- req:
			case <-ctx.Done():
				readErr <- nil
				return
			}
		}
	}()
	for {
		select {
		case <-sig:
			ss.s.DropSessions()
		case req := <-reqs:
			select {
			case buffer <- req: // waits while S sessions are served and the buffer is full
			case <-ctx.Done():
				return nil
			}
		case err := <-readErr:
			if ctx.Err() != nil || err == nil {
				return nil
			}
			return fmt.Errorf("istkvs: register fifo: %w", err)
		case <-ctx.Done():
			return nil
		}
	}
}

// cString returns b up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// serve runs one session from its connect request to its end.
func (ss *sessions) serve(ctx context.Context, req [ConnectSize]byte) {
	paths := [3]string{
		cString(req[1 : 1+PipePathSize]),
		cString(req[1+PipePathSize : 1+2*PipePathSize]),
		cString(req[1+2*PipePathSize:]),
	}
	se := &session{keys: map[string]struct{}{}}
	var err error
	if se.req, err = openFifo(ctx, paths[0], unix.O_RDONLY); err == nil {
		if se.resp, err = openFifo(ctx, paths[1], unix.O_WRONLY); err == nil {
			se.notif, err = openFifo(ctx, paths[2], unix.O_WRONLY)
		}
	}
	if err != nil {
		ss.s.printf(ss.s.cfg.Stderr, "istkvs: session %s: %v\n", paths[0], err)
		se.close()
		return
	}
	ss.mu.Lock()
	ss.active[se] = struct{}{}
	ss.mu.Unlock()
	defer ss.end(se)
	stop := context.AfterFunc(ctx, se.close)
	defer stop()
	if reply(se, OpConnect, 0) != nil {
		return
	}
	for {
		var op [1]byte
		if _, err := io.ReadFull(se.req, op[:]); err != nil {
			return // EOF: the client went away; or its pipes were closed
		}
		switch op[0] {
		case OpDisconnect:
			reply(se, OpDisconnect, 0)
			return
		case OpSubscribe, OpUnsubscribe:
			var key [KeySize]byte
			if _, err := io.ReadFull(se.req, key[:]); err != nil {
				return
			}
			k := cString(key[:])
			var r byte
			if op[0] == OpSubscribe {
				r = ss.subscribe(se, k)
			} else {
				r = ss.unsubscribe(se, k)
			}
			if reply(se, op[0], r) != nil {
				return
			}
		default:
			ss.s.printf(ss.s.cfg.Stderr, "istkvs: session %s: unknown opcode %d\n", paths[0], op[0])
			return
		}
	}
}

// reply writes the two raw bytes opcode, result on the response pipe.
func reply(se *session, op, result byte) error {
	se.resp.SetWriteDeadline(time.Now().Add(openTimeout))
	_, err := se.resp.Write([]byte{op, result})
	return err
}

// errNoPeer: the other side never opened its end of a pipe.
var errNoPeer = errors.New("the other side did not open the pipe")

// openFifo opens a fifo without blocking a thread: O_NONBLOCK, retried
// while a write open finds no reader (ENXIO), until openTimeout or ctx.
// The file is in Go's poller, so deadlines and Close interrupt its I/O.
func openFifo(ctx context.Context, path string, mode int) (*os.File, error) {
	deadline := time.Now().Add(openTimeout)
	for {
		fd, err := unix.Open(path, mode|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			return os.NewFile(uintptr(fd), path), nil
		}
		if !errors.Is(err, unix.ENXIO) && !errors.Is(err, unix.EINTR) {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("open %s: %w", path, errNoPeer)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}
