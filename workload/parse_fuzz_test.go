package workload

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzReadOps: ReadTrace never panics, and whatever it accepts as MadKV
// writes back to text that reads back to the same ops.
func FuzzReadOps(f *testing.F) {
	for _, seed := range []string{
		"put 1 10\nget 1\n", "PUT a b\nGET a\nSWAP a c\nDELETE a\nSCAN a z\nSTOP\n",
		"junk\nput 1 2\n", "GET a\nGET\n", "\n\n", "put 4294967296 1\n", "SCAN  a   b \r\n",
		"PUT a b c d e f\n", "get 1 2 3 4 5\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tr, err := ReadTrace(strings.NewReader(in))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		switch tr.Format {
		case FormatMadKV:
			if err := WriteMadKV(&buf, tr.Ops); err != nil {
				t.Fatalf("accepted ops do not write back: %v", err)
			}
		case FormatCS537:
			if err := WriteCS537(&buf, tr.Ops); err != nil {
				t.Fatalf("accepted ops do not write back: %v", err)
			}
		default:
			if len(tr.Ops) != 0 {
				t.Fatalf("unknown format with %d ops", len(tr.Ops))
			}
			return
		}
		back, err := ReadTrace(&buf)
		if err != nil || !equalOps(back.Ops, tr.Ops) || back.Skipped != 0 {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzParseProperties: the parser never panics, and an accepted property
// set has no empty keys.
func FuzzParseProperties(f *testing.F) {
	for _, seed := range []string{
		stockStyle, "a=1\nb: 2\nc 3\n", "k=a\\\n  b\n", `a\=b=\u0041`, "=x\n", "k\n", "k=\\u12", "! c\n# d\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParseProperties(strings.NewReader(in))
		if err != nil {
			return
		}
		for k := range p {
			if k == "" {
				t.Fatal("empty key accepted")
			}
		}
	})
}
