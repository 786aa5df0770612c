package proc

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Socket is one socket a process group has bound: "tcp" sockets in LISTEN
// state and bound "udp" sockets.
type Socket struct {
	Network string // "tcp" or "udp"
	Addr    *net.UDPAddr
}

// String returns network/ip:port.
func (s Socket) String() string { return s.Network + "/" + s.Addr.String() }

// ErrNotOwner is returned by an ownership probe when the address answers but
// no process of the started group has it bound: something else listens there.
var ErrNotOwner = errors.New("the address is served by another process")

// Sockets lists the listening TCP and bound UDP sockets of every process in
// the current incarnation's process group, read from /proc.
func (p *Process) Sockets() ([]Socket, error) {
	pid := p.Pid()
	if pid == 0 {
		return nil, fmt.Errorf("%s is not running", p.spec.Name)
	}
	inodes, err := groupSocketInodes(pid)
	if err != nil {
		return nil, err
	}
	var out []Socket
	for _, t := range []struct{ file, network string }{
		{"/proc/net/tcp", "tcp"}, {"/proc/net/tcp6", "tcp"}, {"/proc/net/udp", "udp"}, {"/proc/net/udp6", "udp"},
	} {
		socks, err := readNetTable(t.file, t.network, inodes)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		out = append(out, socks...)
	}
	return out, nil
}

// Owns reports whether the process group has a socket bound to addr on
// network ("tcp" or "udp"). A wildcard bind (0.0.0.0 or ::) owns every
// address of its port.
func (p *Process) Owns(network, addr string) (bool, error) {
	want, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return false, err
	}
	socks, err := p.Sockets()
	if err != nil {
		return false, err
	}
	for _, s := range socks {
		if s.Network == network && s.Addr.Port == want.Port &&
			(s.Addr.IP.IsUnspecified() || s.Addr.IP.Equal(want.IP) || (want.IP.IsLoopback() && s.Addr.IP.IsLoopback())) {
			return true, nil
		}
	}
	return false, nil
}

// OwnedTCPReady is a readiness probe for a Spec's Probe: addr accepts a TCP
// connection and a process of the started group is the one listening on it.
func OwnedTCPReady(addr string) func(context.Context, *Process) error {
	accept := TCPReady(addr)
	return func(ctx context.Context, p *Process) error {
		if err := accept(ctx); err != nil {
			return err
		}
		ok, err := p.Owns("tcp", addr)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s: %w", addr, ErrNotOwner)
		}
		return nil
	}
}

// OwnedUDPReady is a readiness probe: a process of the group has a UDP
// socket bound to addr.
func OwnedUDPReady(addr string) func(context.Context, *Process) error {
	return func(_ context.Context, p *Process) error {
		ok, err := p.Owns("udp", addr)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no process of %s has bound udp %s yet", p.Name(), addr)
		}
		return nil
	}
}

// groupSocketInodes returns the socket inodes open in any process whose
// process group is pgid.
func groupSocketInodes(pgid int) (map[string]bool, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || (pid != pgid && processGroup(pid) != pgid) {
			continue
		}
		fds, err := os.ReadDir(filepath.Join("/proc", e.Name(), "fd"))
		if err != nil {
			continue // exited, or not ours to read
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join("/proc", e.Name(), "fd", fd.Name()))
			if err == nil && strings.HasPrefix(link, "socket:[") {
				inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
			}
		}
	}
	return inodes, nil
}

// processGroup returns pid's process group from /proc/PID/stat, or -1.
func processGroup(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// Fields after the parenthesized command: state ppid pgrp ...
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return -1
	}
	g, err := strconv.Atoi(f[2])
	if err != nil {
		return -1
	}
	return g
}

// readNetTable parses one of /proc/net/{tcp,tcp6,udp,udp6} and returns the
// sockets whose inode is in inodes (TCP: LISTEN state only).
func readNetTable(file, network string, inodes map[string]bool) ([]Socket, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Socket
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
		if len(fs) < 10 || !inodes[fs[9]] {
			continue
		}
		if network == "tcp" && fs[3] != "0A" { // TCP_LISTEN
			continue
		}
		a, err := parseHexAddr(fs[1])
		if err != nil {
			continue
		}
		out = append(out, Socket{Network: network, Addr: a})
	}
	return out, sc.Err()
}

// parseHexAddr parses /proc/net's "0100007F:2B67" (IPv4, or 32 hex digits of
// IPv6, each 32-bit word in host byte order).
func parseHexAddr(s string) (*net.UDPAddr, error) {
	host, port, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("bad address %q", s)
	}
	b, err := hex.DecodeString(host)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil, fmt.Errorf("bad address %q", s)
	}
	for i := 0; i < len(b); i += 4 { // little-endian words on the hosts Go runs kvbench on
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	pn, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port in %q", s)
	}
	return &net.UDPAddr{IP: net.IP(b), Port: int(pn)}, nil
}
