package madkv

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range []request{
		{op: opHello, tag: 1},
		{op: opPut, tag: 2, client: 3, seq: 4, acked: 5, key: "k", val: "v"},
		{op: opScan, tag: 1 << 60, key: "a", val: "z"},
		{op: opRegister, client: 49, key: "3777"},
		{op: opSwap, key: strings.Repeat("k", MaxKey), val: strings.Repeat("\x00 \n", 1000)},
	} {
		b := appendRequest(nil, &r)
		if int(binary.BigEndian.Uint32(b)) != len(b)-4 {
			t.Fatalf("%s: frame length %d for %d bytes", r.op, binary.BigEndian.Uint32(b), len(b)-4)
		}
		body, err := readFrame(bufio.NewReader(bytes.NewReader(b)), nil, MaxRequestFrame)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeRequest(body)
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("round trip of %+v: %+v, %v", r.op, got.op, err)
		}
	}
}

func TestResponseRoundTrip(t *testing.T) {
	for _, r := range []response{
		{tag: 1},
		{tag: 2, status: stOK, found: true, val: "old"},
		{tag: 3, status: stBadRequest, val: "why"},
		{tag: 4, pairs: []pair{{"a", "1"}, {"b", ""}, {"c", strings.Repeat("x", 1<<16)}}},
	} {
		b := appendResponse(nil, &r)
		got, err := decodeResponse(b[4:])
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("round trip of tag %d: %+v, %v", r.tag, got, err)
		}
	}
}

// TestDecodeMalformed: every truncation and a few corruptions are errors.
func TestDecodeMalformed(t *testing.T) {
	req := appendRequest(nil, &request{op: opPut, tag: 1, client: 2, seq: 3, key: "key", val: "value"})[4:]
	for n := 0; n < len(req); n++ {
		if _, err := decodeRequest(req[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("request truncated to %d bytes: %v", n, err)
		}
	}
	for name, b := range map[string][]byte{
		"trailing":   append(bytes.Clone(req), 0),
		"op 0":       append([]byte{0}, req[1:]...),
		"op 99":      append([]byte{99}, req[1:]...),
		"key length": append(append(bytes.Clone(req[:reqHeader]), 0xff, 0xff, 0xff, 0xff), req[reqHeader+4:]...),
	} {
		if _, err := decodeRequest(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	resp := appendResponse(nil, &response{tag: 1, found: true, val: "v", pairs: []pair{{"a", "b"}}})[4:]
	for n := 0; n < len(resp); n++ {
		if _, err := decodeResponse(resp[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("response truncated to %d bytes: %v", n, err)
		}
	}
	// A pair count the body cannot hold is refused before allocating.
	huge := binary.BigEndian.AppendUint64(nil, 1)
	huge = append(huge, 0, 0, 0, 0, 0, 0)
	huge = binary.BigEndian.AppendUint32(huge, 1<<31)
	if _, err := decodeResponse(huge); !errors.Is(err, ErrMalformed) {
		t.Errorf("huge pair count: %v", err)
	}
}

func TestReadFrameTooLarge(t *testing.T) {
	b := binary.BigEndian.AppendUint32(nil, MaxRequestFrame+1)
	_, err := readFrame(bufio.NewReader(bytes.NewReader(b)), nil, MaxRequestFrame)
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("got %v, want ErrFrameTooLarge", err)
	}
}

// TestServerRejectsGarbage: a peer that sends an oversized or malformed
// frame gets its connection closed; the server logs why and keeps serving
// others.
func TestServerRejectsGarbage(t *testing.T) {
	addr := freeAddr(t)
	log := &syncWriter{}
	startInProcLog(t, log, "server", addr)
	good := dial(t, addr)
	for name, b := range map[string][]byte{
		"oversized": binary.BigEndian.AppendUint32(nil, 1<<31),
		"malformed": binary.BigEndian.AppendUint32(append([]byte(nil), 0, 0, 0, 3), 0)[:7],
		"text":      []byte("GET key\r\n"),
	} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.Write(b)
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := io.ReadAll(nc); err != nil || len(n) != 0 {
			t.Errorf("%s: read %q, %v; want the server to close the connection", name, n, err)
		}
		nc.Close()
	}
	do(t, good, put("still", "alive"))
	if !strings.Contains(log.String(), "frame too large") || !strings.Contains(log.String(), "malformed frame") {
		t.Errorf("server log does not say why it closed connections:\n%s", log)
	}
}

// FuzzDecodeRequest: no input panics the request parser, and what decodes
// re-encodes to the same bytes.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(appendRequest(nil, &request{op: opPut, tag: 1, client: 2, seq: 3, key: "k", val: "v"})[4:])
	f.Add(appendRequest(nil, &request{op: opScan, key: "a", val: "b"})[4:])
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRequest(b)
		if err != nil {
			return
		}
		if again := appendRequest(nil, &r)[4:]; !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// FuzzReadFrame: the frame reader and response parser never panic or
// allocate beyond their caps.
func FuzzReadFrame(f *testing.F) {
	f.Add(appendResponse(nil, &response{tag: 1, val: "v", pairs: []pair{{"a", "b"}}}))
	f.Add(binary.BigEndian.AppendUint32(nil, 1<<30))
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		for {
			body, err := readFrame(br, nil, 1<<16)
			if err != nil {
				return
			}
			decodeResponse(body)
			decodeRequest(body)
		}
	})
}
