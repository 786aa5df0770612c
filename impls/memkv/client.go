package memkv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/internal/fifo"
)

// Client is the memcached adapter: one TCP connection on which up to window
// concurrent Do calls pipeline. Requests are appended to an output buffer in
// the order callers get the lock; with a window above one, a flusher
// goroutine writes whatever accumulated while its previous write was in the
// kernel (group commit for the socket: one write syscall carries many
// requests under load), and one reader goroutine matches responses to a
// FIFO of waiting calls. With window 1 the caller writes its own request
// and reads its own answer (client_solo.go).
//
// Mapping: Get is `get`, Put is `set` (memcached does not say whether the key
// existed, so Found is Unknown), Delete is `delete`, Swap is a gets/cas loop
// (add when the key is absent), Scan is unsupported.
//
// Failures: a request that was handed to the connection and got no answer
// (connection lost, ctx done) fails with an error wrapping
// impls.ErrUnknownOutcome, and the connection is dropped; the next Do
// dials again once and fails definitely if that fails. A request that was
// never written fails definitely. Before sending on a connection with no
// request outstanding, Do checks without blocking whether the server has
// closed it (crashed or restarted since the last answer); if so it
// reconnects rather than write into a dead connection, so a request that
// could not have reached the server is not reported as an unknown
// outcome. (With window 1 the check is skipped when the last answer came
// less than soloIdleCheck ago: see client_solo.go.)
type Client struct {
	addr   string
	window int

	mu     sync.Mutex // guards cn, closed, watch*, and cn.out, cn.spare, cn.flushQueued
	cn     *clientConn
	closed bool

	// The window-1 path (client_solo.go): solo is held for a whole round
	// trip; busy is the generation of the ctx watch while a request is in
	// flight, 0 otherwise.
	solo      sync.Mutex
	busy      atomic.Uint64
	watchGen  uint64
	watchDone <-chan struct{}
	watchStop func() bool

	// sent holds the requests Send accepted and Recv has not answered
	// (client_pipeline.go); one goroutine at a time uses them. inline
	// counts those of them written by Recv itself (guarded by mu).
	sent   fifo.Queue[pending]
	inline int

	// polled is the request Begin sent and Finish has not answered, on
	// connection pcn (client_poll.go); c.solo is held meanwhile.
	polled *call
	pcn    *clientConn
	// pcall is the call Begin uses (one request in flight at a time:
	// no sync.Pool round trip per request).
	pcall *call
	// borrow: Finish's Get values alias vbuf (impls.BorrowedValues).
	borrow bool
	vbuf   []byte
}

var _ impls.Client = (*Client)(nil)

type clientConn struct {
	id   uint64 // unique in the process (window-1 connections; see impls.Polled)
	nc   net.Conn
	rc   syscall.RawConn // nil when nc is not a socket
	br   *bufio.Reader
	solo *soloSock // the socket br reads (nil when nc is not a socket)
	// started: the reader (and flusher) run; until then callers drive
	// the socket (solo path, Send and Recv). Guarded by Client.mu.
	started bool
	// outstanding counts calls queued or being read; it is incremented
	// under Client.mu and decremented by the reader once it has read the
	// answer, so at zero (seen under Client.mu) nobody reads nc.
	outstanding atomic.Int64
	// out holds requests not yet written; spare is the flusher's other
	// buffer. wmu serializes writes to nc so bytes leave in append order:
	// whoever writes takes wmu before releasing Client.mu.
	out, spare  []byte
	wmu         sync.Mutex
	flushQueued bool
	wake        chan struct{} // cap 1: the flusher has work
	fifo        chan *call
	broken      bool          // guarded by Client.mu
	gone        chan struct{} // closed when broken
	dead        chan struct{} // closed when the reader stops reading
	done        chan struct{} // closed when the reader exited
}

// Errors the client returns.
var (
	// ErrBadKey: the key cannot be sent in the memcached text protocol
	// (empty, over 250 bytes, or containing spaces or control characters).
	ErrBadKey = errors.New("key not valid for the memcached text protocol")
	// ErrClosed: Do after Close.
	ErrClosed = errors.New("memcached client closed")
)

const (
	reqGet byte = iota
	reqGets
	reqSet
	reqAdd
	reqCas
	reqDelete
)

// Response statuses.
const (
	stValue byte = iota
	stMiss
	stStored
	stNotStored
	stExists
	stNotFound
	stDeleted
)

type call struct {
	op    byte
	key   string
	done  chan struct{}
	st    byte
	value string
	cas   uint64
	err   error
	// vbuf, when set, is where readValue copies a value, which then
	// aliases it (impls.BorrowedValues); else the value is allocated.
	vbuf *[]byte
	// owned: the call is a client's own (Client.pcall), not the pool's.
	owned bool
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

const dialTimeout = 5 * time.Second

// Dial connects to a memcached-protocol server at addr (host:port). window
// is the largest number of concurrent Do calls the caller will make.
// The result is a *Client.
func Dial(ctx context.Context, addr string, window int) (impls.Client, error) {
	c := &Client{addr: addr, window: max(window, 1)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.connLocked(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Client) connLocked(ctx context.Context) (*clientConn, error) {
	if c.closed {
		return nil, ErrClosed
	}
	if c.cn != nil && !c.cn.broken {
		return c.cn, nil
	}
	d := net.Dialer{Timeout: dialTimeout}
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, fmt.Errorf("memcached client: dial %s: %v", c.addr, err)
	}
	if cn, ok := newSoloConn(nc); ok {
		// With window 1 the callers drive the socket (client_solo.go);
		// above, the reader and the flusher start with the first Do
		// (startLocked), and until then Send and Recv drive it
		// themselves (client_pipeline.go).
		c.cn = cn
		return cn, nil
	}
	cn := &clientConn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10), gone: make(chan struct{})}
	c.cn = cn
	c.startLocked(cn)
	return cn, nil
}

// startLocked starts cn's reader and, with a window above one, its
// flusher, unless they run.
func (c *Client) startLocked(cn *clientConn) {
	if cn.started {
		return
	}
	cn.started = true
	cn.out, cn.spare = make([]byte, 0, 16<<10), make([]byte, 0, 16<<10)
	cn.wake, cn.fifo = make(chan struct{}, 1), make(chan *call, 2*c.window+8)
	cn.dead, cn.done = make(chan struct{}), make(chan struct{})
	go c.readLoop(cn)
	if c.window > 1 {
		go c.flushLoop(cn)
	}
}

// breakLocked drops cn; the reader then fails every call still waiting.
func (c *Client) breakLocked(cn *clientConn) {
	if !cn.broken {
		cn.broken = true
		close(cn.gone)
		cn.nc.Close()
	}
}

func (c *Client) breakConn(cn *clientConn) {
	c.mu.Lock()
	c.breakLocked(cn)
	c.mu.Unlock()
}

// Close closes the connection; calls in flight fail with an unknown outcome.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	if c.watchStop != nil {
		c.watchStop()
	}
	var done chan struct{}
	if cn := c.cn; cn != nil {
		c.breakLocked(cn)
		done = cn.done
	}
	c.mu.Unlock()
	if done != nil {
		<-done
	}
	return nil
}

// Do executes one request. It is safe for up to window concurrent callers.
func (c *Client) Do(ctx context.Context, req impls.Request) (impls.Response, error) {
	if req.Kind == impls.Swap {
		return c.swap(ctx, req.Key, req.Value)
	}
	op, ok := opOf(req.Kind)
	if !ok {
		return impls.Response{}, errUnsupported(req.Kind)
	}
	cl, err := c.roundTrip(ctx, op, req.Key, req.Value, 0)
	if err != nil {
		return impls.Response{}, err
	}
	return answer(cl)
}

func errUnsupported(k impls.Kind) error {
	return fmt.Errorf("memcached %s: %w", k, impls.ErrUnsupported)
}

// opOf is the command for a request of kind k that takes one command
// (Get, Put, Delete).
func opOf(k impls.Kind) (byte, bool) {
	switch k {
	case impls.Get:
		return reqGet, true
	case impls.Put:
		return reqSet, true
	case impls.Delete:
		return reqDelete, true
	}
	return 0, false
}

// answer is the Response to cl's get, set or delete; it releases cl.
func answer(cl *call) (impls.Response, error) {
	defer release(cl)
	switch {
	case cl.op == reqGet && cl.st == stValue:
		return impls.Response{Found: impls.Present, Value: cl.value}, nil
	case cl.op == reqGet:
		return impls.Response{Found: impls.Absent}, nil
	case cl.op == reqSet && cl.st != stStored:
		return impls.Response{}, fmt.Errorf("memcached set %q: not stored", cl.key)
	case cl.op == reqSet:
		return impls.Response{Found: impls.Unknown}, nil
	}
	return impls.Response{Found: impls.FoundOf(cl.st == stDeleted)}, nil
}

// swap reads with gets and writes with cas (or add when absent), retrying
// when another writer got in between. Only the final write can leave the
// outcome unknown; a failed read or a refused write changed nothing.
func (c *Client) swap(ctx context.Context, key, value string) (impls.Response, error) {
	for {
		r, err := c.roundTrip(ctx, reqGets, key, "", 0)
		if err != nil {
			return impls.Response{}, fmt.Errorf("swap %q: read step failed, nothing written: %v", key, err)
		}
		found, old, cas := r.st == stValue, r.value, r.cas
		release(r)
		var w *call
		if found {
			w, err = c.roundTrip(ctx, reqCas, key, value, cas)
		} else {
			w, err = c.roundTrip(ctx, reqAdd, key, value, 0)
		}
		if err != nil {
			return impls.Response{}, err
		}
		st := w.st
		release(w)
		if st == stStored {
			if found {
				return impls.Response{Found: impls.Present, Value: old}, nil
			}
			return impls.Response{Found: impls.Absent}, nil
		}
		if err := ctx.Err(); err != nil {
			return impls.Response{}, fmt.Errorf("swap %q: gave up after a lost race, nothing written: %v", key, err)
		}
	}
}

func release(cl *call) {
	cl.value, cl.err, cl.vbuf = "", nil, nil
	if cl.owned {
		return // a client's own (Begin's), reused by its next Begin
	}
	callPool.Put(cl)
}

func validClientKey(k string) bool {
	if len(k) == 0 || len(k) > maxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] == 0x7f {
			return false
		}
	}
	return true
}

// roundTrip sends one command and waits for its response. On success the
// caller owns the returned call and must release it.
func (c *Client) roundTrip(ctx context.Context, op byte, key, value string, cas uint64) (*call, error) {
	if err := checkRequest(ctx, key); err != nil {
		return nil, err
	}
	if c.window == 1 {
		c.solo.Lock()
		defer c.solo.Unlock()
		cn, ok, err := c.soloConn(ctx)
		if err != nil {
			return nil, err
		}
		if ok {
			return c.roundTripSolo(ctx, cn, op, key, value, cas)
		}
	}
	cn, cl, err := c.send(ctx, op, key, value, cas)
	if err != nil {
		return nil, err
	}
	return c.await(ctx, cn, cl)
}

// checkRequest fails a request that cannot be sent: a bad key, or ctx
// already ended.
func checkRequest(ctx context.Context, key string) error {
	if !validClientKey(key) {
		return fmt.Errorf("memcached client: %q: %w", key, ErrBadKey)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcached client: not sent: %v", err)
	}
	return nil
}

// send queues one request on the connection (the general path: a reader
// goroutine answers it, see await).
func (c *Client) send(ctx context.Context, op byte, key, value string, cas uint64) (*clientConn, *call, error) {
	cl := callPool.Get().(*call)
	cl.op, cl.key = op, key
	c.mu.Lock()
	cn, err := c.connLocked(ctx)
	if err == nil && cn.outstanding.Load() == 0 && len(cn.out) == 0 && cn.peerClosed() {
		// The server hung up while the connection was idle: nothing of
		// this request was sent; dial a fresh connection for it.
		c.breakLocked(cn)
		cn, err = c.connLocked(ctx)
	}
	if err == nil && c.inline > 0 {
		err = errInlinePending
	}
	if err != nil {
		c.mu.Unlock()
		callPool.Put(cl)
		return nil, nil, err
	}
	c.startLocked(cn)
	cn.outstanding.Add(1)
	cn.out = appendRequest(cn.out, op, key, value, cas)
	select {
	case cn.fifo <- cl:
	default:
		// More callers than the window: let responses drain, then queue.
		c.writeLocked(cn)
		select {
		case cn.fifo <- cl:
		case <-cn.gone:
			cl.err = fmt.Errorf("memcached client: %s %q: %w: connection lost", opName(op), key, impls.ErrUnknownOutcome)
			cl.done <- struct{}{}
		case <-cn.dead: // the reader cannot take c.mu to mark cn broken while we hold it
			cl.err = fmt.Errorf("memcached client: %s %q: %w: connection lost", opName(op), key, impls.ErrUnknownOutcome)
			cl.done <- struct{}{}
		}
	}
	switch {
	case c.window == 1:
		c.writeLocked(cn)
	case !cn.flushQueued:
		cn.flushQueued = true
		select {
		case cn.wake <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
	return cn, cl, nil
}

// await waits for the answer to cl, sent on cn. On success the caller owns
// cl and must release it.
func (c *Client) await(ctx context.Context, cn *clientConn, cl *call) (*call, error) {
	select {
	case <-cl.done:
		if cl.err != nil {
			err := cl.err
			release(cl)
			return nil, err
		}
		return cl, nil
	case <-ctx.Done():
		// cl stays with the reader, which fails it; the answer would
		// arrive out of step: start afresh.
		c.breakConn(cn)
		return nil, fmt.Errorf("memcached client: %s %q: %w: %w", opName(cl.op), cl.key, impls.ErrUnknownOutcome, ctx.Err())
	}
}

// peerClosed reports, without blocking, whether the server closed the
// connection (EOF or an error such as a reset is pending). Only call it
// when no call is outstanding: the reader holds the socket's read lock
// while it waits for an answer.
func (cn *clientConn) peerClosed() bool {
	if cn.rc == nil {
		return false
	}
	n, err := cn.peek()
	return (err == nil && n == 0) || (err != nil && err != syscall.EAGAIN)
}

// peek looks, without blocking or consuming anything, at what the socket
// holds: n > 0 bytes of input, n == 0 for the server's EOF, EAGAIN for
// nothing yet, another error for a broken connection. The same caveat as
// peerClosed's applies.
func (cn *clientConn) peek() (n int, err error) {
	var b [1]byte
	rerr := cn.rc.Read(func(fd uintptr) bool {
		for {
			n, _, err = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if err != syscall.EINTR {
				return true
			}
		}
	})
	if rerr != nil {
		return 0, rerr
	}
	return n, err
}

func opName(op byte) string {
	return [...]string{"get", "gets", "set", "add", "cas", "delete"}[op]
}

// appendRequest appends one request line (and data block) to b.
func appendRequest(b []byte, op byte, key, value string, cas uint64) []byte {
	b = append(b, opName(op)...)
	b = append(b, ' ')
	b = append(b, key...)
	switch op {
	case reqSet, reqAdd, reqCas:
		b = append(b, " 0 0 "...)
		b = strconv.AppendInt(b, int64(len(value)), 10)
		if op == reqCas {
			b = append(b, ' ')
			b = strconv.AppendUint(b, cas, 10)
		}
		b = append(b, "\r\n"...)
		b = append(b, value...)
	}
	return append(b, "\r\n"...)
}

// writeLocked writes cn.out now, after any write the flusher has in
// flight (older bytes). The caller holds c.mu.
func (c *Client) writeLocked(cn *clientConn) {
	if len(cn.out) == 0 || cn.broken {
		return
	}
	cn.wmu.Lock()
	_, err := cn.nc.Write(cn.out)
	cn.wmu.Unlock()
	cn.out = cn.out[:0]
	if err != nil {
		c.breakLocked(cn)
	}
}

// flushLoop writes the requests that accumulate in cn.out, one write per
// batch: while one write is in the kernel, later callers append to the
// other buffer, and the next write carries all of them.
func (c *Client) flushLoop(cn *clientConn) {
	for {
		select {
		case <-cn.wake:
		case <-cn.gone:
			return
		}
		// Callers woken by the reader's last batch of answers are runnable
		// now; let them append their next requests before this write.
		runtime.Gosched()
		c.mu.Lock()
		cn.flushQueued = false
		if len(cn.out) == 0 || cn.broken {
			c.mu.Unlock()
			continue
		}
		buf := cn.out
		cn.out = cn.spare[:0]
		cn.wmu.Lock() // before releasing mu: no later bytes can overtake these
		c.mu.Unlock()
		_, err := cn.nc.Write(buf)
		cn.wmu.Unlock()
		c.mu.Lock()
		cn.spare = buf[:0]
		if err != nil {
			c.breakLocked(cn)
		}
		c.mu.Unlock()
	}
}

// readLoop reads responses in order and completes the FIFO's calls. When
// the connection fails, it fails the call it was reading and every queued
// one with an unknown outcome: each may have reached the server.
func (c *Client) readLoop(cn *clientConn) {
	defer close(cn.done)
	var cur *call
	fail := func(cl *call, err error) {
		cl.err = fmt.Errorf("memcached client: %s %q: %w: %v", opName(cl.op), cl.key, impls.ErrUnknownOutcome, err)
		cl.done <- struct{}{}
	}
	var err error
	for err == nil {
		select {
		case cur = <-cn.fifo:
		case <-cn.gone:
			err = net.ErrClosed
			continue
		}
		err = readResponse(cn.br, cur)
		cn.outstanding.Add(-1)
		if err != nil {
			fail(cur, err)
			break
		}
		cur.done <- struct{}{}
	}
	close(cn.dead)
	c.breakConn(cn)
	for {
		select {
		case cl := <-cn.fifo:
			fail(cl, err)
		default:
			return
		}
	}
}

// errProtocol is a response the adapter cannot match to its request.
var errProtocol = errors.New("unexpected response")

// readResponse reads the answer to cl. A server error line completes cl
// with an error (definite for a read or a refused command, unknown for a
// SERVER_ERROR on a write); a transport or framing error is returned.
func readResponse(br *bufio.Reader, cl *call) error {
	line, err := readRespLine(br)
	if err != nil {
		return err
	}
	if e := serverError(line, cl); e != nil {
		cl.err = e
		return nil
	}
	switch cl.op {
	case reqGet, reqGets:
		if string(line) == "END" {
			cl.st = stMiss
			return nil
		}
		if err := readValue(br, line, cl); err != nil {
			return err
		}
		line, err = readRespLine(br)
		if err != nil {
			return err
		}
		if string(line) != "END" {
			return fmt.Errorf("%w to get %q: %q", errProtocol, cl.key, line)
		}
		cl.st = stValue
		return nil
	case reqDelete:
		switch string(line) {
		case "DELETED":
			cl.st = stDeleted
			return nil
		case "NOT_FOUND":
			cl.st = stNotFound
			return nil
		}
	default:
		switch string(line) {
		case "STORED":
			cl.st = stStored
			return nil
		case "NOT_STORED":
			cl.st = stNotStored
			return nil
		case "EXISTS":
			cl.st = stExists
			return nil
		case "NOT_FOUND":
			cl.st = stNotFound
			return nil
		}
	}
	return fmt.Errorf("%w to %s %q: %q", errProtocol, opName(cl.op), cl.key, line)
}

func serverError(line []byte, cl *call) error {
	write := cl.op == reqSet || cl.op == reqAdd || cl.op == reqCas || cl.op == reqDelete
	switch {
	case bytes.HasPrefix(line, []byte("SERVER_ERROR")) && write:
		// memcached drops the old value when it refuses a set.
		return fmt.Errorf("memcached %s %q: %w: %s", opName(cl.op), cl.key, impls.ErrUnknownOutcome, line)
	case bytes.HasPrefix(line, []byte("SERVER_ERROR")), bytes.HasPrefix(line, []byte("CLIENT_ERROR")), string(line) == "ERROR",
		// "ERROR Too many open connections": the server hung up on accept
		// without reading anything.
		bytes.HasPrefix(line, []byte("ERROR ")):
		return fmt.Errorf("memcached %s %q: %s", opName(cl.op), cl.key, line)
	}
	return nil
}

func readRespLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: response line too long", errProtocol)
		}
		return nil, err
	}
	return bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'}), nil
}

// readValue parses "VALUE <key> <flags> <bytes> [<cas>]" and its data block.
func readValue(br *bufio.Reader, line []byte, cl *call) error {
	var f [6][]byte
	nf := 0
	for rest := line; len(rest) > 0 && nf < len(f); {
		var w []byte
		if w, rest = nextWord(rest); len(w) > 0 {
			f[nf] = w
			nf++
		}
	}
	if nf < 4 || nf > 5 || string(f[0]) != "VALUE" || string(f[1]) != cl.key || (cl.op == reqGets) != (nf == 5) {
		return fmt.Errorf("%w to %s %q: %q", errProtocol, opName(cl.op), cl.key, line)
	}
	n, err := strconv.Atoi(string(f[3]))
	if err != nil || n < 0 {
		return fmt.Errorf("%w: bad length in %q", errProtocol, line)
	}
	if cl.op == reqGets {
		if cl.cas, err = strconv.ParseUint(string(f[4]), 10, 64); err != nil {
			return fmt.Errorf("%w: bad cas in %q", errProtocol, line)
		}
	}
	var data []byte
	if n+2 <= br.Size() {
		if data, err = br.Peek(n + 2); err != nil {
			return err
		}
	} else {
		data = make([]byte, n+2)
		if _, err := io.ReadFull(br, data); err != nil {
			return err
		}
	}
	if data[n] != '\r' || data[n+1] != '\n' {
		return fmt.Errorf("%w: data block of %q not terminated", errProtocol, cl.key)
	}
	if cl.vbuf != nil {
		b := append((*cl.vbuf)[:0], data[:n]...)
		*cl.vbuf = b
		cl.value = unsafe.String(unsafe.SliceData(b), n)
	} else {
		cl.value = string(data[:n])
	}
	if n+2 <= br.Size() {
		br.Discard(n + 2)
	}
	return nil
}
