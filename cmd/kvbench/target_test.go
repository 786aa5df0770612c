package main

import (
	"github.com/kvbench/kvbench/impls/proc"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/impls"
)

func TestParseServe(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []impls.ServeCommand
		err  string
	}{
		{nil, nil, ""},
		{[]string{"./server 0.0.0.0:3777"}, []impls.ServeCommand{{Name: "server", Command: "./server 0.0.0.0:3777"}}, ""},
		{[]string{"s0=just p2::service s0", "s1=just p2::service s1"},
			[]impls.ServeCommand{{Name: "s0", Command: "just p2::service s0"}, {Name: "s1", Command: "just p2::service s1"}}, ""},
		{[]string{"./kvs a", "./kvs b"}, []impls.ServeCommand{{Name: "kvs", Command: "./kvs a"}, {Name: "kvs-2", Command: "./kvs b"}}, ""},
		{[]string{"a=./x", "a=./y"}, nil, "given twice"},
		{[]string{"  "}, nil, "empty command"},
		{[]string{"n="}, nil, "empty command"},
	} {
		got, err := parseServe(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseServe(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseServe(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestTargetsListsEverySchemeAndStore(t *testing.T) {
	out, _, err := kvbench(t, "targets")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range append(targetExamples(), implNames()...) {
		if !strings.Contains(out, want) {
			t.Errorf("kvbench targets does not mention %q:\n%s", want, out)
		}
	}
}

// TestServeThatCannotBind: a --serve command whose port another process
// holds must fail the run with the server's own message and exit 3, never
// pass readiness because the other process answers.
func TestServeThatCannotBind(t *testing.T) {
	memcached := "/usr/bin/memcached"
	if _, err := os.Stat(memcached); err != nil {
		t.Skip("memcached not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // answers like a server would, so only ownership tells them apart
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	serve := memcached + " -l 127.0.0.1 -p " + port + " -U 0"
	if os.Geteuid() == 0 {
		serve += " -u root"
	}
	out := filepath.Join(t.TempDir(), "runs")
	_, _, err = kvbench(t, "fuzz", "--target", "memcached://127.0.0.1:"+port, "--serve", serve, "--ops", "10", "--out", out, "-q")
	if code := exitCode(err); code != exitNoVerdict {
		t.Fatalf("exit %d (%v), want %d", code, err, exitNoVerdict)
	}
	if !strings.Contains(err.Error(), "Address already in use") && !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("error does not quote memcached's bind failure: %v", err)
	}
}

// TestServeExitsBeforeReady: the tail of the server's output is in the error.
func TestServeExitsBeforeReady(t *testing.T) {
	out := filepath.Join(t.TempDir(), "runs")
	_, _, err := kvbench(t, "fuzz", "--target", "memcached://127.0.0.1:1", "--serve", "sh -c 'echo can not run as root without the -u switch; exit 71'",
		"--ops", "10", "--out", out, "-q")
	if code := exitCode(err); code != exitNoVerdict {
		t.Fatalf("exit %d (%v), want %d", code, err, exitNoVerdict)
	}
	for _, want := range []string{"exit status 71", "can not run as root without the -u switch"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestCutCPUProfile(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		file string
		rest []string
		err  bool
	}{
		{[]string{"memkv", "--fsync", "never"}, "", []string{"memkv", "--fsync", "never"}, false},
		{[]string{"--cpuprofile", "p.out", "memkv"}, "p.out", []string{"memkv"}, false},
		{[]string{"--cpuprofile=p.out", "shm", "-n", "2"}, "p.out", []string{"shm", "-n", "2"}, false},
		{[]string{"--cpuprofile"}, "", nil, true},
		{[]string{"--cpuprofile", "p.out"}, "", nil, true},
		{[]string{"--cpuprofile=", "memkv"}, "", nil, true},
	} {
		file, rest, err := cutCPUProfile(tc.in)
		if (err != nil) != tc.err || file != tc.file || !reflect.DeepEqual(rest, tc.rest) {
			t.Errorf("cutCPUProfile(%q) = %q, %q, %v", tc.in, file, rest, err)
		}
	}
}

func TestShellJoin(t *testing.T) {
	argv := []string{"kvbench", "fuzz", "--impl-flags", "--servers 5 -n 3", "--serve", "s0=./server 'x'", ""}
	got := shellJoin(argv)
	if want := `kvbench fuzz --impl-flags '--servers 5 -n 3' --serve 's0=./server '\''x'\''' ''`; got != want {
		t.Fatalf("shellJoin = %s, want %s", got, want)
	}
	back, err := proc.SplitArgs(got)
	if err != nil || !reflect.DeepEqual(back, argv[:len(argv)-1]) && !reflect.DeepEqual(back, argv) {
		t.Errorf("SplitArgs(shellJoin(argv)) = %q, %v; want %q", back, err, argv)
	}
}
