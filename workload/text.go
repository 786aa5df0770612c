package workload

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unsafe"

	"github.com/kvbench/kvbench/impls"
)

// Format is a text format of operation streams.
type Format uint8

// The formats ReadTrace recognizes.
const (
	// FormatUnknown: the input held no operation.
	FormatUnknown Format = iota
	// FormatCS537: gen_workload.py's `put <k> <v>` / `get <k>` lines, keys
	// and values unsigned 32-bit decimal numbers.
	FormatCS537
	// FormatMadKV: MadKV client stdin lines `PUT k v`, `SWAP k v`, `GET k`,
	// `DELETE k`, `SCAN k1 k2` (keys and values ASCII alphanumeric).
	FormatMadKV
)

// String returns the format's name as `kvbench gen --format` spells it.
func (f Format) String() string {
	switch f {
	case FormatCS537:
		return "genworkload"
	case FormatMadKV:
		return "madkv"
	default:
		return "unknown"
	}
}

// Trace is an operation stream read from text.
type Trace struct {
	Format Format
	Ops    []Op
	// Skipped counts CS537 lines that did not parse and were skipped, as
	// the course client skips them; FirstSkipped is the first one's line
	// number (0 if none).
	Skipped      int
	FirstSkipped int
}

// ErrBadTrace is wrapped by every ReadTrace error about the input's content.
var ErrBadTrace = errors.New("bad operation stream")

// maxTraceLine bounds one line of a trace (a MadKV PUT of a large value).
const maxTraceLine = 16 << 20

// ReadOps reads an operation stream in either text format; see ReadTrace.
func ReadOps(r io.Reader) ([]Op, error) {
	t, err := ReadTrace(r)
	if err != nil {
		return nil, err
	}
	return t.Ops, nil
}

// ReadTrace reads an operation stream and detects its format from the first
// line that names an operation: lower-case `put`/`get` means CS537,
// upper-case PUT, GET, SWAP, DELETE, SCAN or STOP means MadKV. Tokens are
// separated by any number of spaces or tabs; blank lines are ignored.
//
// CS537: a line that is not exactly `put <k> <v>` or `get <k>` with unsigned
// 32-bit decimal numbers is skipped and counted, as the course client skips
// it (also any unrecognized lines before the first operation).
//
// MadKV: every non-blank line must be a well-formed request, or ReadTrace
// fails naming the line number; `STOP` ends the stream (later lines are not
// read), as it ends a MadKV client.
//
// Op types are TypeOf the request kind (a PUT is an Update). Errors about
// the content wrap ErrBadTrace.
func ReadTrace(r io.Reader) (*Trace, error) {
	// The whole input becomes one string, and every key and value is a
	// substring of it: no allocation per operation (a 200 000-op trace
	// took 75 ms and 70 MB read line by line, as much as a fast store's
	// whole run).
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	text := unsafe.String(unsafe.SliceData(data), len(data)) // data is never written again
	t := &Trace{Ops: make([]Op, 0, bytes.Count(data, []byte{'\n'})+1)}
	var undecided []int // line numbers of unrecognized lines before detection
	lineNo := 0
	var tok [4]string
	for len(text) > 0 {
		lineNo++
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		if len(line) > maxTraceLine {
			return nil, fmt.Errorf("%w: line %d: longer than %d MiB", ErrBadTrace, lineNo, maxTraceLine>>20)
		}
		fields := splitFields(line, tok[:0])
		if len(fields) == 0 {
			continue
		}
		if t.Format == FormatUnknown {
			switch {
			case isCS537Command(fields[0]):
				t.Format = FormatCS537
				t.Skipped = len(undecided)
				if len(undecided) > 0 {
					t.FirstSkipped = undecided[0]
				}
			case isMadKVCommand(fields[0]):
				if len(undecided) > 0 {
					return nil, fmt.Errorf("%w: line %d: not a MadKV request", ErrBadTrace, undecided[0])
				}
				t.Format = FormatMadKV
			default:
				undecided = append(undecided, lineNo)
				continue
			}
		}
		if t.Format == FormatCS537 {
			op, ok := parseCS537(fields)
			if !ok {
				t.Skipped++
				if t.FirstSkipped == 0 {
					t.FirstSkipped = lineNo
				}
				continue
			}
			t.Ops = append(t.Ops, op)
			continue
		}
		op, stop, err := parseMadKV(fields)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrBadTrace, lineNo, err)
		}
		if stop {
			break
		}
		t.Ops = append(t.Ops, op)
	}
	if t.Format == FormatUnknown && len(undecided) > 0 {
		return nil, fmt.Errorf("%w: line %d: neither a CS537 (put/get) nor a MadKV (PUT/GET/SWAP/DELETE/SCAN) request", ErrBadTrace, undecided[0])
	}
	if len(t.Ops) == 0 {
		t.Ops = nil
	}
	return t, nil
}

// splitFields splits a line on runs of spaces, tabs and carriage returns
// into dst, stopping once dst is full: a full dst means "more tokens than
// any request has", and a long garbage line costs no allocation.
func splitFields(line string, dst []string) []string {
	i := 0
	for i < len(line) && len(dst) < cap(dst) {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && !isBlank(line[j]) {
			j++
		}
		dst = append(dst, line[i:j])
		i = j
	}
	return dst
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

func isCS537Command(s string) bool { return s == "put" || s == "get" }

func isMadKVCommand(s string) bool {
	switch s {
	case "PUT", "GET", "SWAP", "DELETE", "SCAN", "STOP":
		return true
	}
	return false
}

func parseCS537(f []string) (Op, bool) {
	switch {
	case len(f) == 3 && f[0] == "put" && isUint32(f[1]) && isUint32(f[2]):
		return Op{Type: Update, Req: impls.Request{Kind: impls.Put, Key: f[1], Value: f[2]}}, true
	case len(f) == 2 && f[0] == "get" && isUint32(f[1]):
		return Op{Type: Read, Req: impls.Request{Kind: impls.Get, Key: f[1]}}, true
	}
	return Op{}, false
}

// madkvArgs is the number of arguments after the command.
var madkvArgs = map[string]int{"PUT": 2, "SWAP": 2, "GET": 1, "DELETE": 1, "SCAN": 2, "STOP": 0}

func parseMadKV(f []string) (op Op, stop bool, err error) {
	cmd := f[0]
	want, ok := madkvArgs[cmd]
	if !ok {
		return Op{}, false, fmt.Errorf("unknown request %q (want PUT, GET, SWAP, DELETE, SCAN or STOP)", truncate(f[0]))
	}
	if len(f)-1 != want {
		if len(f) == cap(f) {
			return Op{}, false, fmt.Errorf("%s takes %d argument(s), got more", cmd, want)
		}
		return Op{}, false, fmt.Errorf("%s takes %d argument(s), got %d", cmd, want, len(f)-1)
	}
	for _, a := range f[1:] {
		if !isAlnum(a) {
			return Op{}, false, fmt.Errorf("%s: %q is not ASCII alphanumeric", cmd, truncate(a))
		}
	}
	var req impls.Request
	switch cmd {
	case "STOP":
		return Op{}, true, nil
	case "PUT":
		req = impls.Request{Kind: impls.Put, Key: f[1], Value: f[2]}
	case "SWAP":
		req = impls.Request{Kind: impls.Swap, Key: f[1], Value: f[2]}
	case "GET":
		req = impls.Request{Kind: impls.Get, Key: f[1]}
	case "DELETE":
		req = impls.Request{Kind: impls.Delete, Key: f[1]}
	case "SCAN":
		req = impls.Request{Kind: impls.Scan, Key: f[1], End: f[2]}
	}
	return Op{Type: TypeOf(req.Kind), Req: req}, false, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// AsMadKV maps a YCSB op the way the MadKV runner's YCSB binding issues it:
// an UPDATE becomes a Swap, and so does the write of a READ-MODIFY-WRITE
// (the driver still reads first); READ, INSERT (a Put) and SCAN stay. The
// op type is kept, so summaries still say UPDATE.
func AsMadKV(op Op) Op {
	if (op.Type == Update || op.Type == ReadModifyWrite) && op.Req.Kind == impls.Put {
		op.Req.Kind = impls.Swap
	}
	return op
}

// WriteMadKV writes ops as MadKV client stdin lines, one request per line,
// by request kind (PUT k v, SWAP k v, GET k, DELETE k, SCAN k1 k2); a
// READ-MODIFY-WRITE is written as `SWAP k v`, the one MadKV request that
// reads and writes a key. Apply AsMadKV first for the MadKV runner's
// mapping of UPDATE to SWAP. A key or value that is not ASCII alphanumeric
// would not read back, and is an error naming the op's index.
func WriteMadKV(w io.Writer, ops []Op) error {
	bw := bufio.NewWriter(w)
	for i := range ops {
		op := &ops[i]
		req := &op.Req
		kind := req.Kind
		if op.Type == ReadModifyWrite {
			kind = impls.Swap
		}
		if !isAlnum(req.Key) {
			return fmt.Errorf("op %d: MadKV keys are ASCII alphanumeric, not %q", i, truncate(req.Key))
		}
		bw.WriteString(kind.String())
		bw.WriteByte(' ')
		bw.WriteString(req.Key)
		var arg string
		switch kind {
		case impls.Put, impls.Swap:
			arg = req.Value
		case impls.Scan:
			arg = req.End
		case impls.Get, impls.Delete:
		default:
			return fmt.Errorf("op %d: MadKV has no %v request", i, kind)
		}
		if kind == impls.Put || kind == impls.Swap || kind == impls.Scan {
			if !isAlnum(arg) {
				return fmt.Errorf("op %d: MadKV %v argument %q is not ASCII alphanumeric", i, kind, truncate(arg))
			}
			bw.WriteByte(' ')
			bw.WriteString(arg)
		}
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteYCSBTrace writes ops as a YCSB-like trace for reading by people and
// scripts: `<OP> usertable <key> [<value or scan end>]` with YCSB's op names,
// e.g. `READ usertable user123`, `UPDATE usertable user5 <value>`,
// `SCAN usertable <start> <end>`, `READ-MODIFY-WRITE usertable user7 <value>`.
// A value is the whole record (see YCSB); a scan shows the range's inclusive
// end key, not YCSB's record count. kvbench does not read this format back.
func WriteYCSBTrace(w io.Writer, ops []Op) error {
	bw := bufio.NewWriter(w)
	var line bytes.Buffer
	for i := range ops {
		op := &ops[i]
		line.Reset()
		line.WriteString(op.Type.String())
		line.WriteString(" usertable ")
		line.WriteString(op.Req.Key)
		switch op.Req.Kind {
		case impls.Put, impls.Swap:
			line.WriteByte(' ')
			line.WriteString(op.Req.Value)
		case impls.Scan:
			line.WriteByte(' ')
			line.WriteString(op.Req.End)
		}
		line.WriteByte('\n')
		if _, err := bw.Write(line.Bytes()); err != nil {
			return err
		}
	}
	return bw.Flush()
}
