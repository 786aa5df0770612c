package checker

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kvbench/kvbench/results"
)

// FuzzDecodeHistory feeds arbitrary bytes to results.DecodeHistory (the
// parser of history.jsonl, untrusted input for `kvbench check`) and checks
// whatever decodes: neither may panic, and a decoded history gets a
// verdict. Run with
//
//	go test -run '^$' -fuzz FuzzDecodeHistory ./checker/
func FuzzDecodeHistory(f *testing.F) {
	for _, seed := range []string{
		`{"client":0,"req":{"kind":"PUT","key":"k","value":"a"},"call":0,"ret":10,"outcome":"ok"}
{"client":1,"req":{"kind":"GET","key":"k"},"resp":{"found":1,"value":"a"},"call":5,"ret":15,"outcome":"ok"}`,
		`{"client":0,"req":{"kind":"SWAP","key":"k","value":"b"},"resp":{"found":-1},"call":0,"ret":1,"outcome":"unknown","err":"timeout"}
{"client":1,"req":{"kind":"SCAN","key":"a","end":"z"},"resp":{"pairs":[{"k":"k","v":"b"},{"k":"foreign","v":"x"}]},"call":2,"ret":3,"outcome":"ok"}
{"client":1,"req":{"kind":"DELETE","key":"k"},"resp":{"found":1},"call":4,"ret":5,"outcome":"fail"}`,
		`{"client":0,"req":{"kind":"GET","key":"k"},"call":10,"ret":5,"outcome":"ok"}`,
		`{"client":-3,"req":{"kind":"SCAN","key":"z","end":"a"},"call":-9223372036854775808,"ret":9223372036854775807,"outcome":"ok"}`,
		"{\"outcome\":\"maybe\"}\n\n{",
		`{"req":{"kind":"HOP"}}`,
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		events, err := results.DecodeHistory(bytes.NewReader(data))
		if err != nil || len(events) > 64 {
			return
		}
		r := Check(context.Background(), events, Options{Timeout: 200 * time.Millisecond})
		switch r.Verdict {
		case results.VerdictOK, results.VerdictViolation, results.VerdictUnknown:
		default:
			t.Fatalf("verdict %q", r.Verdict)
		}
		if r.Verdict == results.VerdictViolation && (r.Violating == 0 || !strings.Contains(r.Detail, strconv.Quote(r.Key))) {
			t.Fatalf("violation without an offending key: %+v", r)
		}
	})
}
