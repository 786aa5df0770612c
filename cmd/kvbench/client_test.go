package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestClientCmd: --help lists the stores with a client, a usage mistake
// exits 2 with the store's message, an unknown store is an error.
func TestClientCmd(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"client", "--help"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Stores with a client:", "  memkv ", "  shm "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("client --help does not list %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	errb.Reset()
	err := run(context.Background(), []string{"client", "memkv"}, &out, &errb)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(errb.String(), "want one HOST:PORT") {
		t.Errorf("client memkv without an address = %v, stderr %q; want exit 2 and the reason", err, errb.String())
	}
	if err := run(context.Background(), []string{"client", "no-such-store"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "no-such-store") {
		t.Errorf("client no-such-store = %v", err)
	}
}
