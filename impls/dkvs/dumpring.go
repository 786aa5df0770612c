package dkvs

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// dumpRing is the original's dkvs-dump-ring: the ring's nodes in order,
// then each distinct server's dump (every reply datagram followed by a
// newline) under an "<ip>:<port>:" header, reading until the server has
// been silent for the timeout. A node of an already dumped server says so;
// a server that does not answer shows only its header. Arguments other
// than --servers FILE are ignored, as the original takes none.
func dumpRing(ctx context.Context, o cliOptions, args []string, stdout, stderr io.Writer) error {
	file := o.servers
	for i := 0; i < len(args); i++ {
		if v, ok := strings.CutPrefix(args[i], "--servers="); ok {
			file = v
		} else if args[i] == "--servers" && i+1 < len(args) {
			file = args[i+1]
			i++
		}
	}
	ring, err := LoadServers(file)
	if err != nil {
		c := codeOf(err)
		fmt.Fprintf(stderr, "ERROR: %s\n", c.Message())
		return &ExitError{Code: c, Err: err}
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	w.WriteString("Ring nodes:\n")
	for _, n := range ring.Nodes {
		fmt.Fprintf(w, "%s (%s %d)\n", hex.EncodeToString(n.Pos[:]), n.Addr.Addr(), n.Addr.Port())
	}
	w.WriteString("\n")
	timeout := o.timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	first := map[netip.AddrPort]int{}
	for i, n := range ring.Nodes {
		if j, ok := first[n.Addr]; ok {
			fmt.Fprintf(w, "%s: node %d has same server as node %d\n\n", hostPort(n.Addr), i, j)
			continue
		}
		first[n.Addr] = i
		fmt.Fprintf(w, "%s:\n", hostPort(n.Addr))
		if err := w.Flush(); err != nil {
			return err
		}
		if err := dumpServer(ctx, n.Addr, timeout, w); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintf(stderr, "ERROR: %s\n", ErrNetwork.Message())
			return &ExitError{Code: ErrNetwork, Err: err}
		}
	}
	return w.Flush()
}

// hostPort prints an address the way the original's print_sockaddr_in does.
func hostPort(a netip.AddrPort) string {
	return a.Addr().String() + ":" + strconv.Itoa(int(a.Port()))
}

// dumpServer sends the 0-byte dump request to addr on a fresh socket and
// copies every reply datagram, each followed by a newline, until no
// datagram arrived for timeout. A datagram from another address is printed
// after a "/!\ FROM <ip>:<port>:" line.
func dumpServer(ctx context.Context, addr netip.AddrPort, timeout time.Duration, w io.Writer) error {
	conn, err := net.ListenUDP("udp4", nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadBuffer(4 << 20)
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	if _, err := conn.WriteToUDPAddrPort(nil, addr); err != nil {
		return nil // the original prints only the header for a server it cannot reach
	}
	buf := make([]byte, 1<<16)
	if err := conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	for ctx.Err() == nil {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			var ne net.Error
			if ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) {
				return ctx.Err()
			}
			continue // e.g. ICMP port unreachable: keep waiting out the timeout
		}
		if from = unmap(from); from != addr {
			fmt.Fprintf(w, "/!\\ FROM %s:\n", hostPort(from))
		}
		w.Write(buf[:n])
		io.WriteString(w, "\n")
		if err := conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			return err
		}
	}
	return ctx.Err()
}
