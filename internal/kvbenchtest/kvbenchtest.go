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
// $KVBENCH_EXE to it, so proc.Executable finds it. Each test binary (one per
// package) rebuilds one fixed file, $TMPDIR/kvbench-test-bin/<pkg>.test/kvbench,
// so test runs do not leave a binary behind each; the build goes to a temp
// name first and is renamed into place, so servers still running from an
// earlier build keep their file.
func Binary(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir := filepath.Join(os.TempDir(), "kvbench-test-bin", filepath.Base(os.Args[0]))
		if binErr = os.MkdirAll(dir, 0o755); binErr != nil {
			return
		}
		binPath = filepath.Join(dir, "kvbench")
		tmp := binPath + ".building"
		cmd := exec.Command("go", "build", "-o", tmp, "./cmd/kvbench")
		cmd.Dir = root
		if out, binErr = cmd.CombinedOutput(); binErr == nil {
			binErr = os.Rename(tmp, binPath)
		}
	})
	if binErr != nil {
		t.Fatalf("build kvbench: %v\n%s", binErr, out)
	}
	t.Setenv("KVBENCH_EXE", binPath)
	return binPath
}
