package madkvline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/kvbench/kvbench/impls"
)

// Serve is ServeLog without a diagnostics stream: errors are reported only
// as ERROR reply lines on out.
func Serve(ctx context.Context, c impls.Client, in io.Reader, out io.Writer) error {
	return ServeLog(ctx, c, in, out, nil)
}

// ServeLog reads request lines from in, executes each on c one at a time,
// and writes each reply to out, until STOP (echoed, then ServeLog returns
// nil) or the end of in (nil). Blank lines are skipped. A line that does not
// parse, and a request that fails, are answered with one ERROR line (see the
// package documentation) and also reported on stderr when it is not nil;
// serving goes on. Replies are flushed whenever no further request is
// completely buffered, so a synchronous caller sees each reply at once and a
// file of requests is answered in large writes.
//
// ServeLog returns an error only when reading in or writing out fails. When
// ctx ends (checked between requests, and passed to c.Do) it returns nil; a
// read blocked on in returns only when in does. It does not close c.
func ServeLog(ctx context.Context, c impls.Client, in io.Reader, out io.Writer, stderr io.Writer) error {
	lr := lineReader{br: bufio.NewReaderSize(in, 64<<10)}
	bw := bufio.NewWriterSize(out, 64<<10)
	var buf []byte
	var f [][]byte
	fail := func(class Class, err error) {
		if stderr != nil {
			fmt.Fprintf(stderr, "kvbench client: %v\n", err)
		}
		buf = AppendError(buf[:0], class, err.Error())
	}
	for {
		if ctx.Err() != nil {
			return bw.Flush() // cancellation is not an error
		}
		line, err := lr.readLine()
		switch {
		case errors.Is(err, io.EOF):
			return bw.Flush()
		case errors.Is(err, ErrLineTooLong):
			fail(Malformed, err)
		case err != nil:
			_ = bw.Flush()
			return fmt.Errorf("read requests: %w", err)
		default:
			if f = fields(f, line); len(f) == 0 {
				continue
			}
			req, stop, err := ParseRequest(line)
			switch {
			case err != nil:
				fail(Malformed, err)
			case stop:
				if _, err := bw.WriteString(StopLine); err != nil {
					return fmt.Errorf("write reply: %w", err)
				}
				return bw.Flush()
			default:
				buf = buf[:0]
				resp, err := c.Do(ctx, req)
				if err != nil {
					fail(ClassOf(err), fmt.Errorf("%s: %w", Describe(req), err))
				} else if buf, err = AppendReply(buf, req, resp); err != nil {
					// The operation happened, but its answer cannot be written.
					fail(Unknown, err)
				}
			}
		}
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("write reply: %w", err)
		}
		if !lr.lineBuffered() {
			if err := bw.Flush(); err != nil {
				return fmt.Errorf("write reply: %w", err)
			}
		}
	}
}
