package memkv

import (
	"os"
	"testing"

	"github.com/kvbench/kvbench/internal/kvbenchtest"
)

// TestMain lets this test binary stand in for `kvbench serve memkv` (see
// kvbenchtest.ServeIfChild), so tests start real server processes.
func TestMain(m *testing.M) {
	kvbenchtest.ServeIfChild("memkv", serve)
	os.Exit(m.Run())
}

// serverExe is this test binary, run as `serve memkv ARGS`.
func serverExe(t testing.TB) string { return kvbenchtest.ServerExe(t) }
