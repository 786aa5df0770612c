package workload

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/impls/istkvs"
)

func TestGenIstJobs(t *testing.T) {
	cfg := IstJobsConfig{Jobs: 3, Commands: 50, Keys: 10, BackupEvery: 20, Seed: 9}
	a, err := GenIstJobs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenIstJobs(cfg)
	for i := range a {
		text := IstJobText(a[i].Commands)
		if !bytes.Equal(text, IstJobText(b[i].Commands)) {
			t.Fatal("same seed, different jobs")
		}
		if len(a[i].Commands) != 52 || a[i].Expected == nil {
			t.Fatalf("job %d: %d commands, expected %v", i, len(a[i].Commands), a[i].Expected != nil)
		}
		// Every line parses back to its command, and keys are the job's own.
		for n, line := range strings.Split(strings.TrimSuffix(string(text), "\n"), "\n") {
			c, err := istkvs.ParseLine([]byte(line))
			if err != nil || c.String() != line {
				t.Fatalf("job %d line %d %q: %v", i, n, line, err)
			}
			for _, k := range c.Keys {
				if !strings.HasPrefix(k, "j"+string(rune('0'+i))+"k") {
					t.Fatalf("job %d uses key %s", i, k)
				}
			}
		}
		if !bytes.Equal(a[i].Expected, istkvs.ExpectedOut(a[i].Commands)) {
			t.Fatal("expected output is not the model's")
		}
	}
	dir := t.TempDir()
	if err := WriteIstJobs(dir, a); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(names) != 6 || filepath.Base(names[1]) != "job0000.out.expected" {
		t.Errorf("files %v", names)
	}
	if _, err := GenIstJobs(IstJobsConfig{Jobs: 1, Keys: 2, Shared: true}); err == nil {
		t.Error("shared with fewer keys than a group accepted")
	}
	sh, _ := GenIstJobs(IstJobsConfig{Jobs: 2, Commands: 30, Keys: 8, Shared: true})
	if sh[0].Expected != nil {
		t.Error("shared jobs have no deterministic output")
	}
}
