package scenarios

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestRemoveOrphanDirs(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no `true` to make a dead pid")
	}
	mk := func(name, owner string) string {
		d := filepath.Join(tmp, name)
		os.MkdirAll(filepath.Join(d, "memkv-data"), 0o700)
		if owner != "" {
			os.WriteFile(filepath.Join(d, ownerFile), []byte(owner), 0o600)
		}
		return d
	}
	orphan := mk(tempPrefix+"memkv-1", strconv.Itoa(dead.Process.Pid))
	mine := mk(tempPrefix+"memkv-2", strconv.Itoa(os.Getpid()))
	unowned := mk(tempPrefix+"memkv-3", "")
	garbled := mk(tempPrefix+"shm-4", "not a pid")
	other := mk("someone-else", strconv.Itoa(dead.Process.Pid))

	removeOrphanDirs()

	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("dir of a dead kvbench survived: %v", err)
	}
	for _, d := range []string{mine, unowned, garbled, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(d), err)
		}
	}
}
