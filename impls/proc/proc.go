package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Spec describes how to start one process.
type Spec struct {
	// Name identifies the process in logs and fault timelines, e.g. "memkv-0".
	Name string
	Path string
	Args []string
	Dir  string
	Env  []string
	// Log receives the process's stdout and stderr; nil discards them.
	Log io.Writer
	// Ready is polled until it returns nil (the port accepts, the file is
	// mapped, ...). Nil means ready as soon as the process started.
	Ready func(ctx context.Context) error
	// Probe, when set, is polled like Ready (after it) with the process, so
	// it can check that this process is the one answering (OwnedTCPReady),
	// not another that happens to hold the port.
	Probe func(ctx context.Context, p *Process) error
	// ReadyTimeout bounds the wait for Ready; 0 means 10 s.
	ReadyTimeout time.Duration
}

// ErrExited is returned when a process exits before it became ready.
var ErrExited = errors.New("process exited before it was ready")

// Process is a started server process. Its methods may be called from several
// goroutines; they serialize on an internal lock.
type Process struct {
	spec Spec

	tail *Tail // the last bytes of output, for errors

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd has been waited for
	paused bool
	state  *os.ProcessState // set when cmd has been waited for
}

// Start starts the process described by spec and waits until it is ready.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	p := &Process{spec: spec, tail: NewTail(tailBytes)}
	if err := p.start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// Name returns the spec's name.
func (p *Process) Name() string { return p.spec.Name }

// Pid returns the pid of the current incarnation, or 0 when it is not running.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *Process) start(ctx context.Context) error {
	cmd := exec.Command(p.spec.Path, p.spec.Args...)
	cmd.Dir = p.spec.Dir
	if p.spec.Env != nil {
		cmd.Env = append(os.Environ(), p.spec.Env...)
	}
	var out io.Writer = p.tail
	if p.spec.Log != nil {
		out = io.MultiWriter(p.spec.Log, p.tail)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := StartCommand(cmd); err != nil {
		return fmt.Errorf("start %s: %w", p.spec.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		p.mu.Lock()
		p.state = cmd.ProcessState
		p.mu.Unlock()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done, p.paused = cmd, done, false
	p.mu.Unlock()
	if err := p.waitReady(ctx, done); err != nil {
		_ = p.Kill()
		return err
	}
	return nil
}

func (p *Process) waitReady(ctx context.Context, done <-chan struct{}) error {
	if p.spec.Ready == nil && p.spec.Probe == nil {
		return nil
	}
	timeout := p.spec.ReadyTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := time.Millisecond
	var err error // the last probe's, unless the deadline cut that one short
	for {
		var perr error
		if p.spec.Ready != nil {
			perr = p.spec.Ready(ctx)
		}
		if perr == nil && p.spec.Probe != nil {
			perr = p.spec.Probe(ctx, p)
		}
		if perr == nil {
			select {
			case <-done: // answered, but the process we started is gone
				return p.exitedError()
			default:
				return nil
			}
		}
		if err == nil || ctx.Err() == nil {
			// A probe the deadline interrupted (a dial timing out) would
			// hide why the ones before it failed (ErrNotOwner).
			err = perr
		}
		select {
		case <-done:
			return p.exitedError()
		case <-ctx.Done():
			if out := indent(p.tail.String()); out != "" {
				return fmt.Errorf("%s not ready after %v: %w; its last output:\n%s", p.spec.Name, timeout, err, out)
			}
			return fmt.Errorf("%s not ready after %v: %w", p.spec.Name, timeout, err)
		case <-time.After(delay):
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

// exitedError says that the process exited before it was ready, with its
// exit status and the tail of its output (e.g. memcached's "can't run as
// root without the -u switch").
func (p *Process) exitedError() error {
	p.mu.Lock()
	st := p.state
	p.mu.Unlock()
	status := ""
	if st != nil {
		status = " (" + st.String() + ")"
	}
	if out := indent(p.tail.String()); out != "" {
		return fmt.Errorf("%s%s: %w; its last output:\n%s", p.spec.Name, status, ErrExited, out)
	}
	return fmt.Errorf("%s%s: %w, with no output", p.spec.Name, status, ErrExited)
}

// signalGroup sends sig to the process group of the current incarnation.
func (p *Process) signalGroup(sig syscall.Signal) (done chan struct{}, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return nil, nil
	}
	select {
	case <-p.done:
		return p.done, nil // already gone
	default:
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return p.done, fmt.Errorf("signal %s: %w", p.spec.Name, err)
	}
	return p.done, nil
}

// Kill sends SIGKILL to the process group and waits for the process to exit.
func (p *Process) Kill() error {
	done, err := p.signalGroup(syscall.SIGKILL)
	if done != nil {
		<-done
	}
	p.mu.Lock()
	p.paused = false
	p.mu.Unlock()
	return err
}

// Stop asks the process to exit with SIGTERM and kills it after grace.
func (p *Process) Stop(grace time.Duration) error {
	p.mu.Lock()
	paused := p.paused
	p.mu.Unlock()
	if paused {
		_ = p.Resume()
	}
	done, err := p.signalGroup(syscall.SIGTERM)
	if done == nil {
		return err
	}
	select {
	case <-done:
		return err
	case <-time.After(grace):
		return p.Kill()
	}
}

// Restart starts the process again with the same spec (same arguments, same
// data directory) and waits until it is ready. Call it after Kill.
func (p *Process) Restart(ctx context.Context) error {
	if err := p.Kill(); err != nil {
		return err
	}
	return p.start(ctx)
}

// Pause stops the process group with SIGSTOP and returns once the kernel
// reports the leader stopped (or after a second), so a recorded fault
// window starts when the process really stopped.
func (p *Process) Pause() error {
	if _, err := p.signalGroup(syscall.SIGSTOP); err != nil {
		return err
	}
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
	if pid := p.Pid(); pid > 0 {
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline) && !stopped(pid); {
			time.Sleep(100 * time.Microsecond)
		}
	}
	return nil
}

// stopped reports whether /proc says pid is in the stopped state.
func stopped(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // gone: nothing left to wait for
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain spaces or parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't')
}

// Resume continues a paused process group with SIGCONT.
func (p *Process) Resume() error {
	_, err := p.signalGroup(syscall.SIGCONT)
	p.mu.Lock()
	p.paused = false
	p.mu.Unlock()
	return err
}

// Running reports whether the current incarnation has not exited.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// TCPReady returns a readiness probe that succeeds once addr accepts a TCP
// connection.
func TCPReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// FileReady returns a readiness probe that succeeds once path exists.
func FileReady(path string) func(context.Context) error {
	return func(context.Context) error {
		_, err := os.Stat(path)
		return err
	}
}

// FreeTCPAddr returns a loopback address with a port that was free a moment
// ago. There is a small race between closing the probe listener and the
// server binding; callers retry Start on failure when that matters.
//
// The port is drawn below the kernel's ephemeral range (32768 and up on
// Linux): a server the nemesis crashes must find its port free when it
// restarts, and a port in the ephemeral range may meanwhile become the
// source port of any outgoing connection on the machine. (The draw needs
// no reproducibility, so it uses the global source.)
func FreeTCPAddr() (string, error) {
	for range 64 {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(serverPort())))
		if err != nil {
			continue // taken
		}
		l.Close()
		return l.Addr().String(), nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// FreeUDPAddr is FreeTCPAddr for a UDP server, drawn from the same range
// for the same reason: every UDP client socket is bound to port 0, so the
// kernel may give it a crashed server's port from its ephemeral range
// while that server is down (its restart then failed to bind).
func FreeUDPAddr() (netip.AddrPort, error) {
	for range 64 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: serverPort()})
		if err != nil {
			continue // taken
		}
		c.Close()
		return c.LocalAddr().(*net.UDPAddr).AddrPort(), nil
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return netip.AddrPort{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}

// serverPort draws a port for FreeTCPAddr and FreeUDPAddr.
func serverPort() int { return 20000 + rand.IntN(12000) }

// Executable returns the kvbench binary to re-execute for `kvbench serve`:
// $KVBENCH_EXE when set (tests point it at a freshly built binary), else
// os.Executable.
func Executable() (string, error) {
	if p := os.Getenv("KVBENCH_EXE"); p != "" {
		return p, nil
	}
	return os.Executable()
}
