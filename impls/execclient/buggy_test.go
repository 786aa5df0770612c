package execclient

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/impls/proc"
)

// TestFuzzCatchesBuggyMadKVClients drives deliberately buggy MadKV clients
// (testdata/buggyclient: a stale cache, a SCAN that misses its end key, a
// non-idempotent PUT retry) through `kvbench fuzz --target exec:` against
// the bundled madkv server that kvbench starts with --serve: each must be a
// VIOLATION (exit 1) whose witness names the bug's operation, while the
// correct `kvbench client madkv` and the buggy program's correct mode pass.
func TestFuzzCatchesBuggyMadKVClients(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a client and runs five fuzz tests")
	}
	exe := kvbench(t)
	buggy := filepath.Join(t.TempDir(), "buggyclient")
	if out, err := exec.Command("go", "build", "-o", buggy, "./testdata/buggyclient").CombinedOutput(); err != nil {
		t.Fatalf("go build buggyclient: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name, client string
		clients      string
		code         int
		witness      string // a regexp the verdict line must match
	}{
		{"kvbench client madkv", exe + " client madkv ADDR", "3", 0, `^fuzz: ok — `},
		{"correct", buggy + " correct ADDR", "3", 0, `^fuzz: ok — `},
		// A stale read shows only beside another client's write; which op
		// the checker names first depends on the interleaving.
		{"stale cache", buggy + " stale ADDR", "3", 1, `^fuzz: VIOLATION — .*client \d+ \S+ .* cannot be linearized`},
		// With one client the only op that can go wrong is the buggy one.
		{"scan misses its end key", buggy + " scanend ADDR", "1", 1, `^fuzz: VIOLATION — .*client 0 SCAN \S+ .* cannot be linearized`},
		{"non-idempotent retry", buggy + " retry ADDR", "1", 1, `^fuzz: VIOLATION — .*client 0 PUT \S+ "[^"]*" → found during .* cannot be linearized`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, err := proc.FreeTCPAddr()
			if err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			cmd := exec.Command(exe, "fuzz", "--target", "exec:"+strings.ReplaceAll(tc.client, "ADDR", addr),
				"--serve", "madkv="+exe+" serve madkv server "+addr,
				"--clients", tc.clients, "--conflict", "--ops", "300", "--seed", "1", "-q", "--out", out)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err = cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			if code != tc.code || len(lines) != 2 || !regexp.MustCompile(tc.witness).MatchString(lines[0]) {
				t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d and a verdict matching %s", code, &stdout, &stderr, tc.code, tc.witness)
			}
			want := map[int]string{0: "Fuzz testing result: PASSED", 1: "Fuzz testing result: FAILED"}[tc.code]
			if lines[1] != want {
				t.Errorf("last line %q, want %q", lines[1], want)
			}
			if tc.code == 1 {
				// The witness: check.html beside the history.
				html, _ := filepath.Glob(filepath.Join(out, "*", "check.html"))
				if len(html) != 1 {
					t.Errorf("check.html: %v, want one witness page", html)
				} else if fi, err := os.Stat(html[0]); err != nil || fi.Size() == 0 {
					t.Errorf("check.html: %v", err)
				}
			}
		})
	}
}
