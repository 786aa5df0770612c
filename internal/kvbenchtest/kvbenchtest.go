// Package kvbenchtest builds the kvbench binary once per test process, so
// integration tests can start real `kvbench serve` children the way users do.
package kvbenchtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	once    sync.Once
	binPath string
	binErr  error
	out     []byte
)

// Binary returns the path of a freshly built kvbench binary and sets
// $KVBENCH_EXE to it, so proc.Executable finds it. The binary lives in a
// temp dir that is left for the OS to clean (it is shared by all tests of
// the process).
func Binary(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "kvbench-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "kvbench")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/kvbench")
		cmd.Dir = root
		out, binErr = cmd.CombinedOutput()
	})
	if binErr != nil {
		t.Fatalf("build kvbench: %v\n%s", binErr, out)
	}
	t.Setenv("KVBENCH_EXE", binPath)
	return binPath
}
