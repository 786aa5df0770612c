package execclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/madkvline"
	"github.com/kvbench/kvbench/impls/proc"
)

// stopGrace is how long Close waits for the STOP echo and the exit.
const stopGrace = 2 * time.Second

// Error is every error of a client's Do: it names the client (its id and
// the pid of the process that served, or failed to serve, the request) and
// wraps the cause, which names the request.
type Error struct {
	Client int
	Pid    int // 0 when no process was running
	Err    error
}

// Error names the client and the cause.
func (e *Error) Error() string {
	if e.Pid > 0 {
		return fmt.Sprintf("exec client %d (pid %d): %v", e.Client, e.Pid, e.Err)
	}
	return fmt.Sprintf("exec client %d: %v", e.Client, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// client is one simulated client: one process at a time, restarted after it
// failed. Do and Close serialize on mu (the window is one).
type client struct {
	id      int
	cluster *cluster

	mu     sync.Mutex
	p      *process // nil before the first start and after a failure
	closed bool
	buf    []byte

	// opMu guards op, the number of the request under way, which a late
	// ctx callback checks before it touches the pipes' deadlines.
	opMu sync.Mutex
	op   uint64
}

var _ impls.Client = (*client)(nil)

// process is one running client process and our ends of its pipes.
type process struct {
	pid    int
	stdin  *os.File // our write end of its stdin
	stdout *os.File // our read end of its stdout
	rr     *madkvline.ReplyReader
	stderr *proc.Tail
	done   chan struct{} // closed once the process has been waited for
	state  *os.ProcessState
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// status describes how the process ended, with the tail of its stderr.
// Call it after done is closed.
func (p *process) status() string {
	s := "it exited"
	if p.state != nil {
		s = "it exited (" + p.state.String() + ")"
	}
	if t := p.stderr.String(); t != "" {
		s += "; its last stderr:\n" + t
	}
	return s
}

// kill kills the process group, waits for the process and closes our pipes.
func (p *process) kill() {
	if !p.exited() {
		// Only while it runs: once the leader is reaped and its group is
		// empty, the id may name somebody else's group.
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	}
	<-p.done
	p.stdin.Close()
	p.stdout.Close()
}

// start starts a client process.
func (c *client) start() (*process, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	p := &process{stdin: inW, stdout: outR, stderr: proc.NewTail(tailBytes), done: make(chan struct{})}
	cmd := exec.Command("/bin/sh", "-c", "exec "+c.cluster.command)
	cmd.Stdin, cmd.Stdout = inR, outW
	cmd.Stderr = io.MultiWriter(&prefixWriter{w: c.cluster.log, prefix: fmt.Sprintf("exec client %d: ", c.id)}, p.stderr)
	cmd.Env = append(os.Environ(), "KVBENCH_CLIENT_ID="+strconv.Itoa(c.id), "KVBENCH_CLIENTS="+strconv.Itoa(c.cluster.clients))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second  // a grandchild holding stderr open must not hang Wait
	err = proc.StartCommand(cmd) // forked from a thread that never exits, so Pdeathsig holds
	inR.Close()                  // the child has its own copies
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("start %q: %w", c.cluster.command, err)
	}
	p.pid = cmd.Process.Pid
	p.rr = madkvline.NewReplyReader(outR)
	go func() {
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		close(p.done)
	}()
	return p, nil
}

// process returns the running process, first starting one if there is none
// or the last one exited while idle. Call with mu held.
func (c *client) process(ctx context.Context) (*process, error) {
	if c.p != nil && !c.p.exited() {
		return c.p, nil
	}
	if c.p != nil {
		c.p.kill()
		c.p = nil
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Client: c.id, Err: fmt.Errorf("not started: %v", err)}
	}
	p, err := c.start()
	if err != nil {
		return nil, &Error{Client: c.id, Err: err}
	}
	c.p = p
	return p, nil
}

// drop kills p; the next Do starts a new process.
func (c *client) drop(p *process) {
	p.kill()
	if c.p == p {
		c.p = nil
	}
}

// Do writes req's line and reads the reply, under ctx and the op timeout.
func (c *client) Do(ctx context.Context, req impls.Request) (impls.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return impls.Response{}, &Error{Client: c.id, Err: ErrClosed}
	}
	line, err := madkvline.AppendRequest(c.buf[:0], req)
	if err != nil {
		return impls.Response{}, &Error{Client: c.id, Err: fmt.Errorf("not sent: %w", err)}
	}
	c.buf = line
	p, err := c.process(ctx)
	if err != nil {
		return impls.Response{}, err
	}
	fail := func(err error) (impls.Response, error) {
		return impls.Response{}, &Error{Client: c.id, Pid: p.pid, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("request %s not sent: %v", madkvline.Describe(req), err))
	}
	timeout := c.cluster.timeout
	deadline := time.Now().Add(timeout)
	_ = p.stdin.SetWriteDeadline(deadline)
	_ = p.stdout.SetReadDeadline(deadline)
	// ctx ending cuts the pipes' deadlines short. The callback may run late
	// (after this Do returned and the next one set its own deadlines), so it
	// acts only while this op is still the current one.
	c.opMu.Lock()
	c.op++
	op := c.op
	c.opMu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		c.opMu.Lock()
		defer c.opMu.Unlock()
		if c.op == op {
			now := time.Now()
			_ = p.stdin.SetWriteDeadline(now)
			_ = p.stdout.SetReadDeadline(now)
		}
	})
	defer func() {
		stop()
		c.opMu.Lock()
		c.op++
		c.opMu.Unlock()
	}()

	if n, err := p.stdin.Write(line); err != nil {
		c.drop(p)
		why := err.Error()
		if ctx.Err() != nil {
			why = ctx.Err().Error()
		}
		if n == 0 {
			// Nothing reached the client: the request certainly did not run.
			return fail(fmt.Errorf("request %s not sent: %s", madkvline.Describe(req), why))
		}
		return fail(fmt.Errorf("request %s only partly sent (%d of %d bytes): %s: %w",
			madkvline.Describe(req), n, len(line), why, impls.ErrUnknownOutcome))
	}
	resp, err := p.rr.ReadReply(req)
	if err == nil {
		return resp, nil
	}
	var ce *madkvline.ClientError
	if errors.As(err, &ce) {
		return fail(err) // the client answered; the stream is in step
	}
	exitedFirst := p.exited()
	c.drop(p) // out of step, hung or gone: a new process serves the next Do
	var re *madkvline.ReplyError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil:
		return fail(fmt.Errorf("%s: %v before the reply; killed: %w", madkvline.Describe(req), ctx.Err(), impls.ErrUnknownOutcome))
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fail(fmt.Errorf("no reply to %s within %v; killed: %w", madkvline.Describe(req), timeout, impls.ErrUnknownOutcome))
	case errors.As(err, &re) && !errors.Is(err, io.ErrUnexpectedEOF):
		return fail(fmt.Errorf("%w; killed", err))
	case errors.As(err, &re): // the output ended inside the reply
		return fail(fmt.Errorf("%v: %s: %w", err, p.status(), impls.ErrUnknownOutcome))
	case errors.Is(err, io.EOF) || exitedFirst:
		return fail(fmt.Errorf("no reply to %s: %s: %w", madkvline.Describe(req), p.status(), impls.ErrUnknownOutcome))
	default:
		return fail(fmt.Errorf("reading the reply to %s: %v; killed: %w", madkvline.Describe(req), err, impls.ErrUnknownOutcome))
	}
}

// Close sends STOP, waits up to 2 s for the echo and the exit, and kills
// the process group. A client that does not echo is noted in the log.
// Closing twice is fine.
func (c *client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	p := c.p
	c.p = nil
	if p == nil {
		return nil
	}
	if p.exited() {
		p.kill()
		return nil
	}
	deadline := time.Now().Add(stopGrace)
	_ = p.stdin.SetWriteDeadline(deadline)
	_ = p.stdout.SetReadDeadline(deadline)
	_, err := io.WriteString(p.stdin, madkvline.StopLine)
	if err == nil {
		err = p.rr.ReadStop()
	}
	if err == nil {
		select {
		case <-p.done:
		case <-time.After(time.Until(deadline)):
		}
	}
	p.kill()
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(c.cluster.log, "kvbench: exec client %d (pid %d): no STOP echo (%v); killed\n", c.id, p.pid, err)
	}
	return nil
}
