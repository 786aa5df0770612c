package proc

import (
	"bytes"
	"os/exec"
	"runtime"
	"strings"
	"sync"
)

// Pdeathsig is delivered when the thread that forked the child exits, not
// the process. The Go runtime may retire OS threads, so every child is
// started from one goroutine locked to an OS thread that never exits.
var starter struct {
	once sync.Once
	reqs chan startReq
}

type startReq struct {
	cmd  *exec.Cmd
	errc chan error
}

// StartCommand runs cmd.Start on a thread that never exits, so a
// Pdeathsig in cmd.SysProcAttr holds for the life of kvbench. Use it for
// every child that must die with kvbench (Start does).
func StartCommand(cmd *exec.Cmd) error {
	starter.once.Do(func() {
		starter.reqs = make(chan startReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as kvbench
			for r := range starter.reqs {
				r.errc <- r.cmd.Start()
			}
		}()
	})
	errc := make(chan error, 1)
	starter.reqs <- startReq{cmd: cmd, errc: errc}
	return <-errc
}

// tailBytes is how much of a process's output its errors quote.
const tailBytes = 2048

// Tail keeps the last bytes written to it, to quote a process's output in
// an error. Safe for concurrent use.
type Tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// NewTail returns a Tail that keeps the last max bytes.
func NewTail(max int) *Tail { return &Tail{max: max} }

// Write keeps the end of b.
func (t *Tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

// String returns the kept output, trimmed.
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}

// indent puts two spaces before each line of s ("" stays "").
func indent(s string) string {
	if s == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
