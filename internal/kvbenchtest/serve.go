package kvbenchtest

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// ServeFunc is a store's `kvbench serve NAME` entry point (impls.Impl.Serve).
type ServeFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// ServeIfChild lets a store package's test binary stand in for kvbench, so
// its integration tests start real server processes without building
// cmd/kvbench: run as `<test binary> serve NAME ARGS...` (the children of
// ServerExe), it runs serve with ARGS until SIGINT or SIGTERM and exits, as
// `kvbench serve NAME ARGS...` does; otherwise it returns. Call it first in
// TestMain. (A test binary's own arguments are -test.* flags, never serve.)
func ServeIfChild(name string, serve ServeFunc) {
	if len(os.Args) < 3 || os.Args[1] != "serve" || os.Args[2] != name {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := serve(ctx, os.Args[3:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvbench:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// ServerExe returns this test binary, which ServeIfChild turns into the
// store's server when it is started as `serve NAME ARGS...`.
func ServerExe(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}
