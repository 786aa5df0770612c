package istkvs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Config configures a Server.
type Config struct {
	// Dir is the jobs directory.
	Dir string
	// Threads is how many jobs run at once (max_threads); Backups how many
	// backups may be written at once (max_backups).
	Threads, Backups int
	// RegisterFifo, when set, is part 2: the server creates this fifo and
	// serves sessions on it.
	RegisterFifo string
	// Sessions is S, how many sessions are served at once (default 8).
	Sessions int
	// Watch keeps the server running after the jobs present at start are
	// done, running every .job file that appears (part 2 always watches).
	Watch bool
	// NotifyTimeout bounds one notification write to a client that does
	// not read; past it the session is dropped (default 1 s).
	NotifyTimeout time.Duration
	// Stdout receives WAIT's and HELP's output, Stderr the invalid-command
	// message and errors. Nil discards.
	Stdout, Stderr io.Writer

	// bugs are deliberate defects for tests of kvbench's checkers.
	bugs bugs
}

// bugs are deliberate defects, set only by this package's tests to show
// that the checkers catch them.
type bugs struct {
	splitRead        bool // a multi-key READ is not atomic
	loseNotification int  // drop every n-th notification (0: none)
}

// Server is an IST-KVS server: one table, the jobs of one directory, and
// (part 2) client sessions.
type Server struct {
	cfg   Config
	table *Table

	outMu       sync.Mutex // serializes writes to Stdout and Stderr
	backupSlots chan struct{}
	backups     sync.WaitGroup
	sessions    *sessions
	jobsDone    chan string // optional: told each finished job path (tests)
	backupHook  func()      // optional: called by each backup writer before writing (tests)
}

// NewServer validates cfg and returns a server with an empty table.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Threads < 1 || cfg.Backups < 1 {
		return nil, fmt.Errorf("istkvs: max_threads and max_backups must be at least 1 (got %d, %d)", cfg.Threads, cfg.Backups)
	}
	if st, err := os.Stat(cfg.Dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("istkvs: jobs directory %q: %w", cfg.Dir, errors.Join(err, errNotDir(st)))
	}
	if cfg.Sessions == 0 {
		cfg.Sessions = 8
	}
	if cfg.NotifyTimeout == 0 {
		cfg.NotifyTimeout = time.Second
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	s := &Server{cfg: cfg, table: NewTable(), backupSlots: make(chan struct{}, cfg.Backups)}
	s.table.splitRead = cfg.bugs.splitRead
	s.sessions = newSessions(s)
	s.table.onChange = s.sessions.notify
	return s, nil
}

func errNotDir(st os.FileInfo) error {
	if st != nil && !st.IsDir() {
		return errors.New("not a directory")
	}
	return nil
}

// Table returns the server's table.
func (s *Server) Table() *Table { return s.table }

func (s *Server) printf(w io.Writer, format string, a ...any) {
	s.outMu.Lock()
	fmt.Fprintf(w, format, a...)
	s.outMu.Unlock()
}

// IsJobName reports whether name (a base name) is a job: it ends in ".job"
// and is not just ".job".
func IsJobName(name string) bool { return strings.HasSuffix(name, ".job") && len(name) > len(".job") }

// OutPath returns the .out file of a job file path.
func OutPath(job string) string { return strings.TrimSuffix(job, ".job") + ".out" }

// BackupPath returns the n-th (from 1) backup file of a job file path:
// the job's name up to its first '.', then "-n.bck", in the same directory.
func BackupPath(job string, n int) string {
	dir, base := filepath.Split(job)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	return filepath.Join(dir, base+"-"+strconv.Itoa(n)+".bck")
}

// ListJobs returns the job files of dir, sorted by name.
func ListJobs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("istkvs: %w", err)
	}
	var jobs []string
	for _, e := range ents {
		if IsJobName(e.Name()) && e.Type().IsRegular() {
			jobs = append(jobs, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(jobs)
	return jobs, nil
}

// Run runs the server until its work is done (part 1 without Watch: every
// job present at start, and every backup) or ctx is cancelled.
func (s *Server) Run(ctx context.Context) error {
	watch := s.cfg.Watch || s.cfg.RegisterFifo != ""
	queue := make(chan string, 1024)
	var workers sync.WaitGroup
	for range s.cfg.Threads {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for job := range queue {
				s.RunJob(ctx, job)
			}
		}()
	}
	var runErr error
	if watch {
		runErr = s.watchAndServe(ctx, queue)
	} else {
		jobs, err := ListJobs(s.cfg.Dir)
		runErr = err
	feed:
		for _, j := range jobs {
			select {
			case queue <- j:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(queue)
	workers.Wait()
	s.backups.Wait()
	return runErr
}

// watchAndServe watches the directory for new jobs (and serves sessions
// when a register fifo is configured) until ctx ends.
func (s *Server) watchAndServe(ctx context.Context, queue chan<- string) error {
	w, err := newWatcher(s.cfg.Dir)
	if err != nil {
		return err
	}
	defer w.close()
	var hostErr chan error
	if s.cfg.RegisterFifo != "" {
		hostErr = make(chan error, 1)
		ready := make(chan error, 1)
		go func() { hostErr <- s.sessions.host(ctx, s.cfg.RegisterFifo, ready) }()
		if err := <-ready; err != nil {
			return err
		}
	}
	seen := newSeenJobs()
	rescan := func() {
		jobs, _ := ListJobs(s.cfg.Dir)
		for _, j := range jobs {
			if seen.changed(j) {
				select {
				case queue <- j:
				case <-ctx.Done():
				}
			}
		}
	}
	rescan()
	fmt.Fprintf(s.cfg.Stderr, "istkvs: serving %s (%d threads, %d backups", s.cfg.Dir, s.cfg.Threads, s.cfg.Backups)
	if s.cfg.RegisterFifo != "" {
		fmt.Fprintf(s.cfg.Stderr, ", register fifo %s, %d sessions", s.cfg.RegisterFifo, s.cfg.Sessions)
	}
	fmt.Fprintln(s.cfg.Stderr, ")")
	err = w.run(ctx, func(name string) {
		if j := filepath.Join(s.cfg.Dir, name); IsJobName(name) && seen.changed(j) {
			select {
			case queue <- j:
			case <-ctx.Done():
			}
		}
	}, func(name string) { seen.forget(filepath.Join(s.cfg.Dir, name)) }, rescan)
	if hostErr != nil {
		err = errors.Join(err, <-hostErr)
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// RunJob runs one job file to completion, writing its .out and backups
// (backups finish in the background; Run waits for them).
func (s *Server) RunJob(ctx context.Context, job string) {
	if len(job) > MaxJobPath {
		s.printf(s.cfg.Stderr, "istkvs: job path longer than %d characters: %s\n", MaxJobPath, job)
		return
	}
	data, err := os.ReadFile(job)
	if err != nil {
		s.printf(s.cfg.Stderr, "istkvs: %v\n", err)
		return
	}
	out, err := os.OpenFile(OutPath(job), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		s.printf(s.cfg.Stderr, "istkvs: %v\n", err)
		return
	}
	defer out.Close()
	var buf []byte
	flush := func() {
		if len(buf) > 0 {
			if _, err := out.Write(buf); err != nil {
				s.printf(s.cfg.Stderr, "istkvs: %v\n", err)
			}
			buf = buf[:0]
		}
	}
	nBackup := 0
	for len(data) > 0 && ctx.Err() == nil {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		cmd, err := ParseLine(line)
		if err != nil {
			s.printf(s.cfg.Stderr, "%s\n", InvalidMessage)
			continue
		}
		switch cmd.Op {
		case OpWrite:
			s.table.Write(cmd.Pairs)
		case OpRead:
			vals, found := s.table.Read(cmd.Keys)
			buf = appendRead(buf, cmd.Keys, vals, found)
		case OpDelete:
			buf = appendDelete(buf, s.table.Delete(cmd.Keys))
		case OpShow:
			buf = s.table.AppendShow(buf)
		case OpWait:
			flush()
			s.printf(s.cfg.Stdout, "Waiting...\n")
			t := time.NewTimer(time.Duration(cmd.Delay) * time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		case OpBackup:
			flush()
			nBackup++
			s.backup(ctx, BackupPath(job, nBackup))
		case OpHelp:
			s.printf(s.cfg.Stdout, "%s", HelpText)
		}
	}
	flush()
	if s.jobsDone != nil {
		s.jobsDone <- job
	}
}

// backup waits for one of the max_backups slots, snapshots the table at
// that instant (O(1)) and writes the snapshot to path in the background.
func (s *Server) backup(ctx context.Context, path string) {
	select {
	case s.backupSlots <- struct{}{}:
	case <-ctx.Done():
		return
	}
	snap := s.table.Snapshot()
	s.backups.Add(1)
	go func() {
		defer s.backups.Done()
		defer func() { <-s.backupSlots }()
		if s.backupHook != nil {
			s.backupHook()
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err == nil {
			err = errors.Join(snap.WriteShow(f), f.Close())
		}
		if err != nil {
			s.printf(s.cfg.Stderr, "istkvs: backup: %v\n", err)
		}
	}()
}

// seenJobs remembers which version of each job file was queued, so a
// rescan does not run a job again and an event for a rewritten file does.
type seenJobs struct {
	mu sync.Mutex
	m  map[string]fileVersion
}

// fileVersion identifies one version of a file.
type fileVersion struct {
	ino, size uint64
	mtime     int64
}

func newSeenJobs() *seenJobs { return &seenJobs{m: map[string]fileVersion{}} }

// changed reports whether path is a regular file in a version not queued
// before, and records it as queued.
func (s *seenJobs) changed(path string) bool {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	v := fileVersion{size: uint64(st.Size()), mtime: st.ModTime().UnixNano()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		v.ino = sys.Ino
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[path]; ok && old == v {
		return false
	}
	s.m[path] = v
	return true
}

// forget drops path (its file was removed).
func (s *seenJobs) forget(path string) {
	s.mu.Lock()
	delete(s.m, path)
	s.mu.Unlock()
}
