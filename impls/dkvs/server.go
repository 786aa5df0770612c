package dkvs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
)

// Server is one dkvs server: a local table answering datagrams on one UDP
// socket. Requests are applied one at a time, so each is atomic with
// respect to the others.
type Server struct {
	mu sync.Mutex
	t  table
}

// NewServer returns a server preloaded with pairs (key, value, key, value...).
func NewServer(pairs ...string) *Server {
	s := &Server{}
	for i := 0; i+1 < len(pairs); i += 2 {
		s.t.put(pairs[i], pairs[i+1])
	}
	return s
}

// Handle applies one request datagram and returns the reply datagrams (one,
// except for a dump). It never panics on any input.
func (s *Server) Handle(req []byte) [][]byte {
	r, err := ParseRequest(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.Op == OpDump:
		return s.t.dump(MaxMsgSize)
	case r.Op == OpPut && err != nil:
		return [][]byte{replyPutError}
	case r.Op == OpPut:
		s.t.put(r.Key, r.Value)
		return [][]byte{replyPutOK}
	case len(r.Key) > MaxElemSize:
		return [][]byte{replyNotFound}
	}
	v, ok := s.t.get(r.Key)
	if !ok {
		return [][]byte{replyNotFound}
	}
	return [][]byte{[]byte(v)}
}

// Serve answers datagrams on conn until ctx is done or conn fails. It closes
// conn when ctx is done.
func (s *Server) Serve(ctx context.Context, conn net.PacketConn) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	buf := make([]byte, 1<<16)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("dkvs server: %w", err)
		}
		for _, reply := range s.Handle(buf[:n]) {
			// A reply that cannot be sent (the client's socket is gone)
			// is the client's loss, as with the original.
			_, _ = conn.WriteTo(reply, from)
		}
	}
}

// ParseAddr parses the server's <ip> <port> arguments: a dotted IPv4 address
// (invalid address otherwise) and a port 1..65535 (invalid argument otherwise).
func ParseAddr(ip, port string) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return netip.AddrPort{}, fmt.Errorf("%w: %q is not a dotted IPv4 address", ErrInvalidAddress, ip)
	}
	p, err := parsePositive(port, 65535)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: port %q", ErrInvalidArgument, port)
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// parsePositive parses a plain decimal 1..max: no sign, no spaces, no
// leading "+", nothing after the digits.
func parsePositive(s string, max uint64) (uint64, error) {
	if s == "" || len(s) > 20 {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 || n > max {
		return 0, strconv.ErrRange
	}
	return n, nil
}

// serve is Impl.Serve: `kvbench serve dkvs <ip> <port> [key value]...`. It
// prints nothing on success, as the original; a wrong argument count prints
// "ERROR: Invalid command" and returns an *ExitError with status 134.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fail := func(c Code, err error) error {
		fmt.Fprintf(stderr, "ERROR: %s\n", c.Message())
		return &ExitError{Code: c, Err: err}
	}
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, serveUsage)
		return nil
	}
	if len(args) < 2 || len(args)%2 != 0 {
		return fail(ErrInvalidCommand, fmt.Errorf("want <ip> <port> [key value]..., got %d arguments", len(args)))
	}
	ap, err := ParseAddr(args[0], args[1])
	if err != nil {
		return fail(codeOf(err), err)
	}
	var lc net.ListenConfig
	conn, err := lc.ListenPacket(ctx, "udp4", ap.String())
	if err != nil {
		return fail(ErrNetwork, err)
	}
	setBuffers(conn)
	return NewServer(args[2:]...).Serve(ctx, conn)
}

// serveUsage is kvbench's help for `kvbench serve dkvs` (the original has
// none: any other wrong argument count is its "ERROR: Invalid command").
const serveUsage = `Usage: kvbench serve dkvs <ip> <port> [key value]...

Runs one dkvs server (EPFL CS-202 DKVS) on UDP <ip>:<port>, preloaded with the
given pairs; it prints nothing. A wrong argument count prints
"ERROR: Invalid command" and exits 134, as the original.
Example: kvbench serve dkvs 127.0.0.1 1234 abc def
`

// setBuffers enlarges a socket's buffers so a multi-datagram dump or a burst
// of parallel requests is not dropped by the kernel (best effort).
func setBuffers(conn net.PacketConn) {
	if u, ok := conn.(*net.UDPConn); ok {
		_ = u.SetReadBuffer(4 << 20)
		_ = u.SetWriteBuffer(4 << 20)
	}
}
