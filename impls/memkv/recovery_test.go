package memkv

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func newDiskServer(t testing.TB, dir string, cfg Config) *Server {
	t.Helper()
	cfg.DataDir = dir
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newestLog returns the path of the highest log generation in dir.
func newestLog(t testing.TB, dir string) string {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	if len(logs) == 0 {
		t.Fatalf("no log in %s", dir)
	}
	sort.Strings(logs)
	return logs[len(logs)-1]
}

func TestReopenRecoversEveryOperation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := newDiskServer(t, dir, Config{})
	in := "set a 7 0 3\r\nabc\r\nset b 0 0 1\r\nx\r\nset n 0 0 1\r\n9\r\nincr n 1\r\nappend a 0 0 1\r\nd\r\n" +
		"delete b\r\nset t 0 1 1\r\nt\r\ntouch t 0\r\nset gone 0 -1 1\r\ng\r\ngets a\r\n"
	before := converse(s, in)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v, want 0700", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(newestLog(t, dir)); fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600", fi.Mode().Perm())
	}
	time.Sleep(1100 * time.Millisecond) // t's exptime was reset to never by touch
	s2 := newDiskServer(t, dir, Config{})
	defer s2.Close()
	got := converse(s2, "gets a\r\nget b n t gone\r\nset c 0 0 1\r\nc\r\ngets c\r\n")
	wantA := before[strings.LastIndex(before, "VALUE a"):]
	want := wantA + "VALUE n 0 2\r\n10\r\nVALUE t 0 1\r\nt\r\nEND\r\nSTORED\r\n"
	if !strings.HasPrefix(got, want) {
		t.Fatalf("after reopen got %q, want prefix %q", got, want)
	}
	// CAS values keep increasing across restarts, so a stale gets cannot
	// match a new value.
	if !strings.Contains(got, "VALUE c 0 1 8\r\n") {
		t.Errorf("cas after restart: %q", got)
	}
}

func TestFlushAllIsDurable(t *testing.T) {
	dir := t.TempDir()
	s := newDiskServer(t, dir, Config{})
	converse(s, "set a 0 0 1\r\nx\r\nflush_all\r\nset b 0 0 1\r\ny\r\nflush_all 1000\r\n")
	s.Close()
	s2 := newDiskServer(t, dir, Config{})
	defer s2.Close()
	if got := converse(s2, "get a b\r\n"); got != "VALUE b 0 1\r\ny\r\nEND\r\n" {
		t.Errorf("got %q", got)
	}
	if s2.store.flushAt.Load() == 0 {
		t.Error("pending delayed flush_all lost on restart")
	}
}

// writeSets stores k0..k(n-1) = v<i> through the protocol.
func writeSets(s *Server, n int, prefix string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("%s%d", prefix, i)
		fmt.Fprintf(&b, "set k%d 0 0 %d\r\n%s\r\n", i, len(v), v)
	}
	return converse(s, b.String())
}

func checkSets(t *testing.T, s *Server, n int, prefix string) {
	t.Helper()
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("%s%d", prefix, i)
		want := fmt.Sprintf("VALUE k%d 0 %d\r\n%s\r\nEND\r\n", i, len(v), v)
		if got := converse(s, fmt.Sprintf("get k%d\r\n", i)); got != want {
			t.Fatalf("k%d: got %q, want %q", i, got, want)
		}
	}
}

func TestTornTailIsTruncated(t *testing.T) {
	for _, tail := range []struct {
		name string
		junk func(last []byte) []byte
	}{
		{"garbage", func([]byte) []byte { return []byte("\x17\x00garbage that is not a record") }},
		{"half a record", func(last []byte) []byte { return last[:len(last)/2] }},
		{"header only", func(last []byte) []byte { return last[:recHeader] }},
		{"bad crc", func(last []byte) []byte { b := append([]byte(nil), last...); b[len(b)-1] ^= 0xff; return b }},
	} {
		t.Run(tail.name, func(t *testing.T) {
			dir := t.TempDir()
			s := newDiskServer(t, dir, Config{})
			writeSets(s, 50, "v")
			s.Close()
			path := newestLog(t, dir)
			good, _ := os.ReadFile(path)
			last := appendRecord(nil, &record{op: opSet, key: "k0", value: []byte("torn"), cas: 999})
			f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			f.Write(tail.junk(last))
			f.Close()

			s2 := newDiskServer(t, dir, Config{})
			checkSets(t, s2, 50, "v")
			if fi, _ := os.Stat(path); fi.Size() != int64(len(good)) {
				t.Errorf("log is %d bytes after recovery, want truncated to %d", fi.Size(), len(good))
			}
			writeSets(s2, 5, "w") // the log accepts new records after the cut
			s2.Close()
			s3 := newDiskServer(t, dir, Config{})
			defer s3.Close()
			checkSets(t, s3, 5, "w")
		})
	}
}

func TestCorruptRecordStopsReplay(t *testing.T) {
	dir := t.TempDir()
	s := newDiskServer(t, dir, Config{})
	writeSets(s, 10, "v")
	s.Close()
	path := newestLog(t, dir)
	data, _ := os.ReadFile(path)
	recLen := len(appendRecord(nil, &record{op: opSet, key: "k0", value: []byte("v0")}))
	// Corrupt the 6th record's value byte (k5, 2-byte values "v5").
	data[len(logMagic)+5*recLen+recLen-1] ^= 0x55
	os.WriteFile(path, data, 0o600)
	s2 := newDiskServer(t, dir, Config{})
	defer s2.Close()
	checkSets(t, s2, 5, "v")
	if got := converse(s2, "get k5 k9\r\n"); got != "END\r\n" {
		t.Errorf("records after the corrupt one were replayed: %q", got)
	}
}

func TestCompactionRecovers(t *testing.T) {
	dir := t.TempDir()
	s := newDiskServer(t, dir, Config{CompactBytes: 16 << 10})
	// Concurrent writers while snapshots run.
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var b strings.Builder
			for i := 0; i < 500; i++ {
				fmt.Fprintf(&b, "set w%d-%d 0 0 100\r\n%s\r\n", w, i%200, strings.Repeat(string(rune('a'+w)), 100))
			}
			converse(s, b.String())
		}(w)
	}
	wg.Wait()
	writeSets(s, 300, "final")
	deadline := time.Now().Add(10 * time.Second)
	for s.snaps.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.snaps.Load() == 0 {
		t.Fatal("no snapshot was written")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, "snapshot-*.jsonl"))
	logs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	if len(snaps) != 1 || len(logs) > 2 {
		t.Errorf("after compaction: snapshots %v, logs %v; want one snapshot and old logs removed", snaps, logs)
	}
	if fi, _ := os.Stat(snaps[0]); fi.Mode().Perm() != 0o600 {
		t.Errorf("snapshot mode %v, want 0600", fi.Mode().Perm())
	}
	s2 := newDiskServer(t, dir, Config{})
	defer s2.Close()
	checkSets(t, s2, 300, "final")
	if n := s2.store.nItems.Load(); n != 4*200+300 {
		t.Errorf("%d entries after recovery, want %d", n, 4*200+300)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	st := newStore(storeConfig{shards: 8, maxValue: 1 << 20}, nil)
	now := time.Now().UnixNano()
	st.store(modeSet, []byte("bin\xff"), 42, 0, []byte("\x00\r\n\xfe"), 0, now)
	st.store(modeSet, []byte("exp"), 1, now+int64(time.Hour), []byte(""), 0, now)
	st.store(modeSet, []byte("dead"), 1, 1, []byte("x"), 0, now)
	dir := t.TempDir()
	if _, err := writeSnapshot(context.Background(), osOpenFile, dir, 3, st); err != nil {
		t.Fatal(err)
	}
	st2 := newStore(storeConfig{shards: 2, maxValue: 1 << 20}, nil)
	n, err := loadSnapshot(filepath.Join(dir, snapshotName(3)), st2)
	if err != nil || n != 2 {
		t.Fatalf("loaded %d entries, err %v; want 2 (expired one skipped)", n, err)
	}
	v, ok, _ := st2.get([]byte("bin\xff"), now)
	if !ok || string(v.value) != "\x00\r\n\xfe" || v.flags != 42 || v.cas != 1 {
		t.Errorf("binary entry: %+v %v", v, ok)
	}
	if st2.cas.Load() < 3 {
		t.Errorf("cas counter %d not restored", st2.cas.Load())
	}
	// A truncated snapshot is refused rather than half-loaded.
	path := filepath.Join(dir, snapshotName(3))
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)-5], 0o600)
	if _, err := loadSnapshot(path, newStore(storeConfig{shards: 2, maxValue: 1}, nil)); err == nil {
		t.Error("truncated snapshot loaded without error")
	}
}

// TestAnswersWaitForDurability holds the log's flusher back: neither the
// writer's STORED nor another client's read of the new value may be sent
// before the record is fsynced, while a read of an untouched shard is not
// held up.
func TestAnswersWaitForDurability(t *testing.T) {
	for _, mode := range loopModes {
		t.Run(mode.String(), func(t *testing.T) { testAnswersWaitForDurability(t, mode) })
	}
}

func testAnswersWaitForDurability(t *testing.T, mode LoopMode) {
	st := newStore(storeConfig{shards: 16, maxValue: 1 << 20}, nil)
	w, _, err := openDir(t.TempDir(), st, FsyncAlways, 1<<30, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.j = w
	s := &Server{cfg: (&Config{Loop: mode}).withDefaults(), store: st, wal: w, stats: &counters{}, conns: map[io.Closer]struct{}{}}
	s.snapCtx, s.snapStop = context.WithCancel(context.Background())
	if err := s.startLoops(); err != nil {
		t.Fatal(err)
	}
	addr := startTCP(t, s)
	var startOnce sync.Once
	startFlusher := func() { startOnce.Do(w.start) }
	t.Cleanup(func() { startFlusher(); s.Close() })
	other := "other"
	for i := 0; st.shardOf([]byte(other)) == st.shardOf([]byte("k")); i++ {
		other = fmt.Sprint("other", i)
	}
	ask := func(in string) <-chan string {
		ch := make(chan string, 1)
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.Write([]byte(in))
		go func() {
			line, _ := bufio.NewReader(nc).ReadString('\n')
			ch <- line
		}()
		return ch
	}
	set := ask("set k 0 0 1\r\nx\r\n")
	// Wait until the set is applied (its record cannot be durable yet).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, ok, _ := st.get([]byte("k"), time.Now().UnixNano()); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the set was not applied within 10 s")
		}
	}
	get := ask("get k\r\n")
	if line := <-ask("get " + other + "\r\n"); line != "END\r\n" {
		t.Errorf("read of another shard: %q", line)
	}
	select {
	case line := <-set:
		t.Fatalf("set answered %q before its record was durable", line)
	case line := <-get:
		t.Fatalf("get answered %q before the value it saw was durable", line)
	case <-time.After(200 * time.Millisecond):
	}
	startFlusher()
	if line := <-set; line != "STORED\r\n" {
		t.Errorf("set: %q", line)
	}
	if line := <-get; line != "VALUE k 0 1\r\n" {
		t.Errorf("get: %q", line)
	}
}
