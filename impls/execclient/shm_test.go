package execclient

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/proc"
	"github.com/kvbench/kvbench/internal/kvbenchtest"
)

// TestKvbenchClientShm: `kvbench client shm --create` makes the file, a
// `kvbench serve shm` maps it, and two exec: clients (thread ids from
// KVBENCH_CLIENT_ID) share its table. PUT answers Found Unknown (the ring
// does not say), SWAP is unsupported.
func TestKvbenchClientShm(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kvbench")
	}
	exe := kvbench(t)
	file := filepath.Join(t.TempDir(), "shmem_file")
	if out, err := exec.Command(exe, "client", "shm", "--file", file, "--create", "-n", "2").CombinedOutput(); err != nil {
		t.Fatalf("--create: %v\n%s", err, out)
	}
	var log syncBuffer
	srv, err := proc.Start(context.Background(), proc.Spec{Name: "shm", Path: exe, Args: []string{"serve", "shm", "--file", file},
		Log: &log, Ready: func(context.Context) error {
			if !strings.Contains(log.String(), "shm server ready") {
				return errors.New("not yet")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Kill()

	_, c := openExec(t, "kvbench client shm --file "+shellQuote(file), 2, 0)
	cl0, err := c.NewClient(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	cl1, err := c.NewClient(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	unknown := impls.Response{Found: impls.Unknown}
	run(t, cl0, []step{{get("7"), absent}, {put("7", "42"), unknown}, {get("7"), val("42")}})
	run(t, cl1, []step{{get("7"), val("42")}, {put("7", "43"), unknown}})
	run(t, cl0, []step{{get("7"), val("43")}})
	if _, err := cl1.Do(context.Background(), swap("7", "1")); !errors.Is(err, impls.ErrUnsupported) {
		t.Errorf("SWAP = %v, want ErrUnsupported", err)
	}
	run(t, cl1, []step{{get("7"), val("43")}})
}

// syncBuffer collects a started process's output while the test reads it.
type syncBuffer = kvbenchtest.Buffer
