package shm

import (
	"os"
	"testing"

	"github.com/kvbench/kvbench/internal/kvbenchtest"
)

// TestMain lets this test binary stand in for `kvbench serve shm` (see
// kvbenchtest.ServeIfChild), so tests start real server processes.
func TestMain(m *testing.M) {
	kvbenchtest.ServeIfChild("shm", serve)
	os.Exit(m.Run())
}

// serverExe is this test binary, run as `serve shm ARGS`.
func serverExe(t testing.TB) string { return kvbenchtest.ServerExe(t) }
