package madkv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The wire protocol between madkv clients, servers and the manager: every
// message is a frame, a 4-byte big-endian body length followed by the body.
// A request body is
//
//	op u8 | tag u64 | client u64 | seq u64 | acked u64 | key bytes | val bytes
//
// and a response body is
//
//	tag u64 | status u8 | found u8 | val bytes | npairs u32 | (key bytes | val bytes)*
//
// where bytes is a u32 length and that many bytes, all integers big-endian.
// tag matches a response to its request on a connection (responses may come
// out of order: a read is answered while an earlier write waits for its
// sync). client, seq and acked identify a mutation for deduplication (see
// dedup in store.go); other requests leave them zero.
//
// Limits: a frame longer than its cap is refused before anything is
// allocated, so a peer cannot make a reader allocate more than MaxRequestFrame
// (server side) or MaxResponseFrame (client side).

// Limits of what the protocol carries.
const (
	// MaxKey is the longest key (the same in every stage).
	MaxKey = 32 << 10
	// MaxValue is the longest value.
	MaxValue = 8 << 20
	// MaxScanBytes bounds the keys and values one SCAN returns from one
	// server; a larger result is refused with an error.
	MaxScanBytes = 64 << 20
	// MaxRequestFrame is the largest request body a server reads.
	MaxRequestFrame = reqHeader + 8 + MaxKey + MaxValue
	// MaxResponseFrame is the largest response body a client reads.
	MaxResponseFrame = 64 + MaxScanBytes + 8*(MaxScanBytes/2)
)

const reqHeader = 1 + 8*4

// opcode is a request's kind on the wire.
type opcode uint8

// Request opcodes. Values are part of the protocol: append only.
const (
	opHello    opcode = 1 // who are you: role, id, partitions, readiness, counters (pairs)
	opGet      opcode = 2
	opPut      opcode = 3
	opSwap     opcode = 4
	opDelete   opcode = 5
	opScan     opcode = 6 // key..val inclusive
	opRegister opcode = 7 // server -> manager: client = server id, key = its address
	opMap      opcode = 8 // client -> manager: pairs "0".."P-1" -> server address
	opLast     opcode = opMap
)

func (o opcode) String() string {
	names := [...]string{"?", "HELLO", "GET", "PUT", "SWAP", "DELETE", "SCAN", "REGISTER", "MAP"}
	if int(o) < len(names) {
		return names[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// mutates reports whether o changes the store (and so is deduplicated).
func (o opcode) mutates() bool { return o == opPut || o == opSwap || o == opDelete }

// status is a response's outcome. Values are part of the protocol.
type status uint8

const (
	stOK status = 0
	// stNotReady: not executed; the peer is starting or not registered
	// yet. Retry later.
	stNotReady status = 1
	// stWrongPartition: not executed; the key belongs to another server.
	stWrongPartition status = 2
	// stBadRequest: not executed; malformed or over a limit (val says why).
	stBadRequest status = 3
	// stFailed: not executed; the server could not do it (val says why),
	// e.g. a disk error rolled the write back.
	stFailed status = 4
	// stRedirect is reserved for stage 3: not executed here; val is the
	// leader's address (empty: try another replica).
	stRedirect status = 5
)

// request is one decoded request. Strings own their bytes.
type request struct {
	op                 opcode
	tag                uint64
	client, seq, acked uint64
	key, val           string
}

// pair is one key-value entry of a response.
type pair struct{ k, v string }

// response is one decoded response.
type response struct {
	tag    uint64
	status status
	found  bool
	val    string
	pairs  []pair
}

// Errors of the frame layer.
var (
	// ErrFrameTooLarge: a peer announced a frame over the reader's cap.
	ErrFrameTooLarge = errors.New("madkv: frame too large")
	// ErrMalformed: a frame's body does not decode.
	ErrMalformed = errors.New("madkv: malformed frame")
)

// appendFrame appends a frame holding body(b) to dst: it reserves the
// length, lets fill append the body, then patches the length in.
func appendFrame(dst []byte, fill func([]byte) []byte) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = fill(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

func appendBytes(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// appendRequest appends r as one frame.
func appendRequest(dst []byte, r *request) []byte {
	return appendFrame(dst, func(b []byte) []byte {
		b = append(b, byte(r.op))
		b = binary.BigEndian.AppendUint64(b, r.tag)
		b = binary.BigEndian.AppendUint64(b, r.client)
		b = binary.BigEndian.AppendUint64(b, r.seq)
		b = binary.BigEndian.AppendUint64(b, r.acked)
		b = appendBytes(b, r.key)
		return appendBytes(b, r.val)
	})
}

// appendResponse appends r as one frame.
func appendResponse(dst []byte, r *response) []byte {
	return appendFrame(dst, func(b []byte) []byte {
		b = binary.BigEndian.AppendUint64(b, r.tag)
		found := byte(0)
		if r.found {
			found = 1
		}
		b = append(b, byte(r.status), found)
		b = appendBytes(b, r.val)
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.pairs)))
		for _, p := range r.pairs {
			b = appendBytes(b, p.k)
			b = appendBytes(b, p.v)
		}
		return b
	})
}

// readFrame reads one frame's body into buf (grown as needed, up to max)
// and returns it. The body is valid until the next readFrame with buf.
func readFrame(br *bufio.Reader, buf []byte, max int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return buf, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(max) {
		return buf, fmt.Errorf("%w: %d bytes (limit %d)", ErrFrameTooLarge, n, max)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(br, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return buf, err
	}
	return buf, nil
}

// decoder walks a frame body; the first short read sets err.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = ErrMalformed
	}
	d.b = nil
}

func (d *decoder) u8() uint8 {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) u32() uint32 {
	if len(d.b) < 4 {
		d.fail()
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) u64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) str(limit int) string {
	n := d.u32()
	if d.err != nil || uint64(n) > uint64(len(d.b)) || uint64(n) > uint64(limit) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// decodeRequest decodes a request body. It checks the framing and the
// limits, not whether the request makes sense for the receiver.
func decodeRequest(body []byte) (request, error) {
	d := decoder{b: body}
	var r request
	r.op = opcode(d.u8())
	r.tag = d.u64()
	r.client, r.seq, r.acked = d.u64(), d.u64(), d.u64()
	r.key = d.str(MaxKey)
	r.val = d.str(MaxValue)
	if d.err == nil && len(d.b) != 0 {
		d.err = ErrMalformed
	}
	if d.err == nil && (r.op == 0 || r.op > opLast) {
		return r, fmt.Errorf("%w: unknown op %d", ErrMalformed, uint8(r.op))
	}
	if d.err != nil {
		return r, fmt.Errorf("%w: request", d.err)
	}
	return r, nil
}

// decodeResponse decodes a response body.
func decodeResponse(body []byte) (response, error) {
	d := decoder{b: body}
	var r response
	r.tag = d.u64()
	r.status = status(d.u8())
	switch d.u8() {
	case 0:
	case 1:
		r.found = true
	default:
		d.fail()
	}
	r.val = d.str(MaxResponseFrame)
	n := d.u32()
	// Each pair takes at least 8 bytes: never allocate for more than the
	// body can hold.
	if d.err == nil && uint64(n)*8 > uint64(len(d.b)) {
		d.fail()
	}
	if d.err == nil && n > 0 {
		r.pairs = make([]pair, n)
		for i := range r.pairs {
			r.pairs[i] = pair{d.str(MaxKey), d.str(MaxResponseFrame)}
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = ErrMalformed
	}
	if d.err != nil {
		return r, fmt.Errorf("%w: response", d.err)
	}
	return r, nil
}
