package scenarios

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrUnsafeFresh is returned (wrapped) when a --fresh path is one kvbench
// refuses to empty: the root, the home directory, an ancestor of the working
// directory (the repo root among them), a repository, or anything that is
// not a directory or regular file owned by the user.
var ErrUnsafeFresh = errors.New("refusing to empty")

// emptyFresh empties each path before a run starts the user's service: a
// directory loses everything under it (it stays, empty), a regular file is
// removed; a path that does not exist is already fresh. Every path is
// checked before anything is removed, so one refused path removes nothing.
// It says what it removed on log (the run's server.log).
func emptyFresh(paths []string, log io.Writer) error {
	if len(paths) == 0 {
		return nil
	}
	abs := make([]string, len(paths))
	exists := make([]bool, len(paths))
	for i, p := range paths {
		a, ok, err := checkFresh(p)
		if err != nil {
			return err
		}
		abs[i], exists[i] = a, ok
	}
	for i, a := range abs {
		if !exists[i] {
			fmt.Fprintf(log, "kvbench --fresh: %s does not exist; nothing to remove\n", a)
			continue
		}
		fi, err := os.Lstat(a)
		if err != nil {
			return fmt.Errorf("--fresh %s: %w", a, err)
		}
		if !fi.IsDir() {
			if err := os.Remove(a); err != nil {
				return fmt.Errorf("--fresh %s: %w", a, err)
			}
			fmt.Fprintf(log, "kvbench --fresh: removed file %s (%d bytes)\n", a, fi.Size())
			continue
		}
		entries, err := os.ReadDir(a)
		if err != nil {
			return fmt.Errorf("--fresh %s: %w", a, err)
		}
		var names []string
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(a, e.Name())); err != nil {
				return fmt.Errorf("--fresh %s: %w", a, err)
			}
			names = append(names, e.Name())
		}
		fmt.Fprintf(log, "kvbench --fresh: emptied directory %s (removed %d entries: %s)\n", a, len(names), strings.Join(names, " "))
	}
	return nil
}

// checkFresh returns p made absolute and whether it exists, or an error
// wrapping ErrUnsafeFresh when kvbench must not empty it.
func checkFresh(p string) (string, bool, error) {
	if strings.TrimSpace(p) == "" {
		return "", false, fmt.Errorf("--fresh %q: %w an empty path", p, ErrUnsafeFresh)
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return "", false, fmt.Errorf("--fresh %s: %w", p, err)
	}
	refuse := func(why string) (string, bool, error) {
		return "", false, fmt.Errorf("--fresh %s: %w %s: %s", p, ErrUnsafeFresh, a, why)
	}
	if a == "/" {
		return refuse("it is the root directory")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" && sameOrAncestor(a, home) {
		return refuse("it is your home directory or holds it")
	}
	if wd, err := os.Getwd(); err == nil && sameOrAncestor(a, wd) {
		return refuse("it is the working directory or holds it (the repository root)")
	}
	fi, err := os.Lstat(a)
	if errors.Is(err, os.ErrNotExist) {
		return a, false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("--fresh %s: %w", p, err)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return refuse("it is a symbolic link; name its target")
	case !fi.IsDir() && !fi.Mode().IsRegular():
		return refuse("it is neither a directory nor a regular file")
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Getuid() {
		return refuse("you do not own it")
	}
	if fi.IsDir() {
		if _, err := os.Lstat(filepath.Join(a, ".git")); err == nil {
			return refuse("it is a repository (it holds .git)")
		}
	}
	return a, true, nil
}

// sameOrAncestor reports whether dir is path or one of its ancestors.
func sameOrAncestor(dir, path string) bool {
	dir, path = filepath.Clean(dir), filepath.Clean(path)
	if dir == path {
		return true
	}
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
