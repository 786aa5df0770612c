package report

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzGenerate: whatever a run.json holds (corrupt, hostile, absurd
// numbers), the report is written or the run is skipped with a warning;
// Generate never panics.
func FuzzGenerate(f *testing.F) {
	good, _ := json.Marshal(benchRun("r1", "memkv", 1, 1000))
	f.Add(good)
	f.Add([]byte(`{"id":"x","command":"run","overall":{"ops_per_sec":1e308},"ops":[{"op":"READ","count":9223372036854775807,"latency_us":{"p99":-5}}]}`))
	f.Add([]byte(`{"id":"x\n# h","command":"fuzz","faults":[{"kind":"<b>","start_ns":9,"end_ns":-9}],"check":{"verdict":"ok","html":"../../etc"}}`))
	f.Add([]byte(`{"command":"run","clients":-1,"window":0,"seconds":-1,"load":{"cores":0,"threads":5}}`))
	f.Add([]byte(`{"config":{"command":"fuzz","faults":{"kinds":[],"interval":"-1s"}},"command":"fuzz"}`))
	f.Fuzz(func(t *testing.T, runJSON []byte) {
		root := t.TempDir()
		dir := filepath.Join(root, "runs", "r1")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "run.json"), runJSON, 0o644)
		_, err := Generate([]string{filepath.Join(root, "runs")}, filepath.Join(root, "r.md"), Options{Format: "svg"})
		if err != nil && !errors.Is(err, ErrNoRuns) {
			t.Fatalf("Generate: %v", err)
		}
	})
}
