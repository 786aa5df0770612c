package dkvs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// A conformance run drives someone's dkvs client binary (a student's
// dkvs-client) through its command line and compares its stdout, stderr and
// exit status with kvbench's client, case by case, against the same
// servers in the same state:
//
//	kvbench client dkvs conform -- ./dkvs-client
//
// Each case starts from the same preloaded servers (three in-process
// servers on loopback, one node each), runs kvbench's client, resets the
// servers, runs the binary in a directory holding the same servers.txt,
// and compares. Some cases wait for the 1 s timeout (a server down).

// conformCase is one command line and the servers.txt it runs with.
type conformCase struct {
	name string
	args []string
	// file, when set, replaces the servers.txt ("" keeps the live one;
	// "-" removes it; "+dead" appends a server that never answers).
	file string
}

var conformCases = []conformCase{
	{"help", []string{"help"}, ""},
	{"no command", nil, ""},
	{"unknown command", []string{"frob"}, ""},
	{"get", []string{"get", "--", "abc"}, ""},
	{"get R=1", []string{"get", "-r", "1", "-n", "3", "--", "abc"}, ""},
	{"get R=3", []string{"get", "-r", "3", "--", "abc"}, ""},
	{"get absent", []string{"get", "--", "nope"}, ""},
	{"get empty value", []string{"get", "--", "empty"}, ""},
	{"get without --", []string{"get", "abc"}, ""},
	{"get two keys", []string{"get", "--", "a", "b"}, ""},
	{"get -n 0", []string{"get", "-n", "0", "--", "abc"}, ""},
	{"get -n 12abc", []string{"get", "-n", "12abc", "--", "abc"}, ""},
	{"get -x", []string{"get", "-x", "1", "--", "abc"}, ""},
	{"get R > N", []string{"get", "-n", "2", "-r", "3", "--", "abc"}, ""},
	{"get -w ignored", []string{"get", "-w", "9", "--", "abc"}, ""},
	{"put", []string{"put", "--", "k", "v"}, ""},
	{"put -w 1", []string{"put", "-w", "1", "--", "k", "v"}, ""},
	{"put one arg", []string{"put", "--", "k"}, ""},
	{"cat", []string{"cat", "--", "abc", "ex", "dest"}, ""},
	{"cat absent", []string{"cat", "--", "abc", "nope", "dest"}, ""},
	{"cat one arg", []string{"cat", "--", "abc"}, ""},
	{"substr 0 2", []string{"substr", "--", "ex", "0", "2", "d"}, ""},
	{"substr -2 2", []string{"substr", "--", "ex", "-2", "2", "d"}, ""},
	{"substr 2 0", []string{"substr", "--", "ex", "2", "0", "d"}, ""},
	{"substr 5 3", []string{"substr", "--", "ex", "5", "3", "d"}, ""},
	{"substr -1 2", []string{"substr", "--", "ex", "-1", "2", "d"}, ""},
	{"substr 5 -3", []string{"substr", "--", "ex", "5", "-3", "d"}, ""},
	{"substr 3 args", []string{"substr", "--", "ex", "1", "d"}, ""},
	{"find", []string{"find", "--", "ex", "mpl"}, ""},
	{"find none", []string{"find", "--", "ex", "abc"}, ""},
	{"find absent", []string{"find", "--", "ex", "nope"}, ""},
	{"no servers.txt", []string{"get", "--", "abc"}, "-"},
	{"bad count", []string{"get", "--", "abc"}, "127.0.0.1 1234 -1\n"},
	{"bad port", []string{"get", "--", "abc"}, "127.0.0.1 0 1\n"},
	{"bad ip", []string{"get", "--", "abc"}, "127.0.001 1234 1\n"},
	{"get empty key", []string{"get", "--", ""}, ""},
	{"server down, R=3 of 4", []string{"get", "-n", "4", "-r", "3", "--", "abc"}, "+dead"},
	{"server down, W=4 of 4", []string{"put", "-n", "4", "-w", "4", "--", "k", "v"}, "+dead"},
}

// conformPreload is what every server holds at the start of each case.
var conformPreload = []string{"abc", "def", "ex", "example", "empty", "", "mpl", "mpl"}

// ErrConformance is conform's error when a case differs.
var ErrConformance = errors.New("dkvs client does not conform")

// ConformResult is one case's outcome.
type ConformResult struct {
	Name, Command string
	// Want and Got are stdout, stderr and exit status.
	WantOut, WantErr, GotOut, GotErr string
	WantExit, GotExit                int
	Err                              error // the binary could not be run
}

// OK reports whether the binary matched kvbench's client.
func (r ConformResult) OK() bool {
	return r.Err == nil && r.WantOut == r.GotOut && r.WantErr == r.GotErr && r.WantExit == r.GotExit
}

// Conform runs every case with kvbench's client and with the client
// command argv (argv[0] is the binary), in dir, and returns the results.
func Conform(ctx context.Context, argv []string, dir string) ([]ConformResult, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("%w: conform needs the client command", ErrInvalidCommand)
	}
	bin, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("conform: %w", err)
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return nil, err
	}
	srv := make([]*Server, 3)
	var live strings.Builder
	for i := range srv {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		srv[i] = NewServer(conformPreload...)
		go srv[i].Serve(ctx, conn)
		h, p, _ := net.SplitHostPort(conn.LocalAddr().String())
		fmt.Fprintf(&live, "%s %s 1\n", h, p)
	}
	dead, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer dead.Close()
	h, p, _ := net.SplitHostPort(dead.LocalAddr().String())
	deadLine := fmt.Sprintf("%s %s 1\n", h, p)
	path := filepath.Join(dir, "servers.txt")
	var out []ConformResult
	for _, cc := range conformCases {
		switch cc.file {
		case "":
			err = os.WriteFile(path, []byte(live.String()), 0o644)
		case "-":
			err = os.Remove(path)
			if errors.Is(err, os.ErrNotExist) {
				err = nil
			}
		case "+dead":
			err = os.WriteFile(path, []byte(live.String()+deadLine), 0o644)
		default:
			err = os.WriteFile(path, []byte(cc.file), 0o644)
		}
		if err != nil {
			return out, err
		}
		r := ConformResult{Name: cc.name, Command: strings.Join(append(argv[:1:1], cc.args...), " ")}
		reset := func() {
			for _, s := range srv {
				s.reset(conformPreload...)
			}
		}
		reset()
		var o, e bytes.Buffer
		err := runCLI(ctx, cliOptions{servers: path}, cc.args, &o, &e)
		r.WantOut, r.WantErr, r.WantExit = o.String(), e.String(), exitStatus(err)
		reset()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cmd := exec.CommandContext(cctx, bin, append(append([]string(nil), argv[1:]...), cc.args...)...)
		cmd.Dir = dir
		o.Reset()
		e.Reset()
		cmd.Stdout, cmd.Stderr = &o, &e
		cmd.WaitDelay = time.Second
		err = cmd.Run()
		cancel()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			r.GotExit = ee.ExitCode()
		case err != nil:
			r.Err = err
		}
		r.GotOut, r.GotErr = o.String(), e.String()
		out = append(out, r)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
	return out, nil
}

// exitStatus is the status runCLI's error stands for.
func exitStatus(err error) int {
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	if err != nil {
		return 1
	}
	return 0
}

// reset replaces the server's table by one holding pairs.
func (s *Server) reset(pairs ...string) {
	fresh := NewServer(pairs...)
	s.mu.Lock()
	s.t = fresh.t
	s.mu.Unlock()
}

// conform is `kvbench client dkvs conform -- CMD [ARGS]`: it prints one line
// per case and a diff for each mismatch, and fails when any case differs.
func conform(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	dir, err := os.MkdirTemp("", "dkvs-conform-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res, err := Conform(ctx, args, dir)
	bad := 0
	for _, r := range res {
		if r.OK() {
			fmt.Fprintf(stdout, "ok    %s: %s\n", r.Name, r.Command)
			continue
		}
		bad++
		fmt.Fprintf(stdout, "DIFF  %s: %s\n", r.Name, r.Command)
		if r.Err != nil {
			fmt.Fprintf(stdout, "      could not run: %v\n", r.Err)
		}
		if r.WantExit != r.GotExit {
			fmt.Fprintf(stdout, "      exit status %d, want %d\n", r.GotExit, r.WantExit)
		}
		if r.WantOut != r.GotOut {
			fmt.Fprintf(stdout, "      stdout %q\n      want   %q\n", r.GotOut, r.WantOut)
		}
		if r.WantErr != r.GotErr {
			fmt.Fprintf(stdout, "      stderr %q\n      want   %q\n", r.GotErr, r.WantErr)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d of %d cases match kvbench's dkvs client\n", len(res)-bad, len(res))
	if bad > 0 {
		return fmt.Errorf("%w: %d of %d cases differ from kvbench's dkvs client", ErrConformance, bad, len(res))
	}
	return nil
}
