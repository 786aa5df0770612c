package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/memkv"
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
		return openURL(ctx, t, window, log)
	default:
		return nil, fmt.Errorf("no store given: use --impl NAME or --target URL")
	}
}

func openImpl(ctx context.Context, t Target, clients, window int, log io.Writer) (*opened, error) {
	im, err := registry.Lookup(t.Impl)
	if err != nil {
		return nil, err
	}
	if t.Serve != "" {
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
	removeOrphanDirs()
	dir, err := os.MkdirTemp("", tempPrefix+im.Name+"-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		os.RemoveAll(dir)
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

// memcachedProtocol describes an external memcached-protocol server: what
// the protocol can express. It makes no claims, so any violation is one.
func memcachedProtocol() *impls.Impl {
	m := memkv.Impl()
	return &impls.Impl{Name: "memcached", Summary: "external memcached-protocol server", Kinds: m.Kinds, MaxWindow: m.MaxWindow}
}

func openURL(ctx context.Context, t Target, window int, log io.Writer) (*opened, error) {
	addr, err := memkv.ParseTarget(t.URL)
	if err != nil {
		return nil, err
	}
	if err := checkWindow(memcachedProtocol(), window); err != nil {
		return nil, err
	}
	var procs []*proc.Process
	if t.Serve != "" {
		// The user's server command runs in its own process group, so a
		// crash fault kills it and everything it started.
		wd, _ := os.Getwd()
		p, err := proc.Start(ctx, proc.Spec{
			Name: filepath.Base(strings.Fields(t.Serve)[0]),
			Path: "/bin/sh", Args: []string{"-c", "exec " + t.Serve},
			Dir: wd, Log: log, Ready: proc.TCPReady(addr),
		})
		if err != nil {
			return nil, fmt.Errorf("--serve %q: %w", t.Serve, err)
		}
		procs = append(procs, p)
	} else if err := proc.TCPReady(addr)(ctx); err != nil {
		return nil, fmt.Errorf("target %s unreachable (is the server running?): %w", t.URL, err)
	}
	c := memkv.NewTargetCluster(addr, window, procs)
	return &opened{cluster: c, impl: memcachedProtocol(), close: func() { c.Close() }}, nil
}
