package madkvline

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/impls"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestServeGolden feeds testdata/serve.in (every request kind, blank lines,
// odd whitespace, malformed lines, failing requests) to Serve against a map
// store and compares stdout and stderr byte for byte with
// testdata/serve.golden.
func TestServeGolden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "serve.in"))
	if err != nil {
		t.Fatal(err)
	}
	c := newMapClient()
	c.fail["unsupported"] = fmt.Errorf("scan: %w", impls.ErrUnsupported)
	c.fail["lost"] = fmt.Errorf("connection reset: %w", impls.ErrUnknownOutcome)
	c.fail["refused"] = errors.New("dial 127.0.0.1:1: connection refused")
	var out, stderr bytes.Buffer
	if err := ServeLog(context.Background(), c, bytes.NewReader(in), &out, &stderr); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("== stdout\n%s== stderr\n%s", out.Bytes(), stderr.Bytes())
	golden := filepath.Join("testdata", "serve.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("Serve output differs from %s (go test -update to accept):\n%s", golden, got)
	}
	// Input after STOP is not read as requests.
	if _, ok := c.m["after-stop"]; ok {
		t.Error("a request after STOP was executed")
	}
}

// TestServeEOFWithoutNewline: the last request may lack its newline; EOF
// ends Serve without an echo.
func TestServeEOFWithoutNewline(t *testing.T) {
	var out bytes.Buffer
	if err := Serve(context.Background(), newMapClient(), strings.NewReader("PUT a 1\nGET a"), &out); err != nil {
		t.Fatal(err)
	}
	if want := "PUT a not_found\nGET a 1\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// TestServeUnknownFound: a store that cannot say whether a key existed
// answers the extension token "unknown", which reads back as Found Unknown.
func TestServeUnknownFound(t *testing.T) {
	c := newMapClient()
	c.unknownFound = true
	var out bytes.Buffer
	if err := Serve(context.Background(), c, strings.NewReader("PUT a 1\nDELETE a\n"), &out); err != nil {
		t.Fatal(err)
	}
	if want := "PUT a unknown\nDELETE a unknown\n"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
	rr := NewReplyReader(&out)
	for _, req := range []impls.Request{{Kind: impls.Put, Key: "a", Value: "1"}, {Kind: impls.Delete, Key: "a"}} {
		resp, err := rr.ReadReply(req)
		if err != nil || resp.Found != impls.Unknown {
			t.Errorf("%v: got %+v, %v; want Found Unknown", req, resp, err)
		}
	}
}

// TestServeBigValues: 1 MiB keys' values pass both ways through Serve.
func TestServeBigValues(t *testing.T) {
	big := strings.Repeat("v", 1<<20) + "\x7f=_"
	in := "PUT big " + big + "\nGET big\nSWAP big x\nSCAN a z\n"
	var out bytes.Buffer
	if err := Serve(context.Background(), newMapClient(), strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	want := "PUT big not_found\nGET big " + big + "\nSWAP big " + big + "\nSCAN a z BEGIN\n  big x\nSCAN END\n"
	if out.String() != want {
		t.Errorf("got %d bytes, want %d (first difference at %d)", out.Len(), len(want), firstDiff(out.String(), want))
	}
}

// TestServeLineTooLong: an over-long line is answered ERROR malformed and
// the next line is served.
func TestServeLineTooLong(t *testing.T) {
	in := "PUT a " + strings.Repeat("x", 100) + "\nGET a\n" + "PUT b 1\nGET b\n"
	lr := lineReader{br: newBufReader(strings.NewReader(in), 16), max: 50}
	var got []string
	for {
		line, err := lr.readLine()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			got = append(got, "error: "+err.Error())
			continue
		}
		got = append(got, string(line))
	}
	want := []string{"error: " + ErrLineTooLong.Error(), "GET a", "PUT b 1", "GET b"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestServeCancelled: a cancelled context ends Serve without an error and
// without executing further requests.
func TestServeCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := newMapClient()
	var out bytes.Buffer
	if err := Serve(ctx, c, strings.NewReader("PUT a 1\n"), &out); err != nil {
		t.Fatal(err)
	}
	if len(c.m) != 0 || out.Len() != 0 {
		t.Errorf("cancelled Serve executed requests: store %v, out %q", c.m, out.String())
	}
}

func firstDiff(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
