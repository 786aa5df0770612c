package dkvs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary act as a dkvs client for the conformance
// tests: with $DKVS_TEST_CLIENT set it runs kvbench's client on its
// arguments (with $DKVS_TEST_CLIENT=trailing-space, a buggy one that prints
// "OK value " as some students' clients do) and exits with its status.
func TestMain(m *testing.M) {
	mode := os.Getenv("DKVS_TEST_CLIENT")
	if mode == "" {
		os.Exit(m.Run())
	}
	var out bytes.Buffer
	err := client(context.Background(), os.Args[1:], os.Stdin, &out, os.Stderr)
	b := out.Bytes()
	if mode == "trailing-space" && bytes.HasPrefix(b, []byte("OK ")) {
		b = bytes.Replace(b, []byte("\n"), []byte(" \n"), 1)
	}
	os.Stdout.Write(b)
	os.Exit(exitStatus(err))
}

func TestConformSelf(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for timeouts")
	}
	t.Setenv("DKVS_TEST_CLIENT", "faithful")
	res, err := Conform(context.Background(), []string{os.Args[0]}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(conformCases) {
		t.Fatalf("%d results for %d cases", len(res), len(conformCases))
	}
	for _, r := range res {
		if !r.OK() {
			t.Errorf("%s: %s: exit %d/%d\nstdout %q\nwant   %q\nstderr %q\nwant   %q (%v)", r.Name, r.Command,
				r.GotExit, r.WantExit, r.GotOut, r.WantOut, r.GotErr, r.WantErr, r.Err)
		}
	}
	// The cases cover each exit status the spec names for the client.
	seen := map[int]bool{}
	for _, r := range res {
		seen[r.WantExit] = true
	}
	for _, code := range []int{0, 129, 132, 133, 134, 135, 136, 137} {
		if !seen[code] {
			t.Errorf("no case exits %d", code)
		}
	}
}

func TestConformFindsABug(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for timeouts")
	}
	t.Setenv("DKVS_TEST_CLIENT", "trailing-space")
	var out bytes.Buffer
	err := conform(context.Background(), []string{"--", os.Args[0]}, &out)
	if !errors.Is(err, ErrConformance) {
		t.Fatalf("a client printing \"OK def \" passed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "DIFF  get: ") || !strings.Contains(out.String(), `stdout "OK def \n"`) {
		t.Errorf("report does not show the get difference:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "ok    put: ") {
		t.Errorf("put (prints OK without a value) should still match:\n%s", out.String())
	}
}
