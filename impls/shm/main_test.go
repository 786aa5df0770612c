package shm

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// asKvbench makes the test binary act as `kvbench serve shm ARGS` when set
// in its environment, so tests and benchmarks can start real server
// processes without building cmd/kvbench (whose other packages may be in
// flux). TestBinary covers the real command line.
const asKvbench = "SHM_TEST_AS_KVBENCH"

func TestMain(m *testing.M) {
	if os.Getenv(asKvbench) == "1" {
		args := os.Args[1:]
		if len(args) < 2 || args[0] != "serve" || args[1] != "shm" {
			fmt.Fprintf(os.Stderr, "%s: want serve shm ARGS, got %q\n", asKvbench, args)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := serve(ctx, args[2:], os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "kvbench:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serverExe returns an executable that runs `serve shm ARGS` as kvbench
// does: this test binary, with asKvbench set for its children.
func serverExe(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(asKvbench, "1")
	return exe
}
