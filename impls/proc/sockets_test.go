package proc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets this test binary act as a child that binds addresses:
// PROC_TEST_LISTEN=tcp:ADDR or udp:ADDR, or exits with output PROC_TEST_FAIL.
func TestMain(m *testing.M) {
	if msg := os.Getenv("PROC_TEST_FAIL"); msg != "" {
		fmt.Fprintln(os.Stderr, msg)
		os.Exit(71)
	}
	if spec := os.Getenv("PROC_TEST_LISTEN"); spec != "" {
		network, addr, _ := strings.Cut(spec, ":")
		var err error
		if network == "tcp" {
			_, err = net.Listen("tcp", addr)
		} else {
			_, err = net.ListenPacket("udp", addr)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "listen:", err)
			os.Exit(1)
		}
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func childSpec(t *testing.T, name string, env ...string) Spec {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Spec{Name: name, Path: exe, Args: []string{"-test.run=^$"}, Env: env, ReadyTimeout: 3 * time.Second}
}

func TestOwnedTCPReady(t *testing.T) {
	addr, err := FreeTCPAddr()
	if err != nil {
		t.Fatal(err)
	}
	spec := childSpec(t, "listener", "PROC_TEST_LISTEN=tcp:"+addr)
	spec.Probe = OwnedTCPReady(addr)
	p, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	socks, err := p.Sockets()
	if err != nil || len(socks) != 1 || socks[0].String() != "tcp/"+addr {
		t.Fatalf("Sockets() = %v, %v; want [tcp/%s]", socks, err, addr)
	}

	// A second server told to use the same port cannot bind it; the first
	// answers on the port, and the probe must not take that for readiness.
	spec2 := childSpec(t, "impostor", "PROC_TEST_LISTEN=tcp:"+addr)
	spec2.Probe = OwnedTCPReady(addr)
	_, err = Start(context.Background(), spec2)
	if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("second Start on a taken port: %v; want ErrExited quoting the bind error", err)
	}

	// A process that binds nothing while another answers the port never
	// becomes ready, and says why.
	spec3 := childSpec(t, "silent", "PROC_TEST_LISTEN=tcp:127.0.0.1:0")
	spec3.Probe = OwnedTCPReady(addr)
	spec3.ReadyTimeout = 2 * time.Second // its start too: slow under -race
	_, err = Start(context.Background(), spec3)
	if !errors.Is(err, ErrNotOwner) {
		t.Fatalf("Start of a process that does not own %s: %v; want ErrNotOwner", addr, err)
	}
}

func TestOwnedUDPReady(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	spec := childSpec(t, "udp", "PROC_TEST_LISTEN=udp:"+addr)
	spec.Probe = OwnedUDPReady(addr)
	p, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if ok, err := p.Owns("udp", addr); !ok || err != nil {
		t.Fatalf("Owns(udp, %s) = %v, %v", addr, ok, err)
	}
	if ok, _ := p.Owns("tcp", addr); ok {
		t.Fatal("a UDP socket counted as a TCP listener")
	}
}

func TestExitBeforeReadyQuotesOutput(t *testing.T) {
	spec := childSpec(t, "memcached-like", "PROC_TEST_FAIL=can't run as root without the -u switch")
	spec.Ready = func(context.Context) error { return errors.New("not yet") }
	_, err := Start(context.Background(), spec)
	if !errors.Is(err, ErrExited) {
		t.Fatalf("err = %v, want ErrExited", err)
	}
	for _, want := range []string{"exit status 71", "can't run as root without the -u switch"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestParseHexAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:2B67":                         "127.0.0.1:11111",
		"00000000:0050":                         "0.0.0.0:80",
		"00000000000000000000000001000000:1F90": "[::1]:8080",
	} {
		a, err := parseHexAddr(in)
		if err != nil || a.String() != want {
			t.Errorf("parseHexAddr(%q) = %v, %v; want %s", in, a, err, want)
		}
	}
	for _, bad := range []string{"", "zz:1", "0100007F", "0100007F:zzzzz"} {
		if _, err := parseHexAddr(bad); err == nil {
			t.Errorf("parseHexAddr(%q) succeeded", bad)
		}
	}
}

// TestReadyErrorSurvivesDeadline: when the deadline cuts the last probe
// short, Start reports why the probes before it failed, not the cut.
func TestReadyErrorSurvivesDeadline(t *testing.T) {
	spec := childSpec(t, "silent", "PROC_TEST_LISTEN=tcp:127.0.0.1:0")
	spec.ReadyTimeout = 300 * time.Millisecond
	probes := 0
	spec.Probe = func(ctx context.Context, _ *Process) error {
		if probes++; probes == 1 {
			return fmt.Errorf("127.0.0.1:1: %w", ErrNotOwner)
		}
		<-ctx.Done() // the second probe hangs until the deadline
		return ctx.Err()
	}
	_, err := Start(context.Background(), spec)
	if !errors.Is(err, ErrNotOwner) {
		t.Fatalf("Start: %v; want ErrNotOwner", err)
	}
}
