package dkvs

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
)

// maxRingNodes bounds the virtual nodes a servers.txt may declare, so a
// count like 4000000000 is an invalid config rather than an allocation that
// exhausts memory.
const maxRingNodes = 1 << 20

// RingNode is one virtual node: server Addr's node number ID (1-based), at
// ring position Pos = SHA1("<ip> <port> <id>").
type RingNode struct {
	Addr netip.AddrPort
	ID   int
	Pos  [sha1.Size]byte
}

// Ring is the consistent-hashing ring of a servers.txt: nodes sorted by
// position ascending (20-byte big-endian compare). A Ring is immutable and
// safe for concurrent use.
type Ring struct {
	Nodes []RingNode
	// servers are the distinct servers in the order of the file.
	servers []netip.AddrPort
}

// LoadServers reads and parses a servers.txt. An unreadable file is ErrIO.
func LoadServers(path string) (*Ring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIO, err)
	}
	return ParseServers(bytes.NewReader(b))
}

// ParseServers parses servers.txt: one `<IP> <Port> <#nodes>` per line
// (blank lines are skipped). A port that is not a plain decimal 1..65535, a
// count that is not a plain decimal >= 1, or a line without exactly three
// fields is ErrInvalidConfig; an IP that is not a dotted IPv4 address is
// ErrInvalidAddress. The error wraps the Code, so errors.Is works.
func ParseServers(r io.Reader) (*Ring, error) {
	ring := &Ring{}
	seen := map[netip.AddrPort]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("%w: line %d: want <IP> <Port> <#nodes>, got %q", ErrInvalidConfig, line, sc.Text())
		}
		port, err := parsePositive(f[1], 65535)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: port %q is not 1..65535", ErrInvalidConfig, line, f[1])
		}
		count, err := parsePositive(f[2], maxRingNodes)
		if err != nil || len(ring.Nodes)+int(count) > maxRingNodes {
			return nil, fmt.Errorf("%w: line %d: node count %q is not 1..%d in total", ErrInvalidConfig, line, f[2], maxRingNodes)
		}
		ip, err := netip.ParseAddr(f[0])
		if err != nil || !ip.Is4() {
			return nil, fmt.Errorf("%w: line %d: %q is not a dotted IPv4 address", ErrInvalidAddress, line, f[0])
		}
		ap := netip.AddrPortFrom(ip, uint16(port))
		if !seen[ap] {
			seen[ap] = true
			ring.servers = append(ring.servers, ap)
		}
		for id := 1; id <= int(count); id++ {
			ring.Nodes = append(ring.Nodes, RingNode{Addr: ap, ID: id, Pos: NodePosition(ap, id)})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIO, err)
	}
	sort.SliceStable(ring.Nodes, func(i, j int) bool {
		return bytes.Compare(ring.Nodes[i].Pos[:], ring.Nodes[j].Pos[:]) < 0
	})
	return ring, nil
}

// NodePosition is SHA1("<ip> <port> <id>").
func NodePosition(ap netip.AddrPort, id int) [sha1.Size]byte {
	return sha1.Sum([]byte(ap.Addr().String() + " " + strconv.Itoa(int(ap.Port())) + " " + strconv.Itoa(id)))
}

// KeyPosition is SHA1(key).
func KeyPosition(key string) [sha1.Size]byte { return sha1.Sum([]byte(key)) }

// Servers returns the distinct servers in the order the file lists them.
func (r *Ring) Servers() []netip.AddrPort { return append([]netip.AddrPort(nil), r.servers...) }

// Replicas returns key's replica set: starting at the first node whose
// position is >= the key's (wrapping around), the first n distinct servers
// in ring order. It returns fewer when the ring has fewer distinct servers.
func (r *Ring) Replicas(key string, n int) []netip.AddrPort {
	if len(r.Nodes) == 0 || n <= 0 {
		return nil
	}
	kp := KeyPosition(key)
	start := sort.Search(len(r.Nodes), func(i int) bool { return bytes.Compare(r.Nodes[i].Pos[:], kp[:]) >= 0 })
	out := make([]netip.AddrPort, 0, min(n, len(r.servers)))
	for i := 0; i < len(r.Nodes) && len(out) < n; i++ {
		a := r.Nodes[(start+i)%len(r.Nodes)].Addr
		dup := false
		for _, o := range out {
			dup = dup || o == a
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out
}
