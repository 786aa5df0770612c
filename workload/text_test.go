package workload

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/impls"
)

func get(k string) Op { return Op{Type: Read, Req: impls.Request{Kind: impls.Get, Key: k}} }
func put(k, v string) Op {
	return Op{Type: Update, Req: impls.Request{Kind: impls.Put, Key: k, Value: v}}
}

func TestReadTrace(t *testing.T) {
	for _, tc := range []struct {
		name, in     string
		format       Format
		ops          []Op
		skipped      int
		firstSkipped int
	}{
		{"cs537", "put 1 10\nget 1\n\nget   2\n", FormatCS537, []Op{put("1", "10"), get("1"), get("2")}, 0, 0},
		{"cs537 skips garbage", "hello\nput 1 10\nput 2\nget x\nget 1 2\nput 4294967296 1\nPUT 1 2\nget 4294967295\n",
			FormatCS537, []Op{put("1", "10"), get("4294967295")}, 6, 1},
		{"madkv", "PUT a1 v1\n  GET   a1\nSWAP a1 v2\t\nDELETE a1\nSCAN a0 a9\r\n", FormatMadKV, []Op{
			put("a1", "v1"), get("a1"),
			{Type: SwapOp, Req: impls.Request{Kind: impls.Swap, Key: "a1", Value: "v2"}},
			{Type: DeleteOp, Req: impls.Request{Kind: impls.Delete, Key: "a1"}},
			{Type: ScanOp, Req: impls.Request{Kind: impls.Scan, Key: "a0", End: "a9"}},
		}, 0, 0},
		{"madkv stop", "GET a\nSTOP\nthis is never read\n", FormatMadKV, []Op{get("a")}, 0, 0},
		{"empty", "\n  \n", FormatUnknown, nil, 0, 0},
	} {
		tr, err := ReadTrace(strings.NewReader(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tr.Format != tc.format || !equalOps(tr.Ops, tc.ops) || tr.Skipped != tc.skipped || tr.FirstSkipped != tc.firstSkipped {
			t.Errorf("%s: got %v %+v skipped %d (first %d), want %v %+v skipped %d (first %d)",
				tc.name, tr.Format, tr.Ops, tr.Skipped, tr.FirstSkipped, tc.format, tc.ops, tc.skipped, tc.firstSkipped)
		}
	}
}

func TestReadTraceRejectsMalformedMadKV(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"PUT a b\nPUT a\n", "line 2:"},
		{"GET a\nGET a b\n", "line 2:"},
		{"GET a\n\nFOO a\n", "line 3:"},
		{"GET a\nput 1 2\n", "line 2:"},
		{"GET a\nPUT a b c d e\n", "line 2:"},
		{"GET a-b\n", "line 1:"},
		{"PUT k v@l\n", "line 1:"},
		{"SCAN a\n", "line 1:"},
		{"junk\nGET a\n", "line 1:"},
		{"junk\nmore junk\n", "line 1:"},
	} {
		_, err := ReadOps(strings.NewReader(tc.in))
		if err == nil || !errors.Is(err, ErrBadTrace) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one naming %s", tc.in, err, tc.want)
		}
	}
}

func TestWriteMadKVRoundTrip(t *testing.T) {
	y := mustYCSB(t, "a", "scanproportion=0.2", "insertproportion=0.1", "readmodifywriteproportion=0.1", "fieldlength=5")
	var ops []Op
	for _, op := range drain(y.RunStream(0, 1), 500) {
		ops = append(ops, AsMadKV(op))
	}
	var buf bytes.Buffer
	if err := WriteMadKV(&buf, ops); err != nil {
		t.Fatal(err)
	}
	back, err := ReadOps(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(ops) {
		t.Fatalf("read back %d ops, wrote %d", len(back), len(ops))
	}
	for i := range ops {
		want := ops[i].Req
		if ops[i].Type == ReadModifyWrite || ops[i].Type == Update {
			want.Kind = impls.Swap // the MadKV runner's mapping
		}
		if back[i].Req != want || back[i].Type != TypeOf(want.Kind) {
			t.Fatalf("op %d (%v): read back %+v, want %+v", i, ops[i].Type, back[i], want)
		}
	}
}

func TestWriteMadKVRejectsUnwritableOps(t *testing.T) {
	for _, op := range []Op{put("a b", "v"), put("k", ""), put("k", "v\n"), get(""),
		{Req: impls.Request{Kind: impls.Scan, Key: "a", End: "b-c"}}, {Req: impls.Request{Kind: impls.Kind(99), Key: "a"}}} {
		if err := WriteMadKV(&bytes.Buffer{}, []Op{get("ok"), op}); err == nil || !strings.Contains(err.Error(), "op 1") {
			t.Errorf("%+v: error %v, want one naming op 1", op, err)
		}
	}
}

func TestAsMadKV(t *testing.T) {
	for _, tc := range []struct {
		in   Op
		kind impls.Kind
	}{
		{Op{Type: Read, Req: impls.Request{Kind: impls.Get}}, impls.Get},
		{Op{Type: Insert, Req: impls.Request{Kind: impls.Put}}, impls.Put},
		{Op{Type: Update, Req: impls.Request{Kind: impls.Put}}, impls.Swap},
		{Op{Type: ReadModifyWrite, Req: impls.Request{Kind: impls.Put}}, impls.Swap},
		{Op{Type: ScanOp, Req: impls.Request{Kind: impls.Scan}}, impls.Scan},
	} {
		if got := AsMadKV(tc.in); got.Req.Kind != tc.kind || got.Type != tc.in.Type {
			t.Errorf("AsMadKV(%v) = %v %v, want %v %v", tc.in.Type, got.Type, got.Req.Kind, tc.in.Type, tc.kind)
		}
	}
}

func TestWriteYCSBTrace(t *testing.T) {
	ops := []Op{
		get("user1"),
		{Type: Update, Req: impls.Request{Kind: impls.Put, Key: "user2", Value: "abc"}},
		{Type: Insert, Req: impls.Request{Kind: impls.Put, Key: "user3", Value: "def"}},
		{Type: ScanOp, Req: impls.Request{Kind: impls.Scan, Key: "user1", End: "user5"}},
		{Type: ReadModifyWrite, Req: impls.Request{Kind: impls.Put, Key: "user4", Value: "ghi"}},
	}
	var buf bytes.Buffer
	if err := WriteYCSBTrace(&buf, ops); err != nil {
		t.Fatal(err)
	}
	want := "READ usertable user1\nUPDATE usertable user2 abc\nINSERT usertable user3 def\nSCAN usertable user1 user5\nREAD-MODIFY-WRITE usertable user4 ghi\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestReadTraceLineEnds(t *testing.T) {
	tr, err := ReadTrace(strings.NewReader("put 1 10\r\nget 1\r\n\nget 2"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Op{put("1", "10"), get("1"), get("2")}; !equalOps(tr.Ops, want) {
		t.Errorf("got %+v, want %+v", tr.Ops, want)
	}
	long := "GET a\nPUT k " + strings.Repeat("v", maxTraceLine+1) + "\n"
	_, err = ReadTrace(strings.NewReader(long))
	if !errors.Is(err, ErrBadTrace) || !strings.Contains(err.Error(), "line 2: longer than 16 MiB") {
		t.Errorf("a 16 MiB line: error %v", err)
	}
}
