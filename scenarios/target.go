package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/proc"
	"github.com/kvbench/kvbench/impls/registry"
	"github.com/kvbench/kvbench/results"
)

// startRun creates the run's results directory and starts its target, with
// the servers' output going to server.log in that directory. On failure it
// removes the directory, so a run that never started leaves nothing behind.
func startRun(ctx context.Context, out Output, command string, t Target, clients, window int) (string, *opened, error) {
	dir, err := results.NewDir(outDir(out), command, t.Name(), time.Now())
	if err != nil {
		return "", nil, err
	}
	serverLog, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	if err := emptyFresh(t.Fresh, serverLog); err != nil {
		serverLog.Close()
		os.RemoveAll(dir)
		return "", nil, err
	}
	tgt, err := openTarget(ctx, t, clients, window, serverLog)
	if err != nil {
		serverLog.Close()
		os.RemoveAll(dir)
		return "", nil, err
	}
	stop := tgt.close
	tgt.close = func() { stop(); serverLog.Close() }
	return dir, tgt, nil
}

// opened is a started target: the cluster, the bundled impl (nil for an
// external target) and a cleanup that stops processes and removes temp dirs.
type opened struct {
	cluster impls.Cluster
	impl    *impls.Impl
	close   func()
}

// openTarget starts (or connects to) what t names. log receives server
// output. The caller must call close.
func openTarget(ctx context.Context, t Target, clients, window int, log io.Writer) (*opened, error) {
	switch {
	case t.Impl != "" && t.URL != "":
		return nil, fmt.Errorf("give --impl or --target, not both")
	case t.Impl != "":
		return openImpl(ctx, t, clients, window, log)
	case t.URL != "":
		return openURL(ctx, t, clients, window, log)
	default:
		return nil, fmt.Errorf("no store given: use --impl NAME or --target URL")
	}
}

func openImpl(ctx context.Context, t Target, clients, window int, log io.Writer) (*opened, error) {
	im, err := registry.Lookup(t.Impl)
	if err != nil {
		return nil, err
	}
	if len(t.Serve) > 0 {
		return nil, fmt.Errorf("--serve starts an external server; use it with --target, not --impl")
	}
	if err := checkWindow(im, window); err != nil {
		return nil, err
	}
	if im.Start == nil {
		return nil, fmt.Errorf("%s cannot be started by kvbench yet", im.Name)
	}
	exe, err := proc.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the kvbench binary to start servers: %w", err)
	}
	dir, err := newTempDir(im.Name)
	if err != nil {
		return nil, err
	}
	env := impls.StartEnv{Exe: exe, Dir: dir, Clients: clients, Window: window, Flags: t.ImplFlags, Log: log}
	c, err := im.Start(ctx, env)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", im.Name, err)
	}
	return &opened{cluster: c, impl: im, close: func() { c.Close(); os.RemoveAll(dir) }}, nil
}

// Temp data dirs of bundled stores are named tempPrefix+name+"-*" and hold
// ownerFile, the pid of the kvbench that made them.
const (
	tempPrefix = "kvbench-"
	ownerFile  = "kvbench.owner"
)

// newTempDir makes a private temp dir for a store's data, owned by this
// kvbench (after removing those of dead ones).
func newTempDir(name string) (string, error) {
	removeOrphanDirs()
	dir, err := os.MkdirTemp("", tempPrefix+name+"-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// removeOrphanDirs removes the temp data dirs of kvbench processes that no
// longer exist (a kvbench killed with SIGKILL cannot remove its own; its
// servers died with it). A dir without an owner file, or whose owner pid is
// alive (even if reused by another process), is left alone.
func removeOrphanDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

// checkWindow refuses a -w the impl's protocol cannot pipeline.
func checkWindow(im *impls.Impl, window int) error {
	max := im.MaxWindow
	if max < 1 {
		max = 1
	}
	switch {
	case window <= max:
		return nil
	case max == 1:
		return fmt.Errorf("%s cannot pipeline requests: use -w 1", im.Name)
	default:
		return fmt.Errorf("%s allows at most %d requests in flight per client: use -w %d or less", im.Name, max, max)
	}
}

// openURL opens an external target through its scheme's registry entry.
func openURL(ctx context.Context, t Target, clients, window int, log io.Writer) (*opened, error) {
	tg, rest, err := registry.LookupTarget(t.URL)
	if err != nil {
		return nil, err
	}
	dir, err := newTempDir("target")
	if err != nil {
		return nil, err
	}
	exe, _ := proc.Executable()
	env := impls.TargetEnv{URL: t.URL, Rest: rest, Serve: t.Serve, Dir: dir, Clients: clients, Window: window,
		OpTimeout: t.OpTimeout, Log: log, Exe: exe}
	im, c, err := tg.Open(ctx, env)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := checkWindow(im, window); err != nil {
		c.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	return &opened{cluster: c, impl: im, close: func() { c.Close(); os.RemoveAll(dir) }}, nil
}
