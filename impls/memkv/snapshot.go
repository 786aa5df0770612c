package memkv

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Snapshot file layout (JSON Lines, the original's JSON store grown up):
//
//	{"format":"memkv-snapshot","version":1,"gen":G,"cas":C,"flush_at":D}
//	{"k":"<base64 key>","v":"<base64 value>","f":flags,"e":exp,"c":cas}   one per entry
//	{"end":true,"items":N}
//
// Keys and values are base64 because they are arbitrary bytes. exp and
// flush_at are Unix nanoseconds (0 = none). snapshot-G covers every record
// of log generations below G and possibly a prefix of generation G, which
// recovery replays on top. A snapshot is written to a .tmp file, fsynced,
// renamed and the directory fsynced, so it is either complete or absent.
const snapshotFormat = "memkv-snapshot"

type snapHeader struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Gen     uint64 `json:"gen"`
	Cas     uint64 `json:"cas"`
	FlushAt int64  `json:"flush_at"`
}

type snapLine struct {
	K     []byte `json:"k"`
	V     []byte `json:"v"`
	F     uint32 `json:"f"`
	E     int64  `json:"e"`
	C     uint64 `json:"c"`
	End   bool   `json:"end"`
	Items int    `json:"items"`
}

// writeSnapshot writes snapshot-gen of st into dir and, once it is durable,
// removes the log files and snapshots it supersedes. Writers are blocked
// only while one shard's entries are copied out (references, not bytes).
func writeSnapshot(ctx context.Context, open openFileFunc, dir string, gen uint64, st *memStore) (int, error) {
	final := filepath.Join(dir, snapshotName(gen))
	tmp := final + ".tmp"
	f, err := open(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := writeSnapshotTo(ctx, f, gen, st)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	removeSuperseded(dir, gen)
	return n, nil
}

func writeSnapshotTo(ctx context.Context, w io.Writer, gen uint64, st *memStore) (int, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	hdr, _ := json.Marshal(snapHeader{Format: snapshotFormat, Version: 1, Gen: gen, Cas: st.cas.Load(), FlushAt: st.flushAt.Load()})
	bw.Write(hdr)
	bw.WriteByte('\n')
	var items []snapItem
	var line []byte
	n := 0
	now := time.Now().UnixNano()
	for i := range st.shards {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		items = st.copyShard(i, items[:0], now)
		for _, it := range items {
			line = append(line[:0], `{"k":"`...)
			line = base64.StdEncoding.AppendEncode(line, []byte(it.key))
			line = append(line, `","v":"`...)
			line = base64.StdEncoding.AppendEncode(line, it.value)
			line = append(line, `","f":`...)
			line = strconv.AppendUint(line, uint64(it.flags), 10)
			line = append(line, `,"e":`...)
			line = strconv.AppendInt(line, it.exp, 10)
			line = append(line, `,"c":`...)
			line = strconv.AppendUint(line, it.cas, 10)
			line = append(line, "}\n"...)
			if _, err := bw.Write(line); err != nil {
				return 0, err
			}
			n++
		}
		clear(items) // drop references to values early
	}
	fmt.Fprintf(bw, "{\"end\":true,\"items\":%d}\n", n)
	return n, bw.Flush()
}

// loadSnapshot applies a snapshot file to an empty store.
func loadSnapshot(path string, st *memStore) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	bad := func(why string) error { return fmt.Errorf("snapshot %s is corrupt: %s", path, why) }
	line, err := br.ReadBytes('\n')
	if err != nil {
		return 0, bad("no header")
	}
	var h snapHeader
	if json.Unmarshal(line, &h) != nil || h.Format != snapshotFormat {
		return 0, bad("bad header")
	}
	if h.Version != 1 {
		return 0, fmt.Errorf("snapshot %s has version %d; this memkv reads version 1", path, h.Version)
	}
	n := 0
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return 0, bad("no trailer (truncated)")
		}
		var l snapLine
		if err := json.Unmarshal(line, &l); err != nil {
			return 0, bad(fmt.Sprintf("entry %d: %v", n+1, err))
		}
		if l.End {
			if l.Items != n {
				return 0, bad(fmt.Sprintf("trailer says %d entries, read %d", l.Items, n))
			}
			break
		}
		if l.V == nil {
			l.V = []byte{}
		}
		st.apply(&record{op: opSet, key: string(l.K), value: l.V, flags: l.F, exp: l.E, cas: l.C})
		n++
	}
	if h.Cas > st.cas.Load() {
		st.cas.Store(h.Cas)
	}
	st.flushAt.Store(h.FlushAt)
	return n, nil
}

// removeSuperseded deletes log generations and snapshots older than gen.
func removeSuperseded(dir string, gen uint64) {
	files, _ := listDir(dir)
	for _, f := range files {
		if f.gen < gen {
			os.Remove(filepath.Join(dir, f.name))
		}
	}
	_ = syncDir(dir)
}

type dataFile struct {
	name     string
	gen      uint64
	snapshot bool
}

// listDir returns the data directory's logs and snapshots sorted by
// generation (a snapshot before the log of the same generation) and removes
// leftover .tmp files of interrupted snapshots.
func listDir(dir string) ([]dataFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []dataFile
	for _, e := range ents {
		name := e.Name()
		var gen uint64
		switch {
		case strings.HasSuffix(name, ".tmp"):
			os.Remove(filepath.Join(dir, name))
		case scanGen(name, "wal-", ".log", &gen):
			out = append(out, dataFile{name, gen, false})
		case scanGen(name, "snapshot-", ".jsonl", &gen):
			out = append(out, dataFile{name, gen, true})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].gen != out[j].gen {
			return out[i].gen < out[j].gen
		}
		return out[i].snapshot && !out[j].snapshot
	})
	return out, nil
}

func scanGen(name, prefix, suffix string, gen *uint64) bool {
	if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
		return false
	}
	g, err := strconv.ParseUint(name[len(prefix):len(name)-len(suffix)], 16, 64)
	*gen = g
	return err == nil
}

// recovery summarizes what openDir found, for the startup message.
type recovery struct {
	snapshot  string
	items     int
	records   int
	truncated string // "wal-...log at offset N", when a torn tail was cut
	dropped   []string
}

// openDir recovers st from dir (creating it 0700 if needed) and returns the
// log to append to: the newest snapshot, then every later log generation
// replayed in order, stopping at the first torn or corrupt record. The log
// is truncated there and any later generation is removed, so the recovered
// state is a prefix of the logged history.
func openDir(dir string, st *memStore, mode FsyncMode, compactBytes int64, open openFileFunc) (*wal, recovery, error) {
	if open == nil {
		open = osOpenFile
	}
	var rec recovery
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, rec, err
	}
	files, err := listDir(dir)
	if err != nil {
		return nil, rec, err
	}
	var snapGen uint64
	for _, f := range files {
		if f.snapshot {
			snapGen = f.gen
			rec.snapshot = f.name
		}
	}
	if rec.snapshot != "" {
		if rec.items, err = loadSnapshot(filepath.Join(dir, rec.snapshot), st); err != nil {
			return nil, rec, err
		}
		// A crash between a snapshot's rename and the cleanup leaves
		// superseded files behind.
		removeSuperseded(dir, snapGen)
	}
	var logs []dataFile
	for _, f := range files {
		if !f.snapshot && f.gen >= snapGen {
			logs = append(logs, f)
		}
	}
	var gen uint64
	var size int64
	for i, lf := range logs {
		n, end, torn, err := replayLog(filepath.Join(dir, lf.name), st)
		if err != nil {
			return nil, rec, err
		}
		rec.records += n
		gen, size = lf.gen, end
		if torn {
			if err := truncateLog(filepath.Join(dir, lf.name), end); err != nil {
				return nil, rec, err
			}
			if end < int64(len(logMagic)) {
				size = int64(len(logMagic))
			}
			rec.truncated = fmt.Sprintf("%s at offset %d", lf.name, end)
			for _, later := range logs[i+1:] {
				os.Remove(filepath.Join(dir, later.name))
				rec.dropped = append(rec.dropped, later.name)
			}
			_ = syncDir(dir)
			break
		}
	}
	var f logFile
	if len(logs) == 0 {
		gen = max(snapGen, 1)
		if f, err = createLogFile(open, dir, gen); err != nil {
			return nil, rec, err
		}
		size = int64(len(logMagic))
	} else if f, err = open(filepath.Join(dir, logName(gen)), os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, rec, err
	} else if err := f.Sync(); err != nil {
		// What was replayed may have been in the page cache only (a killed
		// process's unsynced writes); make it durable before serving it.
		f.Close()
		return nil, rec, err
	}
	return newWAL(dir, mode, f, gen, size, compactBytes, open), rec, nil
}

// replayLog applies one log file's valid prefix to st. end is the offset
// just past the last good record; torn reports that bytes follow it.
func replayLog(path string, st *memStore) (n int, end int64, torn bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, false, err
	}
	total := fi.Size()
	br := bufio.NewReaderSize(f, 1<<20)
	var magic [len(logMagic)]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil || string(magic[:]) != logMagic {
		return 0, 0, total > 0 || err != nil, nil
	}
	end = int64(len(logMagic))
	for {
		r, sz, err := readRecord(br, total-end)
		if errors.Is(err, io.EOF) {
			return n, end, false, nil
		}
		if err != nil {
			return n, end, true, nil
		}
		st.apply(&r)
		n++
		end += sz
	}
}

// truncateLog cuts a log at end (rewriting the magic if even that was torn)
// and fsyncs it.
func truncateLog(path string, end int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if end < int64(len(logMagic)) {
		if err := f.Truncate(0); err != nil {
			return err
		}
		if _, err := f.WriteAt([]byte(logMagic), 0); err != nil {
			return err
		}
	} else if err := f.Truncate(end); err != nil {
		return err
	}
	return f.Sync()
}
