// Package memcached is a go-ycsb binding for the memcached text protocol,
// written for kvbench's `make bench`: go-ycsb v1.0.3 ships none, and kvbench
// measures its own load generator against go-ycsb's on the same memcached.
// scripts/build-go-ycsb.sh copies this directory into go-ycsb's source tree
// (as db/memcached) and builds it; the leading underscore of scripts/_go-ycsb
// keeps it out of kvbench's own module build.
//
// Each go-ycsb thread gets one connection and sends one request at a time,
// as memcaslap's connections and kvbench's -w 1 workers do. A record is one
// memcached item: with one field (fieldcount=1, the benchmark's setting) the
// item holds that field's bytes; with more, a JSON object of the fields.
//
// Properties: memcached.addr (host:port, default 127.0.0.1:11211).
package memcached

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/magiconair/properties"
	"github.com/pingcap/go-ycsb/pkg/prop"
	"github.com/pingcap/go-ycsb/pkg/ycsb"
)

type creator struct{}

type db struct {
	addr  string
	field string // with fieldcount=1, the one field's name (core workload: field0)
}

type connKey struct{}

type conn struct {
	nc  net.Conn
	r   *bufio.Reader
	w   *bufio.Writer
	err error // sticky: the connection is unusable after a protocol or I/O error
}

func init() { ycsb.RegisterDBCreator("memcached", creator{}) }

func (creator) Create(p *properties.Properties) (ycsb.DB, error) {
	d := &db{addr: p.GetString("memcached.addr", "127.0.0.1:11211")}
	if p.GetInt64(prop.FieldCount, prop.FieldCountDefault) == 1 {
		d.field = "field0"
	}
	return d, nil
}

func (d *db) Close() error { return nil }

func (d *db) InitThread(ctx context.Context, _, _ int) context.Context {
	c := &conn{}
	c.nc, c.err = net.Dial("tcp", d.addr)
	if c.err == nil {
		c.r, c.w = bufio.NewReader(c.nc), bufio.NewWriter(c.nc)
	}
	return context.WithValue(ctx, connKey{}, c)
}

func (d *db) CleanupThread(ctx context.Context) {
	if c := ctx.Value(connKey{}).(*conn); c.nc != nil {
		c.nc.Close()
	}
}

func connOf(ctx context.Context) (*conn, error) {
	c := ctx.Value(connKey{}).(*conn)
	return c, c.err
}

// fail makes err sticky: after an I/O or protocol error the stream position
// is unknown, so the thread's later requests fail rather than misread.
func (c *conn) fail(err error) error {
	if c.err == nil {
		c.err = err
	}
	return err
}

func (d *db) Read(ctx context.Context, _ string, key string, fields []string) (map[string][]byte, error) {
	c, err := connOf(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c.w, "get %s\r\n", key)
	if err := c.w.Flush(); err != nil {
		return nil, c.fail(err)
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return nil, c.fail(err)
	}
	if line == "END\r\n" {
		return nil, errors.New("not found")
	}
	f := strings.Fields(line)
	if len(f) < 4 || f[0] != "VALUE" {
		return nil, c.fail(fmt.Errorf("memcached: unexpected reply %q", line))
	}
	n, err := strconv.Atoi(f[3])
	if err != nil || n < 0 {
		return nil, c.fail(fmt.Errorf("memcached: bad length in %q", line))
	}
	buf := make([]byte, n+2+len("END\r\n"))
	if _, err := ioReadFull(c.r, buf); err != nil {
		return nil, c.fail(err)
	}
	if string(buf[n:]) != "\r\nEND\r\n" {
		return nil, c.fail(fmt.Errorf("memcached: bad value trailer %q", buf[n:]))
	}
	return d.decode(buf[:n])
}

func ioReadFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (d *db) decode(v []byte) (map[string][]byte, error) {
	if d.field != "" {
		return map[string][]byte{d.field: v}, nil
	}
	var m map[string][]byte
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, fmt.Errorf("memcached: record is not a field map: %w", err)
	}
	return m, nil
}

func (d *db) encode(values map[string][]byte) ([]byte, error) {
	if v, ok := values[d.field]; ok && len(values) == 1 {
		return v, nil
	}
	return json.Marshal(values)
}

func (d *db) store(ctx context.Context, key string, values map[string][]byte) error {
	c, err := connOf(ctx)
	if err != nil {
		return err
	}
	v, err := d.encode(values)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.w, "set %s 0 0 %d\r\n", key, len(v))
	c.w.Write(v)
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return c.fail(err)
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return c.fail(err)
	}
	if line != "STORED\r\n" {
		return fmt.Errorf("memcached: set %s: %q", key, strings.TrimSpace(line))
	}
	return nil
}

func (d *db) Update(ctx context.Context, _ string, key string, values map[string][]byte) error {
	return d.store(ctx, key, values)
}

func (d *db) Insert(ctx context.Context, _ string, key string, values map[string][]byte) error {
	return d.store(ctx, key, values)
}

func (d *db) Delete(ctx context.Context, _ string, key string) error {
	c, err := connOf(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.w, "delete %s\r\n", key)
	if err := c.w.Flush(); err != nil {
		return c.fail(err)
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return c.fail(err)
	}
	if line != "DELETED\r\n" && line != "NOT_FOUND\r\n" {
		return fmt.Errorf("memcached: delete %s: %q", key, strings.TrimSpace(line))
	}
	return nil
}

func (d *db) Scan(context.Context, string, string, int, []string) ([]map[string][]byte, error) {
	return nil, errors.New("memcached has no scan")
}
