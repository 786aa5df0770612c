package memkv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
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
	// MaxValueSize is the largest value accepted (default 1 MiB).
	MaxValueSize int
	// MaxItems and MaxBytes bound the store with LRU eviction (0: no bound).
	MaxItems int64
	MaxBytes int64
	// CompactBytes is the log size that triggers a snapshot (default 64 MiB).
	CompactBytes int64
	// Shards is the number of lock domains (default 256, rounded up to a
	// power of two).
	Shards int
	// Log receives recovery and failure messages; nil discards them.
	Log io.Writer
}

func (cfg *Config) withDefaults() Config {
	c := *cfg
	if c.MaxValueSize <= 0 {
		c.MaxValueSize = 1 << 20
	}
	if c.CompactBytes <= 0 {
		c.CompactBytes = 64 << 20
	}
	if c.Shards <= 0 {
		c.Shards = 256
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// Server is a memkv server: the store, its log, and the connections it
// serves. Create it with NewServer, run it with Serve, stop it with Close.
type Server struct {
	cfg     Config
	store   *memStore
	wal     *wal // nil without a data directory
	stats   *counters
	started time.Time

	mu       sync.Mutex
	lns      []net.Listener
	conns    map[io.Closer]struct{}
	closed   bool
	connWG   sync.WaitGroup
	snapWG   sync.WaitGroup
	snapStop context.CancelFunc
	snapCtx  context.Context
	failErr  error
	failCh   chan struct{} // closed when the log fails
	snaps    atomic.Uint64
}

// NewServer opens (recovering if needed) the data directory and returns a
// server ready to Serve.
func NewServer(cfg Config) (*Server, error) {
	c := cfg.withDefaults()
	s := &Server{cfg: c, stats: &counters{}, started: time.Now(), conns: map[io.Closer]struct{}{}, failCh: make(chan struct{})}
	s.snapCtx, s.snapStop = context.WithCancel(context.Background())
	sc := storeConfig{shards: c.Shards, maxValue: c.MaxValueSize, maxItems: c.MaxItems, maxBytes: c.MaxBytes}
	s.store = newStore(sc, nil)
	if c.DataDir == "" {
		return s, nil
	}
	w, rec, err := openDir(c.DataDir, s.store, c.Fsync, c.CompactBytes)
	if err != nil {
		return nil, fmt.Errorf("memkv: recover %s: %w", c.DataDir, err)
	}
	s.wal, s.store.j = w, w
	w.rotated = s.startSnapshot
	w.failed = s.fail
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
		n, err := writeSnapshot(s.snapCtx, s.cfg.DataDir, gen, s.store)
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

// fail is called once the log cannot be written: acknowledging anything
// more would be a lie, so the server stops.
func (s *Server) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failErr == nil {
		s.failErr = err
		close(s.failCh)
		fmt.Fprintf(s.cfg.Log, "memkv: %v; stopping\n", err)
		for c := range s.conns {
			c.Close()
		}
	}
}

// Serve accepts connections on ln until ctx is cancelled, the server is
// closed, or the log fails (then it returns the log's error). It closes ln.
// Cancellation is not an error.
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
	served := make(chan struct{})
	defer close(served)
	go func() {
		select {
		case <-s.failCh:
			ln.Close()
		case <-served:
		}
	}()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ferr := s.failure(); ferr != nil {
				return ferr
			}
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if !s.track(nc) {
			nc.Close()
			return nil
		}
		go func() {
			defer s.untrack(nc)
			s.serveConn(nc)
		}()
	}
}

func (s *Server) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failErr
}

func (s *Server) track(c io.Closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.failErr != nil {
		return false
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	s.stats.currConns.Add(1)
	s.stats.totalConns.Add(1)
	return true
}

func (s *Server) untrack(c io.Closer) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.stats.currConns.Add(-1)
	s.connWG.Done()
}

// Close stops accepting, closes every connection, stops a running snapshot
// and writes and fsyncs the log. It returns the log's failure, if any.
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
	s.connWG.Wait()
	s.snapStop()
	s.snapWG.Wait()
	if s.wal != nil {
		return s.wal.close()
	}
	return nil
}

// conn is one client connection's state. It is used by one goroutine.
type conn struct {
	srv     *Server
	br      *bufio.Reader
	w       io.Writer
	out     []byte
	wait    int64 // log position the buffered output depends on
	now     int64
	noreply bool
	closing bool
	toks    [maxTokens - 1][]byte
	key     []byte
	long    []byte
	nread   int64
}

const (
	readBufSize    = 16 << 10
	maxLongLine    = 1 << 20 // a multi-get line may be this long
	flushThreshold = 64 << 10
)

// serveConn runs the command loop on one connection until EOF, quit, an
// I/O error or a protocol violation that forces a hang-up.
func (s *Server) serveConn(rw io.ReadWriter) {
	c := &conn{srv: s, w: rw, out: make([]byte, 0, 4096)}
	c.br = bufio.NewReaderSize(countingReader{rw, &c.nread}, readBufSize)
	defer func() {
		s.stats.bytesRead.Add(uint64(c.nread))
	}()
	for {
		line, err := c.readLine()
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				c.out = append(c.out, "CLIENT_ERROR line too long\r\n"...)
			}
			c.flush()
			return
		}
		if err := c.process(line); err != nil {
			c.flush() // answer what came before the short data block
			return
		}
		if c.closing {
			c.flush()
			return
		}
		if c.br.Buffered() == 0 || len(c.out) >= flushThreshold {
			if c.flush() != nil {
				return
			}
		}
	}
}

var errLineTooLong = errors.New("command line too long")

// readLine returns the next command line without its terminator, as
// memcached cuts it: "\n" ends it, a "\r" before it is dropped, and a NUL
// ends the command early. A line that fills the read buffer without a
// newline is refused unless it is a retrieval (multi-get), which may grow
// to maxLongLine.
func (c *conn) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		if !isRetrieval(line) {
			return nil, errLineTooLong
		}
		c.long = append(c.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(c.long) > maxLongLine {
				return nil, errLineTooLong
			}
			line, err = c.br.ReadSlice('\n')
			c.long = append(c.long, line...)
		}
		line = c.long
		if cap(c.long) > 64<<10 {
			c.long = nil // the line is used before the next read; do not keep 1 MiB per connection
		}
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if len(line) > 1 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	for i, b := range line {
		if b == 0 {
			return line[:i], nil
		}
	}
	return line, nil
}

func isRetrieval(line []byte) bool {
	i := 0
	for i < len(line) && line[i] == ' ' {
		i++
	}
	l := string(line[i:min(len(line), i+5)])
	return len(l) >= 4 && (l[:4] == "get " || l[:4] == "gat " || l == "gets " || l == "gats ")
}

// flush sends the buffered responses once everything they reveal is
// durable: a write's own record, or for a read the newest record of the
// shard it read. Nothing is sent before that, so no client can observe a
// value a crash could still take back (with --fsync always).
func (c *conn) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	if w := c.srv.wal; w != nil {
		// Once the log has failed nothing is answered: a write applied
		// since then has no record at all.
		if err := w.waitDurable(c.wait); err != nil {
			return err
		}
		if err := w.throttle(); err != nil {
			return err
		}
	}
	_, err := c.w.Write(c.out)
	c.srv.stats.bytesWritten.Add(uint64(len(c.out)))
	if cap(c.out) > 1<<20 {
		c.out = make([]byte, 0, 4096)
	} else {
		c.out = c.out[:0]
	}
	c.wait = 0
	return err
}

type countingReader struct {
	r io.Reader
	n *int64
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	*r.n += int64(n)
	return n, err
}

// counters are the server's statistics, as `stats` names them.
type counters struct {
	currConns, totalConns                      atomic.Int64
	cmdGet, cmdSet, cmdFlush, cmdTouch         atomic.Uint64
	getHits, getMisses                         atomic.Uint64
	deleteHits, deleteMisses                   atomic.Uint64
	incrHits, incrMisses, decrHits, decrMisses atomic.Uint64
	casHits, casMisses, casBadval              atomic.Uint64
	touchHits, touchMisses                     atomic.Uint64
	storeTooLarge, bytesRead, bytesWritten     atomic.Uint64
}

func (st *counters) resettable() []*atomic.Uint64 {
	return []*atomic.Uint64{&st.cmdGet, &st.cmdSet, &st.cmdFlush, &st.cmdTouch, &st.getHits, &st.getMisses,
		&st.deleteHits, &st.deleteMisses, &st.incrHits, &st.incrMisses, &st.decrHits, &st.decrMisses,
		&st.casHits, &st.casMisses, &st.casBadval, &st.touchHits, &st.touchMisses, &st.storeTooLarge,
		&st.bytesRead, &st.bytesWritten}
}

// stats answers `stats`, `stats reset`, `stats settings`, and an empty
// listing for the slab-oriented subcommands memkv has no equivalent of.
func (c *conn) stats(nt int) {
	if nt == 2 {
		c.generalStats()
		return
	}
	switch string(c.toks[1]) {
	case "reset":
		for _, p := range c.srv.stats.resettable() {
			p.Store(0)
		}
		c.srv.store.evictions.Store(0)
		c.reply("RESET", 0)
	case "settings":
		s := c.srv
		c.stat("maxbytes", strconv.FormatInt(s.cfg.MaxBytes, 10))
		c.stat("item_size_max", strconv.Itoa(s.cfg.MaxValueSize))
		c.stat("evictions", onOff(s.store.bounded))
		c.stat("cas_enabled", "yes")
		c.stat("flush_enabled", "yes")
		c.stat("num_shards", strconv.Itoa(len(s.store.shards)))
		c.stat("data_dir", orNull(s.cfg.DataDir))
		c.stat("fsync", s.cfg.Fsync.String())
		c.stat("compact_bytes", strconv.FormatInt(s.cfg.CompactBytes, 10))
		c.out = append(c.out, "END\r\n"...)
	case "items", "slabs", "sizes", "conns":
		c.out = append(c.out, "END\r\n"...)
	case "detail":
		if nt >= 4 && (string(c.toks[2]) == "on" || string(c.toks[2]) == "off") {
			c.reply("OK", 0)
		} else {
			c.reply("CLIENT_ERROR usage: stats detail on|off|dump", 0)
		}
	default:
		c.reply("ERROR", 0)
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func orNull(s string) string {
	if s == "" {
		return "NULL"
	}
	return s
}

func (c *conn) stat(name, val string) {
	c.out = append(c.out, "STAT "...)
	c.out = append(c.out, name...)
	c.out = append(c.out, ' ')
	c.out = append(c.out, val...)
	c.out = append(c.out, "\r\n"...)
}

func (c *conn) generalStats() {
	s, st := c.srv, c.srv.stats
	u := func(name string, v uint64) { c.stat(name, strconv.FormatUint(v, 10)) }
	i := func(name string, v int64) { c.stat(name, strconv.FormatInt(v, 10)) }
	now := time.Now()
	i("pid", int64(os.Getpid()))
	i("uptime", int64(now.Sub(s.started)/time.Second))
	i("time", now.Unix())
	c.stat("version", Version)
	i("pointer_size", 64)
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.stat("rusage_user", fmt.Sprintf("%d.%06d", ru.Utime.Sec, ru.Utime.Usec))
		c.stat("rusage_system", fmt.Sprintf("%d.%06d", ru.Stime.Sec, ru.Stime.Usec))
	}
	i("curr_connections", st.currConns.Load())
	i("total_connections", st.totalConns.Load())
	u("cmd_get", st.cmdGet.Load())
	u("cmd_set", st.cmdSet.Load())
	u("cmd_flush", st.cmdFlush.Load())
	u("cmd_touch", st.cmdTouch.Load())
	u("get_hits", st.getHits.Load())
	u("get_misses", st.getMisses.Load())
	u("delete_misses", st.deleteMisses.Load())
	u("delete_hits", st.deleteHits.Load())
	u("incr_misses", st.incrMisses.Load())
	u("incr_hits", st.incrHits.Load())
	u("decr_misses", st.decrMisses.Load())
	u("decr_hits", st.decrHits.Load())
	u("cas_misses", st.casMisses.Load())
	u("cas_hits", st.casHits.Load())
	u("cas_badval", st.casBadval.Load())
	u("touch_hits", st.touchHits.Load())
	u("touch_misses", st.touchMisses.Load())
	u("store_too_large", st.storeTooLarge.Load())
	u("bytes_read", st.bytesRead.Load()+uint64(c.nread))
	u("bytes_written", st.bytesWritten.Load())
	i("limit_maxbytes", s.cfg.MaxBytes)
	i("threads", int64(runtime.GOMAXPROCS(0)))
	i("bytes", s.store.nBytes.Load())
	i("curr_items", s.store.nItems.Load())
	u("total_items", s.store.total.Load())
	u("evictions", s.store.evictions.Load())
	if w := s.wal; w != nil {
		u("log_bytes_written", w.written.Load())
		u("log_fsyncs", w.fsyncs.Load())
		u("snapshots", s.snaps.Load())
	}
	c.out = append(c.out, "END\r\n"...)
}
