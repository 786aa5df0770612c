package madkv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClientGolden feeds testdata/client.in to `kvbench client madkv ADDR`
// (runClient: Dial, then madkvline) against stage 1 and stage 2 with three
// partitions; both must print testdata/client.golden byte for byte.
func TestClientGolden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "client.in"))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "client.golden")
	for _, tc := range []struct {
		name string
		addr func(*testing.T) string
	}{
		{"stage1", stage1},
		{"stage2-p3", func(t *testing.T) string { return startStage2(t, 3).mgr }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, stderr bytes.Buffer
			if err := runClient(context.Background(), []string{tc.addr(t)}, bytes.NewReader(in), &out, &stderr); err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("== stdout\n%s== stderr\n%s", out.Bytes(), stderr.Bytes())
			if *update && tc.name == "stage1" {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("client output differs from %s (go test -update to accept):\n%s", golden, got)
			}
		})
	}
}

// TestClientBigLine: a 1 MiB value travels through the line client.
func TestClientBigLine(t *testing.T) {
	big := strings.Repeat("v", 1<<20)
	in := "PUT big " + big + "\nGET big\nSCAN big big\n"
	var out bytes.Buffer
	if err := runClient(context.Background(), []string{startStage2(t, 2).mgr}, strings.NewReader(in), &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	want := "PUT big not_found\nGET big " + big + "\nSCAN big big BEGIN\n  big " + big + "\nSCAN END\n"
	if out.String() != want {
		t.Errorf("got %d bytes, want %d", out.Len(), len(want))
	}
}

func TestClientUsage(t *testing.T) {
	var stderr bytes.Buffer
	if err := runClient(context.Background(), nil, strings.NewReader(""), &bytes.Buffer{}, &stderr); err == nil {
		t.Error("no address: no error")
	}
	if !strings.Contains(stderr.String(), "Usage: kvbench client madkv ADDR") {
		t.Errorf("usage not printed: %q", stderr.String())
	}
}
