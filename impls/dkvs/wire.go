package dkvs

import (
	"bytes"
	"errors"
	"fmt"
)

// Op is what a request datagram asks for.
type Op uint8

// The three requests of dkvs's wire protocol.
const (
	OpGet  Op = iota // the datagram is the raw key
	OpPut            // key\0value
	OpDump           // a 0-byte datagram
)

// Request is a parsed request datagram.
type Request struct {
	Op         Op
	Key, Value string
}

// Errors of the wire format.
var (
	// ErrBadRequest: a datagram the server refuses (empty key, oversized
	// key or value).
	ErrBadRequest = errors.New("dkvs: bad request")
	// ErrMalformedReply: a reply that contains NUL where it must not, or is
	// longer than a datagram may be.
	ErrMalformedReply = errors.New("dkvs: malformed reply")
)

// ParseRequest parses one request datagram. The split of a PUT is at the
// first NUL; the value ends at the next NUL if there is one (the original
// handles C strings). A PUT with an empty key, or a key or value longer than
// MaxElemSize, is ErrBadRequest (the server answers with an empty datagram);
// a GET of an oversized key is a GET that finds nothing.
func ParseRequest(b []byte) (Request, error) {
	if len(b) == 0 {
		return Request{Op: OpDump}, nil
	}
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return Request{Op: OpGet, Key: string(b)}, nil
	}
	key, val := b[:i], b[i+1:]
	if j := bytes.IndexByte(val, 0); j >= 0 {
		val = val[:j]
	}
	if len(key) == 0 || len(key) > MaxElemSize || len(val) > MaxElemSize {
		return Request{Op: OpPut}, fmt.Errorf("%w: put of a %d-byte key and a %d-byte value", ErrBadRequest, len(key), len(val))
	}
	return Request{Op: OpPut, Key: string(key), Value: string(val)}, nil
}

// EncodeGet is the GET request for key: its raw bytes.
func EncodeGet(key string) []byte { return []byte(key) }

// EncodePut is the PUT request key\0value.
func EncodePut(key, value string) []byte {
	b := make([]byte, 0, len(key)+1+len(value))
	b = append(b, key...)
	b = append(b, 0)
	return append(b, value...)
}

// Replies the server sends.
var (
	replyNotFound = []byte{0} // GET: no such key
	replyPutOK    = []byte{0} // PUT: stored
	replyPutError = []byte{}  // PUT: refused
)

// DecodeGetReply decodes a GET reply: a single NUL is "not found"; any other
// reply with a NUL is malformed; otherwise the reply is the value (0 bytes is
// an empty value).
func DecodeGetReply(b []byte) (value string, found bool, err error) {
	if len(b) == 1 && b[0] == 0 {
		return "", false, nil
	}
	if bytes.IndexByte(b, 0) >= 0 || len(b) > MaxMsgSize {
		return "", false, fmt.Errorf("%w: %d-byte get reply with a NUL", ErrMalformedReply, len(b))
	}
	return string(b), true, nil
}

// DecodePutReply reports whether a PUT reply acknowledges the write: exactly
// one NUL byte.
func DecodePutReply(b []byte) bool { return len(b) == 1 && b[0] == 0 }
