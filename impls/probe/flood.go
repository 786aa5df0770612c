package probe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// FloodConfig describes a connection flood.
type FloodConfig struct {
	// Conns is how many connections to open.
	Conns int
	// Payload returns what connection i sends and then holds, never
	// completing it (e.g. SetPrefix or MultiGetPrefix).
	Payload func(i int) []byte
	// Settle is how long to hold every connection after the payloads are
	// sent, before RSS is read (default 500 ms).
	Settle time.Duration
}

// FloodResult is what a flood measured. RSS figures are in bytes.
type FloodResult struct {
	// Opened connections took their whole payload; Refused ones were
	// closed or reset by the server before that.
	Opened, Refused int
	// RSSBefore and RSSDuring are the server's resident set before the
	// flood and while every connection is held; RSSPeak is its high-water
	// mark (VmHWM) at that point, which also covers earlier activity.
	RSSBefore, RSSDuring, RSSPeak int64
}

// String formats the result in MB.
func (r FloodResult) String() string {
	mb := func(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }
	return fmt.Sprintf("%d connections held (%d refused): RSS %s before, %s during, peak %s",
		r.Opened, r.Refused, mb(r.RSSBefore), mb(r.RSSDuring), mb(r.RSSPeak))
}

// Flood opens cfg.Conns connections to addr, sends each its payload, holds
// them all while reading the RSS of process pid, then closes them.
func Flood(ctx context.Context, addr string, pid int, cfg FloodConfig) (FloodResult, error) {
	var res FloodResult
	if cfg.Settle <= 0 {
		cfg.Settle = 500 * time.Millisecond
	}
	var err error
	if res.RSSBefore, _, err = RSS(pid); err != nil {
		return res, err
	}
	conns := make([]net.Conn, cfg.Conns)
	defer func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
	}()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // bound concurrent senders
	var d net.Dialer
	for i := range conns {
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return res, fmt.Errorf("flood: connection %d: %w", i, err)
		}
		conns[i] = nc
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, nc net.Conn) {
			defer wg.Done()
			defer func() { <-sem }()
			nc.SetWriteDeadline(time.Now().Add(time.Minute))
			_, werr := nc.Write(cfg.Payload(i))
			mu.Lock()
			if werr != nil {
				res.Refused++
			} else {
				res.Opened++
			}
			mu.Unlock()
		}(i, nc)
	}
	wg.Wait()
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(cfg.Settle):
	}
	// A connection the server refused after the payload went out shows as
	// closed: count it as refused.
	for _, nc := range conns {
		if closedByPeer(nc) {
			res.Opened--
			res.Refused++
		}
	}
	res.RSSDuring, res.RSSPeak, err = RSS(pid)
	return res, err
}

// closedByPeer reports whether the server closed nc: it reads what the
// server sent (an error line, say) for a moment, up to 64 KiB; a
// connection still streaming answers beyond that is open.
func closedByPeer(nc net.Conn) bool {
	nc.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	var b [4096]byte
	for read := 0; read < 64<<10; {
		n, err := nc.Read(b[:])
		read += n
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return false
		}
		if err != nil {
			return true
		}
	}
	return false
}

// SetPrefix returns the first n bytes of a memcached set of a size-byte
// value for key (all of it, a complete command, when n is large enough).
func SetPrefix(key string, size, n int) []byte {
	b := fmt.Appendf(nil, "set %s 0 0 %d\r\n", key, size)
	b = append(b, bytes.Repeat([]byte{'v'}, size)...)
	b = append(b, "\r\n"...)
	return b[:min(n, len(b))]
}

// MultiGetPrefix returns the first n bytes of a memcached get line of
// about size bytes (many 8-byte keys), without its newline.
func MultiGetPrefix(size, n int) []byte {
	b := append(make([]byte, 0, size+16), "get"...)
	for i := 0; len(b) < size; i++ {
		b = fmt.Appendf(b, " k%06d", i%1000000)
	}
	return b[:min(n, len(b))]
}

// RSS returns the resident set size and its high-water mark of process
// pid, in bytes, from /proc/PID/status (Linux).
func RSS(pid int) (rss, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("probe: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := bytes.Fields(sc.Bytes())
		if len(fields) < 2 {
			continue
		}
		kb, perr := strconv.ParseInt(string(fields[1]), 10, 64)
		if perr != nil {
			continue
		}
		switch string(fields[0]) {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("probe: no VmRSS for pid %d", pid)
	}
	return rss, peak, sc.Err()
}
