package execclient

import (
	"bytes"
	"io"
	"os/exec"
	"runtime"
	"sync"
)

// starter forks every client process from one OS thread that never exits:
// Pdeathsig fires when the thread that forked the child exits, not the
// process, and the Go runtime may retire an ordinary thread. (impls/proc
// does the same for server processes.)
var starter struct {
	once sync.Once
	reqs chan startReq
}

type startReq struct {
	cmd  *exec.Cmd
	errc chan error
}

// startLocked starts cmd from the locked thread.
func startLocked(cmd *exec.Cmd) error {
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

// tailBytes is how much of a client's stderr its errors quote.
const tailBytes = 1024

// tail keeps the last tailBytes written to it. Safe for concurrent use.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - tailBytes; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

// String returns the kept output, trimmed.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}

// prefixWriter writes each line to w with prefix in front (the clients'
// stderr share the run's log). One process's stderr is copied by one
// goroutine, so it needs no lock of its own.
type prefixWriter struct {
	w       io.Writer
	prefix  string
	midLine bool
	buf     []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = p.buf[:0]
	for _, c := range b {
		if !p.midLine {
			p.buf = append(p.buf, p.prefix...)
			p.midLine = true
		}
		p.buf = append(p.buf, c)
		if c == '\n' {
			p.midLine = false
		}
	}
	if _, err := p.w.Write(p.buf); err != nil {
		return 0, err
	}
	return len(b), nil
}
