package execclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/proc"
)

// DefaultOpTimeout bounds one request when TargetEnv.OpTimeout is 0.
const DefaultOpTimeout = 10 * time.Second

// serveReadyTimeout bounds the wait for a --serve process to listen.
const serveReadyTimeout = 15 * time.Second

// Target is the exec: target.
func Target() impls.Target {
	return impls.Target{
		Scheme:  "exec",
		Summary: "any client speaking MadKV's stdin/stdout protocol, one process per simulated client: GET PUT DELETE SWAP SCAN",
		Example: "exec:'kvbench client memkv 127.0.0.1:11311'",
		Open:    open,
	}
}

// protocol describes the exec: target: every kind (the client answers
// "ERROR unsupported" for what it lacks), one request in flight per process,
// no claims (an external system promises nothing).
func protocol() *impls.Impl {
	return &impls.Impl{
		Name:      "exec",
		Summary:   "client command speaking MadKV's stdin/stdout protocol",
		Kinds:     []impls.Kind{impls.Get, impls.Put, impls.Delete, impls.Swap, impls.Scan},
		MaxWindow: 1,
	}
}

// ErrClosed is returned by Do after Close, and by NewClient after the
// cluster's Close.
var ErrClosed = errors.New("exec client closed")

// open is Target.Open: it starts the --serve commands and waits until each
// listens; client processes start in NewClient.
func open(ctx context.Context, env impls.TargetEnv) (*impls.Impl, impls.Cluster, error) {
	command := strings.TrimSpace(env.Rest)
	if command == "" {
		return nil, nil, fmt.Errorf("%s: no client command (want exec:'./client ARGS')", env.URL)
	}
	if env.Window > 1 {
		return nil, nil, fmt.Errorf("exec: -w %d: a MadKV client answers one request at a time; use -n for concurrency", env.Window)
	}
	timeout := env.OpTimeout
	if timeout <= 0 {
		timeout = DefaultOpTimeout
	}
	log := env.Log
	if log == nil {
		log = io.Discard
	}
	c := &cluster{command: clientCommand(command, env.Exe), clients: env.Clients, timeout: timeout, log: log}
	if err := checkProgram(c.command); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", env.URL, err)
	}
	for _, s := range env.Serve {
		spec := s.Spec()
		spec.Log, spec.Probe, spec.ReadyTimeout = env.Log, listening, serveReadyTimeout
		p, err := proc.Start(ctx, spec)
		if err != nil {
			_ = c.Close()
			return nil, nil, fmt.Errorf("--serve %q: %w", s.Command, err)
		}
		c.procs = append(c.procs, p)
	}
	return protocol(), c, nil
}

// clientCommand is the shell command for one client: a first word
// "kvbench" is the running binary, so exec:'kvbench client ...' works
// without kvbench on $PATH and always runs the same version.
func clientCommand(command, exe string) string {
	if exe != "" && (command == "kvbench" || strings.HasPrefix(command, "kvbench ")) {
		return shellQuote(exe) + strings.TrimPrefix(command, "kvbench")
	}
	return command
}

// checkProgram fails early when the program a client command runs does not
// exist or is not executable, rather than failing every request of the
// run. Commands it cannot split like a shell are left to the shell.
func checkProgram(command string) error {
	words, err := proc.SplitArgs(command)
	if err != nil {
		return nil
	}
	for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "=") &&
		!strings.ContainsAny(strings.SplitN(words[0], "=", 2)[0], "/.") {
		words = words[1:] // NAME=value assignments before the program
	}
	if len(words) == 0 {
		return nil
	}
	if words[0] == "env" { // env NAME=value ... program
		words = words[1:]
		for len(words) > 0 && strings.Contains(words[0], "=") {
			words = words[1:]
		}
		if len(words) == 0 {
			return nil
		}
	}
	if _, err := exec.LookPath(words[0]); err != nil {
		return fmt.Errorf("client program: %w", err)
	}
	return nil
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// errNotListening is the --serve readiness probe's answer until the
// process group listens.
var errNotListening = errors.New("no process of the group listens on a TCP socket or has bound a UDP socket yet")

// listening is the --serve readiness probe: a process of p's group owns a
// listening TCP or bound UDP socket. proc.Start also requires the process
// to be alive.
func listening(_ context.Context, p *proc.Process) error {
	socks, err := p.Sockets()
	if err != nil {
		return err
	}
	if len(socks) == 0 {
		return errNotListening
	}
	return nil
}

// cluster is the started --serve processes and the client command.
type cluster struct {
	command string
	clients int
	timeout time.Duration
	log     io.Writer
	procs   []*proc.Process

	mu     sync.Mutex
	open   []*client
	closed bool
}

var _ impls.Cluster = (*cluster)(nil)

// NewClient starts client process number id.
func (c *cluster) NewClient(ctx context.Context, id int) (impls.Client, error) {
	cl := &client{id: id, cluster: c}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.open = append(c.open, cl)
	c.mu.Unlock()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if _, err := cl.process(ctx); err != nil {
		return nil, err
	}
	return cl, nil
}

// Nodes returns the --serve processes, role "server".
func (c *cluster) Nodes() []impls.Node { return impls.ProcNodes("server", c.procs...) }

// Close closes every client still open (STOP, then kill), then stops the
// --serve processes (SIGTERM, SIGKILL after 5 s). A second Close does
// nothing.
func (c *cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	open := c.open
	c.open = nil
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, cl := range open {
		wg.Add(1)
		go func() { defer wg.Done(); _ = cl.Close() }()
	}
	wg.Wait()
	var errs []error
	for _, p := range c.procs {
		errs = append(errs, p.Stop(5*time.Second))
	}
	return errors.Join(errs...)
}
