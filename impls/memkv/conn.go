package memkv

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"time"
)

// conn is one client connection's state. It is used by one goroutine.
type conn struct {
	srv     *Server
	lc      *loopConn // the event loop's side of the connection; nil when a goroutine serves it
	cr      *connReader
	br      *bufio.Reader
	w       io.Writer
	out     []byte
	refs    []valueRef // large values sent from the store's memory, not copied into out
	refLen  int        // bytes in refs
	segs    []replySeg // replies in out that depend on log records
	wait    int64      // log position the buffered output depends on
	now     int64
	noreply bool
	closing bool
	toks    [maxTokens - 1][]byte
	key     []byte
	long    []byte
	longRes int64 // bytes of the in-flight budget held by long
	nread   int64
}

// valueRef is a value to be sent at offset at of conn.out. Values are never
// modified once stored, so the reference stays valid; sending large values
// from the store's memory keeps a slow reader from making its connection
// hold a copy of everything it asked for.
type valueRef struct {
	at int
	v  []byte
}

// replySeg is one reply in conn.out whose truth depends on the log up to
// seq. If the log fails before seq is durable, the reply is replaced with
// SERVER_ERROR (see refuseUndurable).
type replySeg struct {
	start, end int
	seq        int64
}

const (
	readBufSize    = 16 << 10
	maxLongLine    = 1 << 20 // a multi-get line may be this long
	flushThreshold = 64 << 10
	// smallValue is the largest data block allocated in one piece when its
	// header arrives; larger ones grow as their bytes arrive, charged to
	// the in-flight budget.
	smallValue = 16 << 10
)

// Lines the server answers when it cannot do what was asked.
const (
	logDownLine = "SERVER_ERROR log write failed"
	oomLine     = "SERVER_ERROR out of memory storing object"
	oomReadLine = "SERVER_ERROR out of memory reading request"
)

// serveConn runs the command loop on one connection until EOF, quit, an
// I/O error or a protocol violation that forces a hang-up.
func (s *Server) serveConn(rw io.ReadWriter) {
	s.runConn(s.newConn(rw))
}

// newConn returns the state of a connection served by a goroutine reading
// and writing rw (nil for a connection of an event loop, which sets lc).
func (s *Server) newConn(rw io.ReadWriter) *conn {
	c := &conn{srv: s, w: rw, out: make([]byte, 0, 4096)}
	c.cr = &connReader{c: c}
	if rw != nil {
		c.cr.setReader(rw)
	}
	c.br = bufio.NewReaderSize(c.cr, readBufSize)
	return c
}

// runConn is the command loop of a connection served by a goroutine.
func (s *Server) runConn(c *conn) {
	if w := s.wal; w != nil && w.mode == FsyncAlways {
		c.cr.gc = w
		w.active.Add(1)
		defer w.active.Add(-1)
	}
	defer func() {
		s.stats.bytesRead.Add(uint64(c.nread))
		c.releaseLong()
	}()
	for {
		line, err := c.readLine()
		if err != nil {
			switch {
			case errors.Is(err, errLineTooLong):
				c.out = append(c.out, "CLIENT_ERROR line too long\r\n"...)
			case errors.Is(err, errNoMemory):
				c.out = append(c.out, oomReadLine+"\r\n"...)
			}
			c.flush()
			return
		}
		c.now = time.Now().UnixNano()
		err = c.process(line)
		c.releaseLong()
		if err != nil {
			c.flush() // answer what came before the short data block
			return
		}
		if c.closing {
			c.flush()
			return
		}
		if c.br.Buffered() == 0 || len(c.out)+c.refLen >= flushThreshold {
			if c.flush() != nil {
				return
			}
		}
	}
}

// connReader is the socket as the connection's bufio.Reader sees it. Before
// a read that would block it sends the buffered replies, so a client never
// waits for answers the server holds while it waits for more input (an
// incomplete command after complete ones). Like memcached it first tries
// the read without blocking, so replies to a pipelined batch that spans
// several reads still leave together. On an event loop's connection it
// reads without blocking and never sends (see loopConn.read).
type connReader struct {
	c  *conn
	r  io.Reader
	rc syscall.RawConn // nil when r is not a socket
	gc *wal            // the log's group commit, told when this connection idles (FsyncAlways)
}

// setReader makes r the connection's input.
func (r *connReader) setReader(rd io.Reader) {
	r.r, r.rc = rd, nil
	if sc, ok := rd.(syscall.Conn); ok {
		r.rc, _ = sc.SyscallConn()
	}
}

func (r *connReader) Read(p []byte) (int, error) {
	if lc := r.c.lc; lc != nil {
		return lc.read(p)
	}
	if len(r.c.out) > 0 {
		if r.rc != nil {
			if n, err, ok := tryRead(r.rc, p); ok {
				r.c.nread += int64(n)
				return n, err
			}
		}
		if err := r.c.flush(); err != nil {
			return 0, err
		}
	}
	if r.gc != nil {
		r.gc.active.Add(-1)
		r.gc.nudge()
		defer r.gc.active.Add(1)
	}
	n, err := r.r.Read(p)
	r.c.nread += int64(n)
	return n, err
}

// tryRead reads from a non-blocking socket without waiting; ok is false
// when no data is there yet.
func tryRead(rc syscall.RawConn, p []byte) (n int, err error, ok bool) {
	var rerr error
	cerr := rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = syscall.Read(int(fd), p)
			if rerr != syscall.EINTR {
				return true // never wait for readiness
			}
		}
	})
	switch {
	case cerr != nil:
		return 0, cerr, true
	case rerr == syscall.EAGAIN:
		return 0, nil, false
	case rerr != nil:
		return 0, rerr, true
	case n == 0 && len(p) > 0:
		return 0, io.EOF, true
	}
	return n, nil, true
}

var (
	errLineTooLong = errors.New("command line too long")
	errNoMemory    = errors.New("in-flight memory budget exhausted")
)

// readLine returns the next command line without its terminator, as
// memcached cuts it: "\n" ends it, a "\r" before it is dropped, and a NUL
// ends the command early. A line that fills the read buffer without a
// newline is refused unless it is a retrieval (multi-get), which may grow
// to maxLongLine, charged to the in-flight budget as it grows.
func (c *conn) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		if !isRetrieval(line) {
			return nil, errLineTooLong
		}
		c.long = c.long[:0]
		for {
			if len(c.long)+len(line) > maxLongLine {
				return nil, errLineTooLong
			}
			if !c.growLong(len(line)) {
				return nil, errNoMemory
			}
			c.long = append(c.long, line...)
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
			line, err = c.br.ReadSlice('\n')
		}
		line = c.long
	}
	if err != nil {
		return nil, err
	}
	return trimLine(line), nil
}

// trimLine cuts a command line ending in "\n" as memcached does: the "\n"
// and a "\r" before it are dropped, and a NUL ends the command early.
func trimLine(line []byte) []byte {
	line = line[:len(line)-1]
	if len(line) > 1 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if i := bytes.IndexByte(line, 0); i >= 0 {
		return line[:i]
	}
	return line
}

// growLong makes room for n more bytes in c.long, charging the growth to
// the in-flight budget.
func (c *conn) growLong(n int) bool {
	if len(c.long)+n <= cap(c.long) {
		return true
	}
	newCap := max(2*cap(c.long), len(c.long)+n, 2*readBufSize)
	if !c.srv.reserve(int64(newCap) - c.longRes) {
		return false
	}
	c.longRes = int64(newCap)
	nb := make([]byte, len(c.long), newCap)
	copy(nb, c.long)
	c.long = nb
	return true
}

// releaseLong drops a long line once it is processed, with its budget.
func (c *conn) releaseLong() {
	if c.longRes > 0 {
		c.srv.release(c.longRes)
		c.longRes = 0
		c.long = nil
	}
}

// readData reads a data block of n bytes (value and "\r\n"). A small block
// is allocated at once; a larger one grows as its bytes arrive, each growth
// charged to the in-flight budget, so a connection that announces 1 MB and
// sends a little holds a little. When the budget runs out the rest of the
// block is skipped and ok is false. On success the caller owns data and the
// reservation res, which it releases once the store holds the value.
func (c *conn) readData(n int) (data []byte, res int64, ok bool, err error) {
	if n <= smallValue {
		data = make([]byte, n)
		_, err = io.ReadFull(c.br, data)
		return data, 0, err == nil, err
	}
	for len(data) < n {
		if len(data) == cap(data) {
			// Growing by 4x (64 KiB, 256 KiB, 1 MiB, ...) leaves a third
			// of the value's size as garbage, where doubling leaves all of it.
			newCap := min(n, max(4*cap(data), smallValue*4))
			if !c.srv.reserve(int64(newCap) - res) {
				c.srv.release(res)
				_, err = c.br.Discard(n - len(data))
				return nil, 0, false, err
			}
			res = int64(newCap)
			nb := make([]byte, len(data), newCap)
			copy(nb, data)
			data = nb
		}
		m, rerr := c.br.Read(data[len(data):cap(data)])
		data = data[:len(data)+m]
		if rerr != nil && len(data) < n {
			c.srv.release(res)
			if rerr == io.EOF {
				rerr = io.ErrUnexpectedEOF
			}
			return nil, 0, false, rerr
		}
	}
	return data, res, true, nil
}

func isRetrieval(line []byte) bool {
	i := 0
	for i < len(line) && line[i] == ' ' {
		i++
	}
	l := string(line[i:min(len(line), i+5)])
	return len(l) >= 4 && (l[:4] == "get " || l[:4] == "gat " || l == "gets " || l == "gats ")
}

// logDown reports whether the log is failing, so writes must be refused.
func (c *conn) logDown() bool {
	return c.srv.wal != nil && c.srv.wal.failing.Load()
}

// flush sends the buffered responses once everything they reveal is
// durable: a write's own record, or for a read the newest record of the
// shard it read. Nothing is sent before that, so no client can observe a
// value a crash could still take back (with --fsync always). If the log
// fails first, the replies that depend on records not yet durable become
// SERVER_ERROR: such a write may still be applied once the log recovers,
// so its outcome is unknown to the client, and such a read is not answered.
func (c *conn) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	if w := c.srv.wal; w != nil {
		if err := w.waitDurable(c.wait); err != nil {
			c.refuseUndurable(w.durable.Load())
		}
		w.throttle()
	}
	var err error
	if len(c.refs) == 0 {
		_, err = c.w.Write(c.out)
	} else {
		// One writev for the replies and the values they refer to.
		bufs := net.Buffers(c.outBufs(make([][]byte, 0, 2*len(c.refs)+1)))
		_, err = bufs.WriteTo(c.w)
	}
	c.resetOut()
	return err
}

// settle is flush's wait for the log without the waiting, for an event
// loop: it reports whether the buffered replies may be sent now, because
// everything they reveal is durable or, the log having failed, the
// undurable ones were replaced with SERVER_ERROR.
func (c *conn) settle() bool {
	w := c.srv.wal
	if w == nil || w.mode != FsyncAlways || w.durable.Load() >= c.wait {
		return true
	}
	if w.failure() != nil {
		c.refuseUndurable(w.durable.Load())
		return true
	}
	return false
}

// outBufs appends to dst the buffered output as it goes on the wire: the
// pieces of c.out and the values they refer to.
func (c *conn) outBufs(dst [][]byte) [][]byte {
	last := 0
	for _, r := range c.refs {
		dst = append(dst, c.out[last:r.at], r.v)
		last = r.at
	}
	return append(dst, c.out[last:])
}

// resetOut empties the output buffer once its contents are sent.
func (c *conn) resetOut() {
	c.srv.stats.bytesWritten.Add(uint64(len(c.out) + c.refLen))
	c.refLen = 0
	clear(c.refs)
	c.refs = c.refs[:0]
	if cap(c.out) > 1<<20 {
		c.out = make([]byte, 0, 4096)
	} else {
		c.out = c.out[:0]
	}
	c.segs = c.segs[:0]
	c.wait = 0
}

// flushPart sends the output so far, ending with the beginning of an
// answer (from start) that depends on the log up to seq, once all of it is
// durable. If the log fails first, the partial answer is dropped (what
// came before it is flushed as usual) and an error returned: the caller
// must close the connection, the answer cannot be completed.
func (c *conn) flushPart(start int, seq int64) error {
	if w := c.srv.wal; w != nil {
		if err := w.waitDurable(max(c.wait, seq)); err != nil {
			c.dropFrom(start)
			c.flush()
			return err
		}
	}
	return c.flush()
}

// dropFrom discards c.out[start:] and the values referenced there.
func (c *conn) dropFrom(start int) {
	for len(c.refs) > 0 && c.refs[len(c.refs)-1].at >= start {
		c.refLen -= len(c.refs[len(c.refs)-1].v)
		c.refs[len(c.refs)-1] = valueRef{}
		c.refs = c.refs[:len(c.refs)-1]
	}
	c.out = c.out[:start]
}

// refuseUndurable replaces every reply that depends on a record past
// durable with SERVER_ERROR, dropping the values it referred to.
func (c *conn) refuseUndurable(durable int64) {
	out := make([]byte, 0, len(c.out))
	var refs []valueRef
	last, ri := 0, 0
	keep := func(upto int) { // c.out[last:upto] and the values placed in it
		for ; ri < len(c.refs) && c.refs[ri].at <= upto; ri++ {
			refs = append(refs, valueRef{len(out) + c.refs[ri].at - last, c.refs[ri].v})
		}
		out = append(out, c.out[last:upto]...)
	}
	for _, sg := range c.segs {
		if sg.seq <= durable {
			continue
		}
		keep(sg.start)
		for ; ri < len(c.refs) && c.refs[ri].at < sg.end; ri++ {
			c.refLen -= len(c.refs[ri].v)
		}
		out = append(out, logDownLine+"\r\n"...)
		last = sg.end
	}
	keep(len(c.out))
	c.out, c.refs = out, refs
}

// appendValue adds a value to the reply: small ones are copied, large ones
// referenced (see valueRef).
func (c *conn) appendValue(v []byte) {
	if len(v) < smallValue {
		c.out = append(c.out, v...)
		return
	}
	c.refs = append(c.refs, valueRef{len(c.out), v})
	c.refLen += len(v)
}

// depends records that c.out[start:] is one reply whose truth depends on
// the log up to seq.
func (c *conn) depends(start int, seq int64) {
	if seq > 0 && c.srv.wal != nil {
		c.segs = append(c.segs, replySeg{start, len(c.out), seq})
	}
	if seq > c.wait {
		c.wait = seq
	}
}
