package memkv

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowSyncFS is a log file system whose fsync takes a while (like a real
// disk, only slower) and remembers how much of the log it made durable.
type slowSyncFS struct {
	delay  time.Duration
	synced atomic.Int64 // bytes of the newest log file covered by a finished fsync
}

func (fs *slowSyncFS) open(name string, flag int, perm os.FileMode) (logFile, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &slowSyncFile{File: f, fs: fs}, nil
}

type slowSyncFile struct {
	*os.File
	fs      *slowSyncFS
	written atomic.Int64
}

func (f *slowSyncFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.written.Add(int64(n))
	return n, err
}

func (f *slowSyncFile) Sync() error {
	n := f.written.Load()
	time.Sleep(f.fs.delay)
	if err := f.File.Sync(); err != nil {
		return err
	}
	f.fs.synced.Store(n)
	return nil
}

// TestGroupCommit: with --fsync always, concurrent writers share fsyncs
// (far fewer fsyncs than writes), and still every acknowledged write's
// record is inside the fsynced prefix of the log when STORED arrives.
func TestGroupCommit(t *testing.T) {
	for _, mode := range loopModes {
		t.Run(mode.String(), func(t *testing.T) { testGroupCommit(t, mode) })
	}
}

func testGroupCommit(t *testing.T, mode LoopMode) {
	const writers, each = 8, 4
	fs := &slowSyncFS{delay: 20 * time.Millisecond}
	dir := t.TempDir()
	s := newDiskServer(t, dir, Config{openFile: fs.open, Fsync: FsyncAlways, Loop: mode})
	defer s.Close()
	addr := startTCP(t, s)
	f0 := s.wal.fsyncs.Load()
	var wg sync.WaitGroup
	var notDurable atomic.Int64
	for i := range writers {
		sess := dialSession(t, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				k, v := fmt.Sprintf("gc-%d-%d", i, j), fmt.Sprintf("value-%d-%d", i, j)
				if got := sess.do(setCmd(k, v), 1); got != "STORED\r\n" {
					t.Errorf("set %s: %q", k, got)
					return
				}
				log, err := os.ReadFile(newestLog(t, dir))
				if err != nil {
					t.Error(err)
					return
				}
				// A record holds the key and then the value.
				if n := fs.synced.Load(); !bytes.Contains(log[:min(int(n), len(log))], []byte(k+v)) {
					notDurable.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	s.wal.dmu.Lock()
	if n, l := s.wal.waiters.Load(), len(s.wal.waitList); n != 0 || l != 0 {
		t.Errorf("%d waiters (%d listed) after every write was answered, want 0", n, l)
	}
	s.wal.dmu.Unlock()
	if n := notDurable.Load(); n > 0 {
		t.Errorf("%d writes acknowledged before their record was fsynced", n)
	}
	fsyncs := s.wal.fsyncs.Load() - f0
	if fsyncs*2 > writers*each {
		t.Errorf("%d fsyncs for %d concurrent writes: no group commit", fsyncs, writers*each)
	}
	t.Logf("%d writes, %d fsyncs, %d lingers", writers*each, fsyncs, s.wal.lingers.Load())
}

// TestGroupCommitAccounting: the counts the linger decides on return to
// rest: a connection blocked reading its socket is not active, a closed
// one is gone, and nobody is left waiting for the log.
func TestGroupCommitAccounting(t *testing.T) {
	for _, mode := range loopModes {
		t.Run(mode.String(), func(t *testing.T) { testGroupCommitAccounting(t, mode) })
	}
}

func testGroupCommitAccounting(t *testing.T, mode LoopMode) {
	fs := &slowSyncFS{delay: 2 * time.Millisecond}
	s := newDiskServer(t, t.TempDir(), Config{openFile: fs.open, Fsync: FsyncAlways, Loop: mode})
	defer s.Close()
	sess := dialSession(t, startTCP(t, s))
	for i := range 20 {
		if got := sess.do(setCmd(fmt.Sprint("k", i), "v"), 1); got != "STORED\r\n" {
			t.Fatalf("set: %q", got)
		}
	}
	waitFor := func(what string, active int32) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for s.wal.active.Load() != active && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if a, w := s.wal.active.Load(), s.wal.waiters.Load(); a != active || w != 0 {
			t.Errorf("%s: active %d waiters %d, want %d and 0", what, a, w, active)
		}
	}
	waitFor("idle connection", 0)
	sess.nc.Close()
	// Once the server has let the connection go (its goroutine or loop
	// has left the group commit): until then a connection served by a
	// goroutine leaves it while blocked in read and joins it again when
	// the read returns EOF, so a 0 seen earlier could be that pause.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(converse(s, "stats\r\n"), "STAT curr_connections 0\r\n") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	waitFor("closed connection", 0)
	if got := converse(s, "stats\r\n"); !bytes.Contains([]byte(got), []byte("STAT log_records 20\r\n")) {
		t.Errorf("stats lacks log_records 20:\n%s", got)
	}
}

// TestWaitersLeaveOnFailure: a writer whose record cannot be fsynced
// leaves the waiters when it is answered SERVER_ERROR, so a failed log
// does not leave the group commit counting ghosts.
func TestWaitersLeaveOnFailure(t *testing.T) {
	fs := &faults{}
	s := newDiskServer(t, t.TempDir(), Config{openFile: fs.open, Fsync: FsyncAlways})
	defer s.Close()
	sess := dialSession(t, startTCP(t, s))
	if got := sess.do(setCmd("a", "1"), 1); got != "STORED\r\n" {
		t.Fatalf("set before the failure: %q", got)
	}
	fs.syncFails.Store(true)
	if got := sess.do(setCmd("b", "2"), 1); got != logDownLine+"\r\n" {
		t.Fatalf("set while fsync fails: %q, want %q", got, logDownLine)
	}
	s.wal.dmu.Lock()
	n, list := s.wal.waiters.Load(), len(s.wal.waitList)
	s.wal.dmu.Unlock()
	if n != 0 || list != 0 {
		t.Errorf("after the failed write: %d waiters, %d in the list, want 0", n, list)
	}
	fs.syncFails.Store(false)
	waitWritable(t, s)
}
