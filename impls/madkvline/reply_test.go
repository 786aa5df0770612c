package madkvline

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/impls"
)

// TestRoundTrip formats each request and reply and reads them back: the
// exact bytes, and the same Request and Response.
func TestRoundTrip(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	odd := "a=b_c!\x7f\xff~"
	tests := []struct {
		req       impls.Request
		resp      impls.Response
		wantReq   string
		wantReply string
	}{
		{impls.Request{Kind: impls.Put, Key: "k", Value: "v"}, impls.Response{Found: impls.Present}, "PUT k v\n", "PUT k found\n"},
		{impls.Request{Kind: impls.Put, Key: "k", Value: odd}, impls.Response{Found: impls.Absent}, "PUT k " + odd + "\n", "PUT k not_found\n"},
		{impls.Request{Kind: impls.Put, Key: "k", Value: "v"}, impls.Response{Found: impls.Unknown}, "PUT k v\n", "PUT k unknown\n"},
		{impls.Request{Kind: impls.Swap, Key: "k", Value: "new"}, impls.Response{Found: impls.Present, Value: "old"}, "SWAP k new\n", "SWAP k old\n"},
		{impls.Request{Kind: impls.Swap, Key: "k", Value: "new"}, impls.Response{Found: impls.Absent}, "SWAP k new\n", "SWAP k null\n"},
		{impls.Request{Kind: impls.Get, Key: odd}, impls.Response{Found: impls.Present, Value: odd}, "GET " + odd + "\n", "GET " + odd + " " + odd + "\n"},
		{impls.Request{Kind: impls.Get, Key: "k"}, impls.Response{Found: impls.Absent}, "GET k\n", "GET k null\n"},
		{impls.Request{Kind: impls.Get, Key: "k"}, impls.Response{Found: impls.Present, Value: big}, "GET k\n", "GET k " + big + "\n"},
		{impls.Request{Kind: impls.Put, Key: "k", Value: big}, impls.Response{Found: impls.Absent}, "PUT k " + big + "\n", "PUT k not_found\n"},
		{impls.Request{Kind: impls.Delete, Key: "k"}, impls.Response{Found: impls.Present}, "DELETE k\n", "DELETE k found\n"},
		{impls.Request{Kind: impls.Delete, Key: "k"}, impls.Response{Found: impls.Absent}, "DELETE k\n", "DELETE k not_found\n"},
		{impls.Request{Kind: impls.Scan, Key: "a", End: "z"}, impls.Response{}, "SCAN a z\n", "SCAN a z BEGIN\nSCAN END\n"},
		{impls.Request{Kind: impls.Scan, Key: "a", End: "z"},
			impls.Response{Pairs: []impls.Pair{{Key: "a", Value: "null"}, {Key: "SCAN", Value: "x"}, {Key: "m", Value: big}, {Key: "z", Value: "END"}}},
			"SCAN a z\n", "SCAN a z BEGIN\n  a null\n  SCAN x\n  m " + big + "\n  z END\nSCAN END\n"},
	}
	for _, tt := range tests {
		name := tt.wantReq[:min(len(tt.wantReq), 20)]
		line, err := FormatRequest(tt.req)
		if err != nil || string(line) != tt.wantReq {
			t.Errorf("%s: FormatRequest = %.40q, %v; want %.40q", name, line, err, tt.wantReq)
			continue
		}
		req, stop, err := ParseRequest(line)
		if err != nil || stop || req != tt.req {
			t.Errorf("%s: ParseRequest(FormatRequest) = %+.40v, %v, %v", name, req, stop, err)
		}
		reply, err := FormatReply(tt.req, tt.resp)
		if err != nil || string(reply) != tt.wantReply {
			t.Errorf("%s: FormatReply = %.60q, %v; want %.60q", name, reply, err, tt.wantReply)
			continue
		}
		// Read it back, with blank lines and (except inside a scan, where
		// only the exact trimmed line "SCAN END" ends it) extra whitespace.
		noisy := string(reply)
		if tt.req.Kind != impls.Scan {
			noisy = strings.ReplaceAll(noisy, " ", " \t ")
		}
		noisy = "\n  \n" + strings.ReplaceAll(noisy, "\n", " \r\n\n")
		rr := NewReplyReader(strings.NewReader(noisy + string(reply)))
		for i := 0; i < 2; i++ {
			got, err := rr.ReadReply(tt.req)
			if err != nil || !reflect.DeepEqual(got, tt.resp) {
				t.Errorf("%s: ReadReply #%d = %+.60v, %v; want %+.60v", name, i, got, err, tt.resp)
			}
		}
		if _, err := rr.ReadReply(tt.req); !errors.Is(err, io.EOF) {
			t.Errorf("%s: ReadReply at the end = %v, want io.EOF", name, err)
		}
	}
}

// TestUnrepresentable: what the protocol cannot carry is refused, never
// written ambiguously.
func TestUnrepresentable(t *testing.T) {
	reqs := []impls.Request{
		{Kind: impls.Get, Key: ""},
		{Kind: impls.Get, Key: "a b"},
		{Kind: impls.Put, Key: "k", Value: ""},
		{Kind: impls.Put, Key: "k", Value: "a\nb"},
		{Kind: impls.Swap, Key: "k", Value: "a\tb"},
		{Kind: impls.Scan, Key: "a", End: ""},
	}
	for _, req := range reqs {
		if b, err := FormatRequest(req); !errors.Is(err, ErrUnrepresentable) || b != nil {
			t.Errorf("FormatRequest(%+v) = %q, %v; want ErrUnrepresentable", req, b, err)
		}
	}
	replies := []struct {
		req  impls.Request
		resp impls.Response
	}{
		{impls.Request{Kind: impls.Get, Key: "k"}, impls.Response{Found: impls.Present, Value: "a b"}},
		{impls.Request{Kind: impls.Get, Key: "k"}, impls.Response{Found: impls.Present, Value: ""}},
		{impls.Request{Kind: impls.Get, Key: "k"}, impls.Response{Found: impls.Unknown}},
		{impls.Request{Kind: impls.Swap, Key: "k"}, impls.Response{Found: impls.Unknown}},
		{impls.Request{Kind: impls.Scan, Key: "A", End: "Z"}, impls.Response{Pairs: []impls.Pair{{Key: "SCAN", Value: "END"}}}},
		{impls.Request{Kind: impls.Scan, Key: "A", End: "Z"}, impls.Response{Pairs: []impls.Pair{{Key: "K", Value: "x y"}}}},
	}
	for _, tt := range replies {
		if b, err := AppendReply([]byte("keep"), tt.req, tt.resp); !errors.Is(err, ErrUnrepresentable) || string(b) != "keep" {
			t.Errorf("AppendReply(%+v, %+v) = %q, %v; want dst unchanged and ErrUnrepresentable", tt.req, tt.resp, b, err)
		}
	}
}

// TestParseRequestMalformed: every malformed request line is ErrMalformed.
func TestParseRequestMalformed(t *testing.T) {
	for _, line := range []string{"", "   \t", "FROB k", "GET", "GET a b", "PUT k", "PUT k v w", "SWAP k",
		"DELETE", "DELETE a b", "SCAN a", "SCAN a b c", "STOP now", "GETk", "PUTk v"} {
		if req, stop, err := ParseRequest([]byte(line)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseRequest(%q) = %+v, %v, %v; want ErrMalformed", line, req, stop, err)
		}
	}
	if _, stop, err := ParseRequest([]byte(" stop \r")); !stop || err != nil {
		t.Errorf("ParseRequest(stop) = %v, %v", stop, err)
	}
}

// TestReadReplyMalformed: each bad reply is a *ReplyError naming the
// request and the line, wrapping ErrMalformed, and ErrUnknownOutcome exactly
// for requests that may have changed the store.
func TestReadReplyMalformed(t *testing.T) {
	get := impls.Request{Kind: impls.Get, Key: "k"}
	put := impls.Request{Kind: impls.Put, Key: "k", Value: "v"}
	swap := impls.Request{Kind: impls.Swap, Key: "k", Value: "v"}
	del := impls.Request{Kind: impls.Delete, Key: "k"}
	scan := impls.Request{Kind: impls.Scan, Key: "a", End: "z"}
	tests := []struct {
		req      impls.Request
		reply    string
		wantLine string // a substring of the error
		eof      bool   // also wraps io.ErrUnexpectedEOF
	}{
		{get, "hello world\n", `"hello world"`, false},
		{get, "PUT k found\n", `"PUT k found"`, false},
		{get, "GET other v\n", `"GET other v"`, false},
		{get, "GET k\n", `"GET k"`, false},
		{get, "GET k a b\n", `"GET k a b"`, false},
		{get, "get k v\n", `"get k v"`, false},
		{put, "PUT k yes\n", `"PUT k yes"`, false},
		{put, "PUT k\n", `"PUT k"`, false},
		{del, "DELETE k deleted\n", `"DELETE k deleted"`, false},
		{swap, "SWAP x old\n", `"SWAP x old"`, false},
		{put, "ERROR\n", `"ERROR"`, false},
		{put, "ERROR weird class\n", `"ERROR weird class"`, false},
		{scan, "SCAN a z\n", `"SCAN a z"`, false},
		{scan, "SCAN a y BEGIN\n", `"SCAN a y BEGIN"`, false},
		{scan, "SCAN b z BEGIN\n", `"SCAN b z BEGIN"`, false},
		{scan, "SCAN a z START\n", `"SCAN a z START"`, false},
		{scan, "SCAN a z BEGIN\n  k v\n  lonely\nSCAN END\n", `"  lonely"`, false},
		{scan, "SCAN a z BEGIN\n  k v x\nSCAN END\n", `"  k v x"`, false},
		{scan, "SCAN a z BEGIN\n  k v\n", "output ended after 1 scan entries", true},
		{scan, "SCAN a z BEGIN\nSCAN  END\n", "output ended", true}, // "SCAN  END" is an entry, not the end
		{get, "GET k v", `"GET k v"`, true},                         // no newline: the writer stopped mid-line
		{put, "PUT k fou", `"PUT k fou"`, true},
		{scan, "SCAN a z BEGIN\n  k v\nSCAN END", `"SCAN END"`, true},
	}
	for _, tt := range tests {
		_, err := NewReplyReader(strings.NewReader(tt.reply)).ReadReply(tt.req)
		var re *ReplyError
		if !errors.As(err, &re) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%q to %v: err %v, want a *ReplyError", tt.reply, tt.req, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.wantLine) || !strings.Contains(msg, Describe(tt.req)) {
			t.Errorf("%q: error %q does not name the line %s and the request %s", tt.reply, msg, tt.wantLine, Describe(tt.req))
		}
		if got := errors.Is(err, impls.ErrUnknownOutcome); got != Mutates(tt.req.Kind) {
			t.Errorf("%q to %v: unknown outcome %v, want %v", tt.reply, tt.req.Kind, got, !got)
		}
		if got := errors.Is(err, io.ErrUnexpectedEOF); got != tt.eof {
			t.Errorf("%q: io.ErrUnexpectedEOF %v, want %v", tt.reply, got, tt.eof)
		}
	}
}

// TestReadReplyErrorLines: ERROR lines become *ClientError with the class's
// sentinel; the stream stays in step.
func TestReadReplyErrorLines(t *testing.T) {
	put := impls.Request{Kind: impls.Put, Key: "k", Value: "v"}
	tests := []struct {
		line string
		want error
		msg  string
	}{
		{"ERROR unsupported no PUT here", impls.ErrUnsupported, "no PUT here"},
		{"ERROR failed   dial  refused", ErrFailed, "dial refused"},
		{"ERROR unknown connection reset", impls.ErrUnknownOutcome, "connection reset"},
		{"ERROR malformed", ErrRejected, ""},
	}
	var in strings.Builder
	for _, tt := range tests {
		in.WriteString(tt.line + "\n")
	}
	in.WriteString("PUT k found\n")
	rr := NewReplyReader(strings.NewReader(in.String()))
	for _, tt := range tests {
		_, err := rr.ReadReply(put)
		var ce *ClientError
		if !errors.As(err, &ce) || !errors.Is(err, tt.want) || ce.Message != tt.msg {
			t.Errorf("%q: %v (%+v), want a ClientError wrapping %v with message %q", tt.line, err, ce, tt.want, tt.msg)
		}
		if tt.want != impls.ErrUnknownOutcome && impls.IsUnknown(err) {
			t.Errorf("%q: reads as an unknown outcome", tt.line)
		}
	}
	if resp, err := rr.ReadReply(put); err != nil || resp.Found != impls.Present {
		t.Errorf("after the ERROR lines: %+v, %v", resp, err)
	}
	if err := NewReplyReader(strings.NewReader("\nSTOP\n")).ReadStop(); err != nil {
		t.Errorf("ReadStop: %v", err)
	}
	if err := NewReplyReader(strings.NewReader("GET k v\n")).ReadStop(); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), `"GET k v"`) {
		t.Errorf("ReadStop of a non-echo: %v", err)
	}
}

// TestClassOf maps Do errors to ERROR classes.
func TestClassOf(t *testing.T) {
	tests := []struct {
		err  error
		want Class
	}{
		{impls.ErrUnsupported, Unsupported},
		{errors.Join(errors.New("x"), impls.ErrUnknownOutcome), Unknown},
		{errors.New("refused"), Failed},
		{ErrMalformed, Malformed},
	}
	for _, tt := range tests {
		if got := ClassOf(tt.err); got != tt.want {
			t.Errorf("ClassOf(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}
