package results

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CreateTemp creates a new file in dir named by pattern (a "*" is replaced
// by a random string), like os.CreateTemp, but with mode 0666 less the
// umask (0644 by default) instead of 0600: results are meant to be read
// by others (a report, a course's graders). Only store data, shared memory
// and fifos stay private, and they are not results.
func CreateTemp(dir, pattern string) (*os.File, error) {
	prefix, suffix, _ := strings.Cut(pattern, "*")
	for i := 0; i < 10000; i++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(time.Now().UnixNano())+uint64(i)*7919, 36)+suffix)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("create temp file in %s: %w", dir, os.ErrExist)
}

// OwnerFile is created in a run directory by NewDir and holds the pid of
// the kvbench writing it; WriteRun removes it. A directory without run.json
// whose owner is gone was left by a kvbench that was killed (SIGKILL, a
// crash, a power cut) before it finished.
const OwnerFile = ".kvbench.owner"

// Partial is a run directory without run.json.
type Partial struct {
	Dir string
	// Running is set when the kvbench that owns it is still alive: the run
	// is in progress, not abandoned.
	Running bool
}

// FindPartial lists the directories under base (or base itself) that look
// like run directories (named like NewDir's, or holding OwnerFile or
// server.log) but have no run.json, sorted by name.
func FindPartial(base string) ([]Partial, error) {
	if _, err := os.Stat(filepath.Join(base, RunFile)); err == nil {
		return nil, nil
	}
	var dirs []string
	if isRunDirName(filepath.Base(base)) || exists(filepath.Join(base, OwnerFile)) {
		dirs = append(dirs, base)
	} else {
		entries, err := os.ReadDir(base)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(base, e.Name()))
			}
		}
	}
	var out []Partial
	for _, d := range dirs {
		if exists(filepath.Join(d, RunFile)) {
			continue
		}
		owner := filepath.Join(d, OwnerFile)
		if !isRunDirName(filepath.Base(d)) && !exists(owner) && !exists(filepath.Join(d, "server.log")) {
			continue
		}
		out = append(out, Partial{Dir: d, Running: ownerAlive(owner)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out, nil
}

// isRunDirName reports whether name looks like NewDir's
// "20261121-130501-run-memkv" or "...-fuzz-...".
func isRunDirName(name string) bool {
	if len(name) < 17 || name[8] != '-' || name[15] != '-' {
		return false
	}
	for i, c := range name[:15] {
		if i != 8 && (c < '0' || c > '9') {
			return false
		}
	}
	rest := name[16:]
	return strings.HasPrefix(rest, "run-") || strings.HasPrefix(rest, "fuzz-")
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// ownerAlive reports whether the pid in an owner file is a live process.
func ownerAlive(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return true
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
