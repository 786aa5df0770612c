package execclient

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/madkvline"
	"github.com/kvbench/kvbench/impls/proc"
)

// fakeEnv selects a fake client or server mode of the test binary itself.
const fakeEnv = "EXECCLIENT_FAKE"

// TestMain runs the test binary as a fake client or server when fakeEnv is
// set, and removes the kvbench binary built for the tests at the end.
func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeEnv); mode != "" {
		os.Exit(fake(mode))
	}
	code := m.Run()
	if kvbenchDir != "" {
		os.RemoveAll(kvbenchDir)
	}
	os.Exit(code)
}

// fakeCommand is the shell command that runs this test binary in mode.
func fakeCommand(mode string) string {
	return fmt.Sprintf("env %s=%s %s", fakeEnv, mode, shellQuote(os.Args[0]))
}

// fake runs a fake process and returns its exit code. Modes:
//   - store: a correct MadKV client over an in-memory map, with trap keys:
//     GET garbage prints a line that is no reply, PUT die exits 3 before
//     replying, GET hang never replies, GET half prints "GET half" with no
//     newline and exits;
//   - nostop: like store but never echoes STOP;
//   - listen: listens on a loopback port and sleeps;
//   - failbind: prints a bind error and exits 1.
func fake(mode string) int {
	switch mode {
	case "listen":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("listening on", ln.Addr())
		time.Sleep(time.Hour)
		return 0
	case "failbind":
		fmt.Fprintln(os.Stderr, "fake server: listen tcp 127.0.0.1:3777: bind: address already in use")
		return 1
	case "sleep":
		time.Sleep(time.Hour)
		return 0
	}
	m := map[string]string{}
	br := bufio.NewReaderSize(os.Stdin, 1<<16)
	out := bufio.NewWriter(os.Stdout)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return 0
		}
		req, stop, err := madkvline.ParseRequest(line)
		switch {
		case err != nil:
			continue
		case stop && mode == "nostop":
			time.Sleep(time.Hour)
		case stop:
			out.WriteString("STOP\n")
			out.Flush()
			return 0
		case req.Key == "garbage":
			out.WriteString("hello there\n")
		case req.Key == "die":
			fmt.Fprintln(os.Stderr, "fake client: dying on purpose")
			return 3
		case req.Key == "hang":
			time.Sleep(time.Hour)
		case req.Key == "half":
			out.WriteString("GET half")
			out.Flush()
			return 0
		default:
			old, ok := m[req.Key]
			resp := impls.Response{Found: impls.FoundOf(ok), Value: old}
			switch req.Kind {
			case impls.Put, impls.Swap:
				m[req.Key] = req.Value
			case impls.Delete:
				delete(m, req.Key)
			case impls.Scan:
				resp = impls.Response{}
				for k, v := range m {
					if req.Key <= k && k <= req.End {
						resp.Pairs = append(resp.Pairs, impls.Pair{Key: k, Value: v})
					}
				}
				sort.Slice(resp.Pairs, func(i, j int) bool { return resp.Pairs[i].Key < resp.Pairs[j].Key })
			}
			b, err := madkvline.FormatReply(req, resp)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			out.Write(b)
		}
		out.Flush()
	}
}

// kvbenchDir holds the kvbench binary built for these tests (removed by
// TestMain).
var (
	kvbenchOnce sync.Once
	kvbenchDir  string
	kvbenchExe  string
	kvbenchErr  error
)

// kvbench builds the kvbench binary once per test run.
func kvbench(t testing.TB) string {
	t.Helper()
	kvbenchOnce.Do(func() {
		kvbenchDir, kvbenchErr = os.MkdirTemp("", "execclient-test-")
		if kvbenchErr != nil {
			return
		}
		kvbenchExe = filepath.Join(kvbenchDir, "kvbench")
		out, err := exec.Command("go", "build", "-o", kvbenchExe, "github.com/kvbench/kvbench/cmd/kvbench").CombinedOutput()
		if err != nil {
			kvbenchErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if kvbenchErr != nil {
		t.Fatal(kvbenchErr)
	}
	return kvbenchExe
}

// startMemkv starts `kvbench serve memkv` in memory on a free port and
// returns its address; the test stops it.
func startMemkv(t testing.TB) string {
	t.Helper()
	exe := kvbench(t)
	addr, err := proc.FreeTCPAddr()
	if err != nil {
		t.Fatal(err)
	}
	p, err := proc.Start(context.Background(), proc.Spec{Name: "memkv", Path: exe,
		Args: []string{"serve", "memkv", "--addr", addr, "--data", ""}, Probe: proc.OwnedTCPReady(addr)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	return addr
}

// openExec opens the exec: target for command with n clients.
func openExec(t testing.TB, command string, n int, timeout time.Duration, serve ...impls.ServeCommand) (*impls.Impl, impls.Cluster) {
	t.Helper()
	im, c, err := Target().Open(context.Background(), impls.TargetEnv{
		URL: "exec:" + command, Rest: command, Clients: n, Window: 1, OpTimeout: timeout,
		Serve: serve, Log: &testLog{t: t}, Exe: kvbenchExe})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return im, c
}

// testLog sends the processes' output to t.Log.
type testLog struct {
	mu sync.Mutex
	t  testing.TB
}

func (l *testLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Logf("process output: %s", b)
	return len(b), nil
}
