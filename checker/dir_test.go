package checker

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

// lostAfterCrash is an acknowledged write that a read after a crash window
// [15, 25] no longer sees.
var lostAfterCrash = h(put(0, "k3", "a", 0, 10), get(1, "k3", "a", 12, 14), get(1, "k3", none, 30, 40),
	put(0, "k1", "b", 0, 10), get(1, "k1", "b", 30, 40))

var crashWindow = []results.Fault{{Kind: "crash", Process: "memkv-0", Start: 15, End: 25}}

func TestWriteHTMLAnnotatesFaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "check.html")
	err := WriteHTML(context.Background(), path, lostAfterCrash, Options{Faults: append(crashWindow,
		results.Fault{Kind: "pause", Process: "memkv-1", Start: 31, End: 20, Error: "SIGCONT failed"})})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, want := range []string{
		"<html", "crash memkv-0", "nemesis memkv-0", "pause memkv-1", "not healed: SIGCONT failed",
		"GET k3 → null", // the witness is visualized
	} {
		if !strings.Contains(html, want) {
			t.Errorf("check.html lacks %q", want)
		}
	}
	if strings.Contains(html, `PUT k1 \"b\"`) || strings.Contains(html, `PUT k1 "b"`) {
		t.Error("check.html shows the linearizable key k1; it should show only violating keys")
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".check.html.tmp*")); len(matches) > 0 {
		t.Errorf("temp files left behind: %v", matches)
	}
}

func TestWriteHTMLNeedsAViolation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "check.html")
	err := WriteHTML(context.Background(), path, h(put(0, "k", "a", 0, 10), get(1, "k", "a", 20, 30)), Options{})
	if !errors.Is(err, ErrNoViolation) {
		t.Fatalf("err = %v, want ErrNoViolation", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a linearizable history produced %s", path)
	}
}

// TestWriteHTMLCarriesStateIntoLaterSegments checks that a violation long
// after the start of a key's history is shown from the last cut, with the
// state there.
func TestWriteHTMLCarriesStateIntoLaterSegments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "check.html")
	es := h(put(0, "k", "a", 0, 10), get(1, "k", "a", 20, 30), put(0, "k", "b", 40, 50), get(1, "k", "a", 60, 70))
	r := Check(context.Background(), es, Options{minSegment: 1})
	if r.Verdict != violation || !strings.Contains(r.Detail, "(3 of 4 ops") {
		t.Fatalf("%s: %s", r.Verdict, r.Detail)
	}
	if err := WriteHTML(context.Background(), path, es, Options{minSegment: 1}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `k is \"b\" (carried over from earlier ops)`) {
		t.Error("check.html lacks the carried-over state")
	}
}

func writeRunDir(t *testing.T, events []results.Event) string {
	t.Helper()
	dir := t.TempDir()
	run := &results.Run{ID: filepath.Base(dir), Command: "fuzz", Impl: "memkv", Faults: crashWindow,
		Options: map[string]string{"impl_flags": "--fsync never"}}
	if err := results.WriteRun(dir, run); err != nil {
		t.Fatal(err)
	}
	if err := results.WriteHistory(dir, events); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCheckDirRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		events  []results.Event
		claim   *impls.Claim
		verdict string
		html    bool
	}{
		{"linearizable", h(put(0, "k", "a", 0, 10), get(1, "k", "a", 20, 30)), nil, ok, false},
		{"violation", lostAfterCrash, nil, violation, true},
		{"expected", lostAfterCrash, &impls.Claim{Why: "--fsync never loses writes on a crash"}, results.VerdictExpected, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeRunDir(t, tc.events)
			c, err := CheckDir(context.Background(), dir, Options{Timeout: time.Minute, Claim: tc.claim})
			if err != nil {
				t.Fatal(err)
			}
			if c.Verdict != tc.verdict || c.Ops != len(tc.events) {
				t.Fatalf("got %+v, want %s over %d ops", c, tc.verdict, len(tc.events))
			}
			run, err := results.ReadRun(dir)
			if err != nil {
				t.Fatal(err)
			}
			if run.Check == nil || *run.Check != *c {
				t.Fatalf("run.json check = %+v, want %+v", run.Check, c)
			}
			if len(run.Faults) != 1 || run.Options["impl_flags"] != "--fsync never" {
				t.Errorf("run.json lost other fields: %+v", run)
			}
			_, statErr := os.Stat(filepath.Join(dir, results.CheckHTML))
			if tc.html != (statErr == nil) || tc.html != (c.HTML == results.CheckHTML) {
				t.Fatalf("check.html present=%v, HTML=%q; want %v", statErr == nil, c.HTML, tc.html)
			}
			if tc.html {
				b, _ := os.ReadFile(filepath.Join(dir, results.CheckHTML))
				if !bytes.Contains(b, []byte("crash memkv-0")) {
					t.Error("check.html lacks the fault window from run.json")
				}
			}
		})
	}
}

func TestCheckDirErrors(t *testing.T) {
	if _, err := CheckDir(context.Background(), t.TempDir(), Options{}); !errors.Is(err, results.ErrNotRun) {
		t.Errorf("empty dir: %v, want ErrNotRun", err)
	}
	dir := writeRunDir(t, nil)
	os.Remove(filepath.Join(dir, results.HistoryFile))
	if _, err := CheckDir(context.Background(), dir, Options{}); !errors.Is(err, ErrNoHistory) {
		t.Errorf("no history: %v, want ErrNoHistory", err)
	}
	corrupt := `{"client":0,"req":{"kind":"PUT","key":"k","value":"a"},"call":0,"ret":1,"outcome":"ok"}
{"client":0,"req":{"kind":"GET","key":"k"},"call":2,"ret":3,"outcome":"ok"}
{"client":0,"req":{"kind":"GET","key":"k"},"call":2,"ret":
`
	if err := os.WriteFile(filepath.Join(dir, results.HistoryFile), []byte(corrupt), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckDir(context.Background(), dir, Options{}); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("corrupt history: %v, want an error naming line 3", err)
	}
	dir = writeRunDir(t, h(get(0, "k", none, 10, 5)))
	if _, err := CheckDir(context.Background(), dir, Options{}); !errors.Is(err, ErrMalformed) ||
		!strings.Contains(err.Error(), "event 1: returns at 5 before its call at 10") {
		t.Errorf("malformed history: %v, want ErrMalformed naming the event", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir = writeRunDir(t, lostAfterCrash)
	r, err := CheckDirResult(ctx, dir, Options{})
	if err != nil || r.Verdict != results.VerdictUnknown {
		t.Fatalf("cancelled: %+v, %v", r, err)
	}
	if run, _ := results.ReadRun(dir); run.Check != nil {
		t.Errorf("a cancelled check was recorded: %+v", run.Check)
	}
}
