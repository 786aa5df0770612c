package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

// checkCmd runs `kvbench check args...` through newCheckCmd alone.
func checkCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newCheckCmd(&out, &errb)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

func ev(c int, kind impls.Kind, key, value string, found impls.Found, call, ret int64) results.Event {
	return results.Event{Client: c, Req: impls.Request{Kind: kind, Key: key, Value: value},
		Resp: impls.Response{Found: found, Value: value}, Call: call, Return: ret, Outcome: results.OK}
}

var (
	linearizable = []results.Event{
		ev(0, impls.Put, "k1", "a", impls.Unknown, 0, 10), ev(1, impls.Get, "k1", "a", impls.Present, 20, 30)}
	// lost: an acknowledged write is gone after a crash.
	lost = []results.Event{
		ev(0, impls.Put, "k3", "a", impls.Unknown, 0, 10), ev(1, impls.Get, "k3", "", impls.Absent, 30, 40)}
)

// hardHistory needs an exponential search to refute: many concurrent
// writes and a concurrent read of a value none of them wrote.
func hardHistory() []results.Event {
	var es []results.Event
	for i := 0; i < 26; i++ {
		es = append(es, ev(i, impls.Put, "k", string(rune('a'+i)), impls.Unknown, 0, 100))
	}
	return append(es, ev(26, impls.Get, "k", "never", impls.Present, 0, 100))
}

func saveRun(t *testing.T, impl, implFlags string, faults []results.Fault, events []results.Event) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "20261121-130501-fuzz-x")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run := &results.Run{ID: filepath.Base(dir), Command: "fuzz", Impl: impl, Faults: faults,
		Options: map[string]string{"impl_flags": implFlags, "crash": "false", "pause": "false"}}
	if err := results.WriteRun(dir, run); err != nil {
		t.Fatal(err)
	}
	if err := results.WriteHistory(dir, events); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCheckVerdictsAndExitCodes(t *testing.T) {
	crash := []results.Fault{{Kind: "crash", Process: "memkv-0", Start: 15, End: 25}}
	for _, tc := range []struct {
		name      string
		impl      string
		flags     string
		faults    []results.Fault
		events    []results.Event
		args      []string
		code      int
		out       []string
		html      bool
		stderr    string
		verdictIn string
	}{
		{name: "ok", impl: "memkv", events: linearizable, code: 0,
			out: []string{"check: ok — 2 ops, 1 key, linearizable ("}, verdictIn: results.VerdictOK},
		{name: "violation", impl: "memkv", events: lost, code: 1,
			out:  []string{`check: VIOLATION on key "k3" — see `, "check.html", `GET k3 → null`},
			html: true, verdictIn: results.VerdictViolation},
		{name: "violation under a claim that holds", impl: "memkv", flags: "--fsync always", faults: crash,
			events: lost, code: 1, out: []string{`VIOLATION on key "k3"`}, html: true, verdictIn: results.VerdictViolation},
		{name: "expected under --fsync never with a crash", impl: "memkv", flags: "--fsync never", faults: crash,
			events: lost, code: 0, html: true, verdictIn: results.VerdictExpected,
			out: []string{`check: expected violation on key "k3", predicted by the store's claims`,
				"--fsync never may lose acknowledged writes on a crash"}},
		{name: "external target claims nothing", impl: "memcached://127.0.0.1:11211", flags: "--fsync never",
			faults: crash, events: lost, code: 1, out: []string{"VIOLATION"}, html: true, verdictIn: results.VerdictViolation},
		{name: "unknown impl is checked strictly, with a note", impl: "nosuch", events: lost, code: 1,
			stderr: `unknown impl "nosuch"`, html: true, verdictIn: results.VerdictViolation},
		{name: "timeout is unknown", impl: "memkv", events: hardHistory(), args: []string{"--timeout", "50ms"}, code: 2,
			out: []string{"check: unknown — timed out after 50ms"}, verdictIn: results.VerdictUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := saveRun(t, tc.impl, tc.flags, tc.faults, tc.events)
			out, stderr, err := checkCmd(t, append(tc.args, dir)...)
			var ee exitError
			code := 0
			if errors.As(err, &ee) {
				code = ee.code
			} else if err != nil {
				t.Fatalf("error: %v", err)
			}
			if code != tc.code {
				t.Errorf("exit code %d, want %d\n%s", code, tc.code, out)
			}
			for _, want := range tc.out {
				if !strings.Contains(out, want) {
					t.Errorf("stdout %q lacks %q", out, want)
				}
			}
			if tc.stderr != "" && !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.stderr)
			}
			_, statErr := os.Stat(filepath.Join(dir, results.CheckHTML))
			if tc.html != (statErr == nil) {
				t.Errorf("check.html written: %v, want %v", statErr == nil, tc.html)
			}
			run, err := results.ReadRun(dir)
			if err != nil || run.Check == nil || run.Check.Verdict != tc.verdictIn {
				t.Errorf("run.json check = %+v (%v), want verdict %s", run.Check, err, tc.verdictIn)
			}
		})
	}
}

func TestCheckBadInput(t *testing.T) {
	dir := saveRun(t, "memkv", "", nil, linearizable)
	hist := filepath.Join(dir, results.HistoryFile)
	b, _ := os.ReadFile(hist)
	os.WriteFile(hist, append(b, []byte("{\"client\": 0, \"req\": \n")...), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
		is   error
	}{
		{"not a run directory", []string{t.TempDir()}, "not a kvbench run directory", results.ErrNotRun},
		{"corrupt history", []string{dir}, "line 3", nil},
		{"no directory", nil, "accepts 1 arg", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := checkCmd(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			var ee exitError
			if errors.As(err, &ee) && ee.code != exitNoVerdict {
				t.Fatalf("bad input reported as a verdict (exit %d): %v", ee.code, err)
			}
		})
	}
}

func TestCheckHelpHasExample(t *testing.T) {
	out, _, err := checkCmd(t, "--help")
	if err != nil || !strings.Contains(out, "kvbench check runs/") || !strings.Contains(out, "--timeout") {
		t.Fatalf("help: %v\n%s", err, out)
	}
}
