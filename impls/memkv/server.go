package memkv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Version is what `version` and `stats` report: the memcached protocol
// level memkv implements, tagged so tools can tell it from memcached.
const Version = "1.6.18-memkv"

// Config configures a Server. The zero value of a field means its default.
type Config struct {
	// DataDir holds the log and snapshots; "" keeps everything in memory
	// (nothing survives a restart).
	DataDir string
	// Fsync is the log's sync policy (default FsyncAlways).
	Fsync FsyncMode
	// MaxValueSize is the largest value accepted (default 1 MiB, at most
	// MaxValueSizeLimit).
	MaxValueSize int
	// MaxItems and MaxBytes bound the store with LRU eviction (0: no bound).
	MaxItems int64
	MaxBytes int64
	// CompactBytes is the log size that triggers a snapshot (default 64 MiB).
	CompactBytes int64
	// Shards is the number of lock domains (default 256, rounded up to a
	// power of two, at most MaxShards).
	Shards int
	// MaxConns is how many connections are served at once (default 1024,
	// memcached's -c); a connection beyond it is answered "ERROR Too many
	// open connections" and closed.
	MaxConns int
	// MaxInflightBytes bounds the memory held by requests being received
	// (value buffers and long multi-get lines) across all connections
	// (default 64 MiB). A value that would exceed it is refused with
	// SERVER_ERROR out of memory storing object and its data skipped.
	MaxInflightBytes int64
	// Loop is how connections are served: memkv's epoll event loops (the
	// default) or a goroutine each.
	Loop LoopMode
	// Loops is the number of event loops (default GOMAXPROCS).
	Loops int
	// Log receives recovery and failure messages; nil discards them.
	Log io.Writer

	// openFile opens log and snapshot files (default os.OpenFile); tests
	// inject faults through it.
	openFile openFileFunc
}

// Upper bounds of the size settings: larger values are refused with an
// error instead of exhausting memory.
const (
	MaxShards           = 1 << 16
	MaxValueSizeLimit   = 1 << 30
	MaxConnsLimit       = 1 << 20
	MaxCompactBytes     = 1 << 40
	MaxInflightLimit    = 1 << 40
	minInflightBytes    = 64 << 10
	defaultInflight     = 64 << 20
	defaultMaxConns     = 1024
	defaultMaxValueSize = 1 << 20
)

// ErrConfig is wrapped by NewServer's errors about out-of-range settings.
var ErrConfig = errors.New("memkv: bad configuration")

func (cfg *Config) withDefaults() Config {
	c := *cfg
	if c.MaxValueSize <= 0 {
		c.MaxValueSize = defaultMaxValueSize
	}
	if c.CompactBytes <= 0 {
		c.CompactBytes = 64 << 20
	}
	if c.Shards <= 0 {
		c.Shards = 256
	}
	if c.MaxConns <= 0 {
		c.MaxConns = defaultMaxConns
	}
	if c.MaxInflightBytes <= 0 {
		c.MaxInflightBytes = defaultInflight
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.openFile == nil {
		c.openFile = osOpenFile
	}
	return c
}

// check reports a setting beyond its upper bound.
func (cfg *Config) check() error {
	switch {
	case cfg.Shards > MaxShards:
		return fmt.Errorf("%w: %d shards (at most %d)", ErrConfig, cfg.Shards, MaxShards)
	case cfg.MaxValueSize > MaxValueSizeLimit:
		return fmt.Errorf("%w: max value size %d (at most %d)", ErrConfig, cfg.MaxValueSize, MaxValueSizeLimit)
	case cfg.MaxConns > MaxConnsLimit:
		return fmt.Errorf("%w: %d connections (at most %d)", ErrConfig, cfg.MaxConns, MaxConnsLimit)
	case cfg.CompactBytes > MaxCompactBytes:
		return fmt.Errorf("%w: compact bytes %d (at most %d)", ErrConfig, cfg.CompactBytes, int64(MaxCompactBytes))
	case cfg.MaxInflightBytes > MaxInflightLimit || cfg.MaxInflightBytes < minInflightBytes:
		return fmt.Errorf("%w: in-flight budget %d (between %d and %d)", ErrConfig, cfg.MaxInflightBytes, minInflightBytes, int64(MaxInflightLimit))
	}
	return nil
}

// Server is a memkv server: the store, its log, and the connections it
// serves. Create it with NewServer, run it with Serve, stop it with Close.
type Server struct {
	cfg      Config
	store    *memStore
	wal      *wal // nil without a data directory
	stats    *counters
	started  time.Time
	inflight atomic.Int64 // bytes reserved by requests being received

	mu       sync.Mutex
	lns      []net.Listener
	conns    map[io.Closer]struct{}
	closed   bool
	connWG   sync.WaitGroup
	snapWG   sync.WaitGroup
	snapStop context.CancelFunc
	snapCtx  context.Context
	snaps    atomic.Uint64

	loops []*eventLoop // LoopEpoll: one per GOMAXPROCS
}

// NewServer opens (recovering if needed) the data directory and returns a
// server ready to Serve.
func NewServer(cfg Config) (*Server, error) {
	c := cfg.withDefaults()
	if err := c.check(); err != nil {
		return nil, err
	}
	s := &Server{cfg: c, stats: &counters{}, started: time.Now(), conns: map[io.Closer]struct{}{}}
	s.snapCtx, s.snapStop = context.WithCancel(context.Background())
	sc := storeConfig{shards: c.Shards, maxValue: c.MaxValueSize, maxItems: c.MaxItems, maxBytes: c.MaxBytes}
	s.store = newStore(sc, nil)
	if c.DataDir == "" {
		return s, s.startLoops()
	}
	w, rec, err := openDir(c.DataDir, s.store, c.Fsync, c.CompactBytes, c.openFile)
	if err != nil {
		return nil, fmt.Errorf("memkv: recover %s: %w", c.DataDir, err)
	}
	s.wal, s.store.j = w, w
	w.rotated = s.startSnapshot
	w.log = c.Log
	if err := s.startLoops(); err != nil {
		w.start()
		w.close()
		return nil, err
	}
	w.start()
	if rec.snapshot != "" || rec.records > 0 || rec.truncated != "" {
		fmt.Fprintf(c.Log, "memkv: recovered %d entries (%s, %d log records replayed)\n",
			s.store.nItems.Load(), orNone(rec.snapshot), rec.records)
	}
	if rec.truncated != "" {
		fmt.Fprintf(c.Log, "memkv: torn log tail: truncated %s\n", rec.truncated)
	}
	for _, d := range rec.dropped {
		fmt.Fprintf(c.Log, "memkv: removed log %s after the torn record\n", d)
	}
	s.store.checkFlush(time.Now().UnixNano())
	s.store.enforceLimits()
	return s, nil
}

// startLoops starts the event loops (LoopEpoll), before the log's
// flusher, which wakes them.
func (s *Server) startLoops() error {
	if s.cfg.Loop != LoopEpoll {
		return nil
	}
	n := s.cfg.Loops
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	for range n {
		l, err := newEventLoop(s)
		if err != nil {
			for _, l := range s.loops {
				l.stop()
				<-l.done
			}
			s.loops = nil
			return err
		}
		s.loops = append(s.loops, l)
		go l.run()
	}
	if w := s.wal; w != nil {
		w.notify = func() {
			for _, l := range s.loops {
				l.logMoved(w)
			}
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "no snapshot"
	}
	return s
}

func (s *Server) startSnapshot(gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.wal.snapshotDone()
		return
	}
	s.snapWG.Add(1)
	go func() {
		defer s.snapWG.Done()
		defer s.wal.snapshotDone()
		n, err := writeSnapshot(s.snapCtx, s.cfg.openFile, s.cfg.DataDir, gen, s.store)
		switch {
		case err == nil:
			s.snaps.Add(1)
			fmt.Fprintf(s.cfg.Log, "memkv: wrote %s (%d entries)\n", snapshotName(gen), n)
		case s.snapCtx.Err() == nil:
			// The log keeps everything; the next rotation retries.
			fmt.Fprintf(s.cfg.Log, "memkv: snapshot %s failed: %v\n", snapshotName(gen), err)
		}
	}()
}

// Serve accepts connections on ln until ctx is cancelled or the server is
// closed. It closes ln. Cancellation is not an error. A log that cannot be
// written does not stop it: writes are refused until the log recovers.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		switch s.track(nc) {
		case trackClosed:
			nc.Close()
			return nil
		case trackFull:
			// memcached's answer with maxconns_fast (its default).
			s.stats.rejectedConns.Add(1)
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			nc.Write([]byte("ERROR Too many open connections\r\n"))
			nc.Close()
			continue
		}
		if s.loops != nil && s.handOff(nc) {
			continue
		}
		go func() {
			defer s.untrack(nc)
			s.serveConn(nc)
		}()
	}
}

// handOff gives an accepted (and tracked) connection to an event loop
// (pickLoop); false leaves it to a goroutine. The loop gets a duplicate of the
// socket and nc is closed, which takes the socket off Go's netpoller.
func (s *Server) handOff(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	if rc.Control(func(f uintptr) { fd, err = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }) != nil || err != nil {
		return false
	}
	l := s.pickLoop()
	lc := &loopConn{l: l, fd: fd, readable: true, writable: true}
	lc.c = s.newConn(nil)
	lc.c.lc = lc
	nc.Close()
	switch {
	case !s.retrack(nc, lc):
		unix.Close(fd)
		l.nconns.Add(-1)
	case !l.adopt(lc):
		unix.Close(fd)
		s.forget(lc)
		l.nconns.Add(-1)
	}
	return true
}

// retrack replaces the closer tracking a connection. If the server is
// closing, it ends the connection's tracking instead and returns false:
// the caller closes the connection.
func (s *Server) retrack(prev, next io.Closer) bool {
	s.mu.Lock()
	delete(s.conns, prev)
	if s.closed {
		s.mu.Unlock()
		s.forget(next)
		return false
	}
	s.conns[next] = struct{}{}
	s.mu.Unlock()
	return true
}

type trackResult uint8

const (
	trackOK trackResult = iota
	trackClosed
	trackFull
)

func (s *Server) track(c io.Closer) trackResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return trackClosed
	}
	if len(s.conns) >= s.cfg.MaxConns {
		return trackFull
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	s.stats.currConns.Add(1)
	s.stats.totalConns.Add(1)
	return trackOK
}

func (s *Server) untrack(c io.Closer) {
	c.Close()
	s.forget(c)
}

// forget ends the tracking of a connection that is closed.
func (s *Server) forget(c io.Closer) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.stats.currConns.Add(-1)
	s.connWG.Done()
}

// reserve takes n bytes from the in-flight budget, or reports that the
// budget cannot cover them.
func (s *Server) reserve(n int64) bool {
	for {
		cur := s.inflight.Load()
		if cur+n > s.cfg.MaxInflightBytes {
			return false
		}
		if s.inflight.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

func (s *Server) release(n int64) { s.inflight.Add(-n) }

// Close stops accepting, closes every connection, stops a running snapshot
// and writes and fsyncs the log. It returns the log's failure if records
// could not be written (none of them was acknowledged).
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	for _, l := range s.loops {
		l.stop()
	}
	s.connWG.Wait()
	for _, l := range s.loops {
		<-l.done
	}
	s.snapStop()
	s.snapWG.Wait()
	if s.wal != nil {
		return s.wal.close()
	}
	return nil
}
