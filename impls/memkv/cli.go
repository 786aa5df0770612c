package memkv

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/madkvline"
)

const clientUsage = `Usage: kvbench client memkv [--put swap|set] HOST:PORT

A MadKV stdin/stdout client for memkv or any memcached text-protocol server:
each request line (PUT k v, SWAP k v, GET k, DELETE k, SCAN k1 k2, STOP)
becomes memcached requests and its reply line is printed. SCAN is not in
memcached's protocol: it is answered "ERROR unsupported ...". Keys must be
valid memcached keys (at most 250 bytes, no control characters or DEL).
Example: kvbench client memkv 127.0.0.1:11311 < ops.txt

Flags:
`

// client is Impl.Client: `kvbench client memkv [--put swap|set] HOST:PORT`.
func client(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("memkv client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	put := fs.String("put", "swap", "how PUT runs: swap (a gets/cas swap, so the reply says found or not_found, "+
		"as the protocol requires) or set (one memcached set; the reply is the kvbench extension \"PUT k unknown\")")
	fs.Usage = func() {
		fmt.Fprint(stderr, clientUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return madkvline.UsageError(fmt.Errorf("memkv client: %w", err))
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return madkvline.UsageError(fmt.Errorf("memkv client: want one HOST:PORT, got %d arguments", fs.NArg()))
	}
	if *put != "swap" && *put != "set" {
		return madkvline.UsageError(fmt.Errorf("memkv client: --put %q: want swap or set", *put))
	}
	addr := fs.Arg(0)
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return madkvline.UsageError(fmt.Errorf("memkv client: %w", err))
	}
	lc := &lazyClient{addr: addr}
	defer lc.Close()
	var c impls.Client = lc
	if *put == "swap" {
		c = putAsSwap{c}
	}
	return madkvline.ServeLog(ctx, c, stdin, stdout, stderr)
}

// lazyClient dials on the first request and again after a failed dial, so
// the client starts, and keeps serving, while the server is down: each
// request then fails definitely ("ERROR failed": nothing was sent) instead
// of the process exiting, which a runner could only read as an unknown
// outcome. Once connected, memkv's Client redials by itself after a broken
// connection.
type lazyClient struct {
	addr string
	c    impls.Client
}

var _ impls.Client = (*lazyClient)(nil)

// Do dials if needed, then runs req.
func (l *lazyClient) Do(ctx context.Context, req impls.Request) (impls.Response, error) {
	if l.c == nil {
		c, err := Dial(ctx, l.addr, 1)
		if err != nil {
			return impls.Response{}, err // definite: the request was not sent
		}
		l.c = c
	}
	return l.c.Do(ctx, req)
}

// Close closes the connection, if any.
func (l *lazyClient) Close() error {
	if l.c == nil {
		return nil
	}
	return l.c.Close()
}

// putAsSwap executes each Put as a Swap, so that its reply can say whether
// the key existed (memcached's set does not). A Swap is linearizable (a
// gets then a cas or add, retried on a lost race) and costs two round trips
// instead of one.
type putAsSwap struct{ impls.Client }

var _ impls.Client = putAsSwap{}

// Do runs Put as Swap and everything else as is.
func (c putAsSwap) Do(ctx context.Context, req impls.Request) (impls.Response, error) {
	if req.Kind != impls.Put {
		return c.Client.Do(ctx, req)
	}
	req.Kind = impls.Swap
	resp, err := c.Client.Do(ctx, req)
	return impls.Response{Found: resp.Found}, err
}
