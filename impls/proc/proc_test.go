package proc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestSplitArgs(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"", nil, false},
		{"--fsync never", []string{"--fsync", "never"}, false},
		{"  -n 2   -s 1000 ", []string{"-n", "2", "-s", "1000"}, false},
		{`--data 'my dir' --x "a \"b\" c"`, []string{"--data", "my dir", "--x", `a "b" c`}, false},
		{`a\ b`, []string{"a b"}, false},
		{`'unterminated`, nil, true},
		{`"unterminated`, nil, true},
		{`trailing\`, nil, true},
	} {
		got, err := SplitArgs(c.in)
		if (err != nil) != c.err || !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitArgs(%q) = %q, %v; want %q, err %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestStartKillRestartPause(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ready")
	// The script writes its marker, then sleeps; a child sleep shares its
	// process group and must die with it.
	script := "echo $$ >> " + marker + "; sleep 60 & wait"
	p, err := Start(context.Background(), Spec{Name: "sleeper", Path: "/bin/sh", Args: []string{"-c", script},
		Ready: FileReady(marker)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	pid := p.Pid()
	if pid == 0 || !p.Running() {
		t.Fatal("not running after Start")
	}
	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	if !stopped(pid) {
		t.Error("Pause returned before the process stopped")
	}
	if state := procState(t, pid); state != 'T' {
		t.Errorf("paused process state %q, want T (stopped)", state)
	}
	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if p.Running() {
		t.Fatal("still running after Kill")
	}
	// The orphaned child is reaped by init shortly after it dies.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(-pid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still has members after Kill (err %v)", pid, err)
	}
	os.Remove(marker)
	if err := p.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.Pid() == pid || !p.Running() {
		t.Fatalf("restart: pid %d (old %d), running %v", p.Pid(), pid, p.Running())
	}
	if err := p.Stop(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	if p.Running() {
		t.Fatal("still running after Stop")
	}
}

func TestStartReportsEarlyExit(t *testing.T) {
	_, err := Start(context.Background(), Spec{Name: "quitter", Path: "/bin/sh", Args: []string{"-c", "exit 3"},
		Ready: FileReady(filepath.Join(t.TempDir(), "never"))})
	if !errors.Is(err, ErrExited) {
		t.Fatalf("err = %v, want ErrExited", err)
	}
}

func procState(t *testing.T, pid int) byte {
	t.Helper()
	for i := 0; i < 100; i++ {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			t.Fatal(err)
		}
		// pid (comm) S ...
		for j := len(b) - 1; j >= 0; j-- {
			if b[j] == ')' {
				if b[j+2] == 'T' || i == 99 {
					return b[j+2]
				}
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0
}
