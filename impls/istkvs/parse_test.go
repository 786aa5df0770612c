package istkvs

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func pairsN(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "(k%d,v%d)", i, i)
	}
	return b.String()
}

func keysN(n int) string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprint("k", i)
	}
	return strings.Join(ks, ",")
}

func TestParseLine(t *testing.T) {
	k40, k41 := strings.Repeat("k", 40), strings.Repeat("k", 41)
	ok := []struct {
		line string
		want Command
	}{
		{"", Command{}},
		{"# WRITE [(a,b)]", Command{}},
		{"#", Command{}},
		{"SHOW", Command{Op: OpShow}},
		{"BACKUP", Command{Op: OpBackup}},
		{"HELP", Command{Op: OpHelp}},
		{"WAIT 0", Command{Op: OpWait}},
		{"WAIT 4294967295", Command{Op: OpWait, Delay: 4294967295}},
		{"WRITE [(a,b)]", Command{Op: OpWrite, Pairs: []Pair{{"a", "b"}}}},
		{"WRITE [(a,b)(a,c)]", Command{Op: OpWrite, Pairs: []Pair{{"a", "b"}, {"a", "c"}}}},
		{"WRITE [(" + k40 + "," + k40 + ")]", Command{Op: OpWrite, Pairs: []Pair{{k40, k40}}}},
		{"WRITE [(my.key,my_value#1)]", Command{Op: OpWrite, Pairs: []Pair{{"my.key", "my_value#1"}}}},
		{"READ [a]", Command{Op: OpRead, Keys: []string{"a"}}},
		{"READ [b,a,b]", Command{Op: OpRead, Keys: []string{"b", "a", "b"}}},
		{"DELETE [x,y]", Command{Op: OpDelete, Keys: []string{"x", "y"}}},
	}
	for _, c := range ok {
		got, err := ParseLine([]byte(c.line))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseLine(%q) = %+v, %v; want %+v", c.line, got, err, c.want)
		}
	}
	if c, err := ParseLine([]byte("WRITE [" + pairsN(255) + "]")); err != nil || len(c.Pairs) != 255 {
		t.Errorf("255 pairs: %v", err)
	}
	if c, err := ParseLine([]byte("READ [" + keysN(255) + "]")); err != nil || len(c.Keys) != 255 {
		t.Errorf("255 keys: %v", err)
	}
	bad := []string{
		"WRITE [(a,b)] ", "WRITE [(a,b)]\r", "WRITE [ (a,b)]", "WRITE [(a, b)]", "WRITE  [(a,b)]", "WRITE[(a,b)]",
		"WRITE [(a,b)", "WRITE [(a,b)]]", "WRITE [(a,b),(c,d)]", "WRITE [a,b]", "WRITE [.my.key,my_value]",
		"WRITE []", "WRITE [(,b)]", "WRITE [(a,)]", "WRITE [(a,b,c)]", "WRITE [(a(b,c)]",
		"WRITE [(" + k41 + ",v)]", "WRITE [(k," + k41 + ")]", "WRITE [(KVSERROR,v)]", "WRITE [(k,KVSMISSING)]",
		"WRITE [(k,DELETED)]", "WRITE [" + pairsN(256) + "]", "WRITE [(a\tb,c)]",
		"READ []", "READ [a,]", "READ [,a]", "READ [a b]", "READ [a]x", "READ a", "READ [" + k41 + "]",
		"READ [" + keysN(256) + "]", "READ [DELETED]", "READ [a]\r",
		"DELETE [a,,b]", "DELETE [KVSMISSING]",
		"SHOW ", " SHOW", "show", "SHOW\r", "BACKUP 1", "HELP me",
		"WAIT", "WAIT ", "WAIT -1", "WAIT 1.5", "WAIT 4294967296", "WAIT  1", "WAIT 1 ", "WAIT 0x10",
		"\r", " ", "\t", "XYZ",
	}
	for _, line := range bad {
		if c, err := ParseLine([]byte(line)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseLine(%q) = %+v, %v; want ErrInvalid", line, c, err)
		}
	}
}

// FuzzParseLine: the parser never panics, accepts only what it can render
// back byte for byte, and never accepts a key or value outside the limits.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"WRITE [(a,b)(c,d)]", "READ [a,b]", "DELETE [a]", "SHOW", "WAIT 10",
		"BACKUP", "HELP", "# x", "", "WRITE [(a,b)]\r", "READ [" + keysN(3) + "]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		c, err := ParseLine(line)
		if err != nil || c.Op == OpNone {
			return
		}
		if got := c.String(); got != string(line) && !(c.Op == OpWait && strings.TrimLeft(string(line[5:]), "0") == strings.TrimLeft(got[5:], "0")) {
			t.Fatalf("ParseLine(%q) renders back as %q", line, got)
		}
		if bytes.ContainsAny(line, " \r\n\t") && c.Op != OpWait && c.Op != OpWrite && c.Op != OpRead && c.Op != OpDelete {
			t.Fatalf("accepted %q", line)
		}
		for _, p := range c.Pairs {
			if !ValidString(p.Key) || !ValidString(p.Value) {
				t.Fatalf("accepted pair %q in %q", p, line)
			}
		}
		for _, k := range c.Keys {
			if !ValidString(k) {
				t.Fatalf("accepted key %q in %q", k, line)
			}
		}
		if len(c.Pairs) > MaxPairs || len(c.Keys) > MaxPairs {
			t.Fatalf("accepted %d pairs", len(c.Pairs)+len(c.Keys))
		}
	})
}

func TestParseOutputs(t *testing.T) {
	pairs, ok := ParseShow("(a, 1)\n(b, x,y)\n")
	if !ok || !reflect.DeepEqual(pairs, []Pair{{"a", "1"}, {"b", "x,y"}}) {
		t.Errorf("ParseShow: %v %v", pairs, ok)
	}
	if _, ok := ParseShow("(a, 1)"); ok {
		t.Error("ParseShow accepted a line without newline")
	}
	rp, ok := ParseReadLine("[(a,1)(b,KVSERROR)]")
	if !ok || !reflect.DeepEqual(rp, []Pair{{"a", "1"}, {"b", "KVSERROR"}}) {
		t.Errorf("ParseReadLine: %v %v", rp, ok)
	}
}
