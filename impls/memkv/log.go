package memkv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// FsyncMode says when the log is fsynced relative to acknowledging a write.
type FsyncMode uint8

// The --fsync modes.
const (
	// FsyncAlways acknowledges a mutation only after its record is fsynced;
	// concurrent writers share one fsync (group commit).
	FsyncAlways FsyncMode = iota
	// FsyncInterval writes records as they come (gathered for at most
	// gatherDelay) and fsyncs every 100 ms; acknowledgements do not wait.
	FsyncInterval
	// FsyncNever writes records as they come (gathered for at most
	// gatherDelay) and leaves syncing to the OS.
	FsyncNever
)

var fsyncNames = [...]string{"always", "interval", "never"}

// String returns the mode's flag spelling.
func (m FsyncMode) String() string {
	if int(m) < len(fsyncNames) {
		return fsyncNames[m]
	}
	return fmt.Sprintf("FsyncMode(%d)", uint8(m))
}

// ParseFsyncMode parses "always", "interval" or "never".
func ParseFsyncMode(s string) (FsyncMode, error) {
	for i, n := range fsyncNames {
		if s == n {
			return FsyncMode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown fsync mode %q (want always, interval or never)", s)
}

// Log file layout: an 8-byte magic, then records:
//
//	crc32c  uint32  Castagnoli CRC of the next 4+len bytes (length and payload)
//	len     uint32  payload length
//	payload: op u8 | flags u32 | exp i64 (Unix ns, 0 = never) | cas u64 |
//	         klen u16 | key | value (the rest)
//
// All integers are little-endian. Recovery stops at the first record that
// is short or fails its CRC and truncates the file there.
const (
	logMagic     = "MKVLOG1\n"
	recHeader    = 8
	recFixed     = 1 + 4 + 8 + 8 + 2
	maxRecordLen = 1<<30 + 4<<10 // a value of the largest --max-value-size with its key
	syncInterval = 100 * time.Millisecond
	// maxBacklog bounds encoded-but-unwritten log bytes; a connection that
	// finds more waits (see conn.flush) instead of growing memory.
	maxBacklog = 64 << 20
)

// Record ops.
const (
	opSet     byte = 1 // key now holds value, flags, exp, cas
	opDelete  byte = 2 // key removed
	opTouch   byte = 3 // key's expiry is now exp
	opFlush   byte = 4 // every key removed, pending delayed flush cancelled
	opFlushAt byte = 5 // flush every key at time exp
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record is one logged mutation. The store builds it under a shard lock;
// the log copies it into its buffer before Append returns.
type record struct {
	op    byte
	flags uint32
	exp   int64
	cas   uint64
	key   string
	value []byte
}

func appendRecord(dst []byte, r *record) []byte {
	plen := recFixed + len(r.key) + len(r.value)
	start := len(dst)
	dst = append(dst, make([]byte, recHeader+recFixed)...)
	h := dst[start:]
	binary.LittleEndian.PutUint32(h[4:], uint32(plen))
	p := h[recHeader:]
	p[0] = r.op
	binary.LittleEndian.PutUint32(p[1:], r.flags)
	binary.LittleEndian.PutUint64(p[5:], uint64(r.exp))
	binary.LittleEndian.PutUint64(p[13:], r.cas)
	binary.LittleEndian.PutUint16(p[21:], uint16(len(r.key)))
	dst = append(dst, r.key...)
	dst = append(dst, r.value...)
	binary.LittleEndian.PutUint32(dst[start:], crc32.Checksum(dst[start+4:], castagnoli))
	return dst
}

// errTorn marks the end of the valid prefix of a log file.
var errTorn = errors.New("torn or corrupt log record")

// readRecord reads one record; remain is the number of unread file bytes
// (a length beyond it is torn, not a reason to allocate). It returns io.EOF
// at a clean end and errTorn for a short or corrupt record.
func readRecord(br *bufio.Reader, remain int64) (record, int64, error) {
	var h [recHeader]byte
	n, err := io.ReadFull(br, h[:])
	if n == 0 && err == io.EOF {
		return record{}, 0, io.EOF
	}
	if err != nil {
		return record{}, 0, errTorn
	}
	plen := int64(binary.LittleEndian.Uint32(h[4:]))
	if plen < recFixed || plen > maxRecordLen || plen > remain-recHeader {
		return record{}, 0, errTorn
	}
	p := make([]byte, plen)
	if _, err := io.ReadFull(br, p); err != nil {
		return record{}, 0, errTorn
	}
	crc := crc32.Update(crc32.Checksum(h[4:], castagnoli), castagnoli, p)
	if crc != binary.LittleEndian.Uint32(h[:4]) {
		return record{}, 0, errTorn
	}
	klen := int64(binary.LittleEndian.Uint16(p[21:]))
	if recFixed+klen > plen || p[0] < opSet || p[0] > opFlushAt {
		return record{}, 0, errTorn
	}
	r := record{
		op:    p[0],
		flags: binary.LittleEndian.Uint32(p[1:]),
		exp:   int64(binary.LittleEndian.Uint64(p[5:])),
		cas:   binary.LittleEndian.Uint64(p[13:]),
		key:   string(p[recFixed : recFixed+klen]),
		value: p[recFixed+klen : plen : plen],
	}
	return r, recHeader + plen, nil
}

func logName(gen uint64) string      { return fmt.Sprintf("wal-%016x.log", gen) }
func snapshotName(gen uint64) string { return fmt.Sprintf("snapshot-%016x.jsonl", gen) }

// logFile is what the log and snapshots need of an open file. *os.File
// implements it; tests inject write, fsync and disk-full faults through
// Config.openFile.
type logFile interface {
	io.Writer
	Sync() error
	Truncate(size int64) error
	Close() error
}

// openFileFunc opens a file the way os.OpenFile does.
type openFileFunc func(name string, flag int, perm os.FileMode) (logFile, error)

func osOpenFile(name string, flag int, perm os.FileMode) (logFile, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// createLogFile creates log generation gen with its magic, durably. On
// failure it removes what it created, so a later attempt can succeed.
func createLogFile(open openFileFunc, dir string, gen uint64) (logFile, error) {
	path := filepath.Join(dir, logName(gen))
	f, err := open(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	// err, not a new variable: a shadowed one here once made a failed
	// write or fsync of the magic look like success.
	if _, err = f.Write([]byte(logMagic)); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return f, nil
}

// syncDir makes directory entries (created, renamed, removed files)
// durable. Filesystems that cannot fsync a directory report EINVAL; there
// is nothing more to do on them.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		err = nil
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// wal is the append-only log with group commit. Writers encode records into
// a shared buffer (Append, under their shard lock); one flusher goroutine
// swaps the buffer out, writes it and, in FsyncAlways mode, fsyncs it, then
// publishes the new durable position. Positions are byte offsets of the
// log stream since this process opened it. Group commit: each write and
// fsync carries every record appended while the previous one ran, and in
// FsyncAlways mode the flusher lingers briefly for records that other
// active connections may be about to append (see linger).
//
// When a write or fsync fails (a full disk, an I/O error) the log does not
// stop: it keeps the records that are not yet durable in memory, marks
// itself failing (the server then refuses writes with SERVER_ERROR and
// answers SERVER_ERROR for anything that depends on those records), and
// retries with backoff: truncate the file back to its last good size,
// write the kept records again, fsync. Once that works it publishes them
// and accepts writes again. Rewriting rather than re-fsyncing matters:
// after a failed fsync Linux may have dropped the dirty pages, and a
// second fsync would report success for data that is not on disk.
type wal struct {
	dir          string
	mode         FsyncMode
	compactBytes int64
	open         openFileFunc
	log          io.Writer
	// rotated is called on the flusher goroutine after it switched to a new
	// log file; it must start the snapshot in the background and call
	// snapshotDone when it ends.
	rotated func(gen uint64)

	mu       sync.Mutex // guards buf and appended
	buf      []byte
	appended int64
	appendA  atomic.Int64 // mirror of appended for lock-free backlog checks
	kick     chan struct{}

	failing atomic.Bool // writes are refused until the log can write again
	durable atomic.Int64
	dmu     sync.Mutex
	dcond   *sync.Cond
	err     error // guarded by dmu; the current failure, nil when healthy
	// waitList (guarded by dmu) is who is counted in waiters.
	waitList []*waiter

	// Owned by the flusher goroutine.
	f            logFile
	gen          uint64
	size         int64 // bytes written to f
	good         int64 // size of f's prefix known good (fsynced in FsyncAlways mode, written otherwise)
	pending      []byte
	pendingPos   int64 // log position just past pending
	rotateAfter  time.Time
	snapshotting atomic.Bool

	fsyncs   atomic.Uint64
	written  atomic.Uint64
	failures atomic.Uint64
	records  atomic.Uint64 // records appended (stats log_records)

	// Group commit (FsyncAlways). active counts connections that are
	// handling requests (not blocked reading their socket), waiters the
	// goroutines in waitWritten for records not yet durable; active >
	// waiters means someone
	// may append a record soon, and the flusher lingers for it (see
	// linger). syncNanos is an average fsync duration, the linger's scale.
	active    atomic.Int32
	waiters   atomic.Int32
	syncNanos atomic.Int64
	lingers   atomic.Uint64
	lingering atomic.Bool // the flusher waits in linger; nudge it when active or waiters change

	// notify, when set, is called by the flusher after records became
	// durable or the log failed (the event loops' wake-up, so that they
	// never wait for the disk themselves).
	notify func()

	stop chan struct{}
	done chan struct{}
}

func newWAL(dir string, mode FsyncMode, f logFile, gen uint64, size, compactBytes int64, open openFileFunc) *wal {
	w := &wal{
		dir: dir, mode: mode, compactBytes: compactBytes, open: open, log: io.Discard, f: f, gen: gen, size: size, good: size,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		rotated: func(uint64) {},
	}
	w.dcond = sync.NewCond(&w.dmu)
	return w
}

// Append copies r into the log buffer and returns the log position just
// past it. The store calls it with the mutated shard's lock held, which
// puts each key's records in the log in the order they were applied; it
// never waits for the disk.
func (w *wal) Append(r *record) int64 {
	w.mu.Lock()
	wasEmpty := len(w.buf) == 0
	w.buf = appendRecord(w.buf, r)
	w.appended += int64(recHeader + recFixed + len(r.key) + len(r.value))
	pos := w.appended
	w.appendA.Store(pos)
	w.mu.Unlock()
	w.records.Add(1)
	if wasEmpty {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return pos
}

// waitDurable blocks until every record up to pos is durable (FsyncAlways)
// and returns nil, or returns the log's failure while those records are
// not durable. In the other modes it returns nil at once:
// acknowledgements do not wait for the disk.
func (w *wal) waitDurable(pos int64) error {
	if w.mode != FsyncAlways {
		return nil
	}
	return w.waitWritten(pos)
}

func (w *wal) waitWritten(pos int64) error {
	if w.durable.Load() >= pos {
		return nil
	}
	w.dmu.Lock()
	defer w.dmu.Unlock()
	if w.durable.Load() >= pos {
		return nil
	}
	// Counted among the waiters until publish covers pos (publish takes
	// it off, so a woken writer that has not run yet already counts as
	// active again) or until it leaves on an error.
	wt := &waiter{pos: pos}
	w.waitList = append(w.waitList, wt)
	w.waiters.Add(1)
	w.nudge()
	for w.durable.Load() < pos && w.err == nil {
		w.dcond.Wait()
	}
	if !wt.released {
		for i, o := range w.waitList {
			if o == wt {
				w.waitList = append(w.waitList[:i], w.waitList[i+1:]...)
				break
			}
		}
		w.waiters.Add(-1)
	}
	if w.durable.Load() >= pos {
		return nil
	}
	return w.err
}

// failure returns the current failure, nil while the log writes.
func (w *wal) failure() error {
	if !w.failing.Load() {
		return nil
	}
	w.dmu.Lock()
	defer w.dmu.Unlock()
	return w.err
}

// throttle makes a writer wait while the unwritten backlog is too large.
// A failing log has no backlog to drain (writes are refused).
func (w *wal) throttle() {
	if back := w.appendA.Load() - w.durable.Load(); back > maxBacklog && !w.failing.Load() {
		_ = w.waitWritten(w.appendA.Load() - maxBacklog/2)
	}
}

func (w *wal) publish(pos int64) {
	if pos <= w.durable.Load() {
		return
	}
	w.durable.Store(pos)
	w.dmu.Lock()
	kept := w.waitList[:0]
	for _, wt := range w.waitList {
		if wt.pos <= pos {
			wt.released = true
			w.waiters.Add(-1)
		} else {
			kept = append(kept, wt)
		}
	}
	clear(w.waitList[len(kept):])
	w.waitList = kept
	w.dcond.Broadcast()
	w.dmu.Unlock()
	if w.notify != nil {
		w.notify()
	}
}

// setFailure marks the log failing; waiters for records that are not
// durable return the error.
func (w *wal) setFailure(err error) {
	w.dmu.Lock()
	first := w.err == nil
	w.err = fmt.Errorf("memkv log: %w", err)
	w.failing.Store(true)
	w.dcond.Broadcast()
	w.dmu.Unlock()
	if w.notify != nil {
		w.notify()
	}
	if first {
		w.failures.Add(1)
		fmt.Fprintf(w.log, "memkv: log write failed: %v; refusing writes, serving reads, retrying\n", err)
	}
}

func (w *wal) clearFailure() {
	w.dmu.Lock()
	w.err = nil
	w.failing.Store(false)
	w.dmu.Unlock()
	fmt.Fprintf(w.log, "memkv: log writes recovered\n")
}

func (w *wal) start() { go w.run() }

const (
	retryMin = 20 * time.Millisecond
	retryMax = time.Second
)

// run is the flusher goroutine.
func (w *wal) run() {
	defer close(w.done)
	var tick <-chan time.Time
	if w.mode == FsyncInterval {
		t := time.NewTicker(syncInterval)
		defer t.Stop()
		tick = t.C
	}
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	gather := time.NewTimer(time.Hour)
	gather.Stop()
	defer gather.Stop()
	backoff := retryMin
	var spare []byte
	dirty := false     // written since the last fsync (FsyncInterval, FsyncNever)
	gathering := false // gather is armed: records wait for it, not for a kick
	for {
		stopping, retrying := false, false
		kick := w.kick
		if gathering {
			kick = nil
		}
		select {
		case <-kick:
		case <-gather.C:
			gathering = false
			select { // a kick from an Append meanwhile: its record is taken now
			case <-w.kick:
			default:
			}
		case <-tick:
			if dirty && !w.failing.Load() {
				dirty = false
				if err := w.sync(); err != nil {
					w.pendingPos = max(w.pendingPos, w.durable.Load())
					w.setFailure(err)
					backoff = retryMin
					retry.Reset(backoff)
				}
			}
		case <-retry.C:
			retrying = true
		case <-w.stop:
			stopping = true
		}
		w.mu.Lock()
		data, pos := w.buf, w.appended
		w.buf = spare[:0]
		w.mu.Unlock()
		spare = nil
		switch {
		case w.failing.Load():
			w.pending = append(w.pending, data...)
			w.pendingPos = max(w.pendingPos, pos)
			spare = data
			if retrying || stopping {
				if err := w.recover(); err != nil {
					backoff = min(2*backoff, retryMax)
					retry.Reset(backoff)
				} else {
					dirty = false
				}
			}
		case len(data) > 0:
			if w.mode == FsyncAlways && !stopping {
				data, pos, stopping = w.linger(data, pos, linger)
			}
			err := w.write(data)
			synced := false
			if err == nil && (w.mode == FsyncAlways || stopping) {
				err, synced = w.sync(), true
			}
			if err != nil {
				w.pending = append(w.pending[:0], data...)
				w.pendingPos = pos
				w.setFailure(err)
				backoff = retryMin
				retry.Reset(backoff)
			} else {
				w.good = w.size
				dirty = !synced
				w.publish(pos)
				if w.mode != FsyncAlways && !stopping {
					gather.Reset(gatherDelay)
					gathering = true
				}
			}
			spare = data
		default:
			w.publish(pos)
		}
		if cap(spare) > 4<<20 {
			spare = nil
		}
		if stopping {
			if dirty && !w.failing.Load() {
				_ = w.sync()
			}
			w.f.Close()
			return
		}
		if w.size >= w.compactBytes && !w.snapshotting.Load() && !w.failing.Load() && time.Now().After(w.rotateAfter) {
			if err := w.rotate(); err != nil {
				// The current file keeps taking records; compaction waits.
				w.rotateAfter = time.Now().Add(retryMax)
				fmt.Fprintf(w.log, "memkv: cannot start a new log file: %v; retrying\n", err)
			}
		}
	}
}

// gatherDelay is how long records gather after a write before the next
// one when no acknowledgement waits for the write (FsyncInterval,
// FsyncNever). The first record after a quiet spell is written at once
// (its Append kicks the flusher); the records appended within gatherDelay
// after a write wait for the gather timer, not for a kick, so a steady
// stream of writes costs one write(2) and one wake-up of the flusher per
// delay, where a kick per first record after each write (then a gather)
// cost two wake-ups (at -n 4: 0.03 futex and 0.05 epoll_pwait calls per
// request less).
const gatherDelay = time.Millisecond

// recover retries a failed log: the file is cut back to its good prefix
// and the pending records are written and fsynced again.
func (w *wal) recover() error {
	if err := w.f.Truncate(w.good); err != nil {
		return err
	}
	w.size = w.good
	if len(w.pending) > 0 {
		if err := w.write(w.pending); err != nil {
			return err
		}
	}
	if err := w.sync(); err != nil {
		return err
	}
	w.good = w.size
	if cap(w.pending) > 4<<20 {
		w.pending = nil
	} else {
		w.pending = w.pending[:0]
	}
	w.publish(w.pendingPos)
	w.clearFailure()
	return nil
}

func (w *wal) write(data []byte) error {
	n, err := w.f.Write(data)
	w.size += int64(n)
	w.written.Add(uint64(n))
	return err
}

func (w *wal) sync() error {
	w.fsyncs.Add(1)
	t := time.Now()
	err := w.f.Sync()
	d := int64(time.Since(t))
	w.syncNanos.Store((7*w.syncNanos.Load() + d) / 8)
	return err
}

// rotate starts log generation gen+1 and asks for a snapshot of the store.
// Every record in the old file was applied to the store before it was
// appended, so a snapshot begun after the switch covers the old file, and
// replaying the new file over it converges (records are idempotent).
func (w *wal) rotate() error {
	next := w.gen + 1
	f, err := createLogFile(w.open, w.dir, next)
	if err != nil {
		return err
	}
	if w.mode != FsyncAlways {
		_ = w.f.Sync()
	}
	w.f.Close()
	w.f, w.gen, w.size = f, next, int64(len(logMagic))
	w.good = w.size
	w.snapshotting.Store(true)
	w.rotated(next)
	return nil
}

func (w *wal) snapshotDone() { w.snapshotting.Store(false) }

// close writes and fsyncs what is buffered (retrying a failing log once)
// and closes the file. It returns the failure if records remain unwritten;
// none of them was acknowledged.
func (w *wal) close() error {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	return w.failure()
}
