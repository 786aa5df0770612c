package workload

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadPropertyFileFallsBackToStockWorkloads(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{"workloadc", filepath.Join(dir, "workloads", "workloadc")} {
		p, err := LoadPropertyFile(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if p["readproportion"] != "1" {
			t.Errorf("%s: readproportion %q, want workload C's 1", path, p["readproportion"])
		}
	}
	// A real file of that name wins over the embedded copy.
	local := filepath.Join(dir, "workloadc")
	os.WriteFile(local, []byte("readproportion=0.5\n"), 0o644)
	if p, err := LoadPropertyFile(local); err != nil || p["readproportion"] != "0.5" {
		t.Errorf("local file: %v, readproportion %q", err, p["readproportion"])
	}
	if _, err := LoadPropertyFile(filepath.Join(dir, "myworkload")); err == nil {
		t.Error("a missing non-stock file must be an error")
	}
}
