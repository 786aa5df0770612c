package scenarios

import (
	"os"
	"path/filepath"
	"testing"
)

func TestResolvePropertiesLayering(t *testing.T) {
	dir := t.TempDir()
	custom := filepath.Join(dir, "mine.properties")
	os.WriteFile(custom, []byte("readproportion=0.25\noperationcount=777\n"), 0o644)
	for _, c := range []struct {
		name      string
		o         BenchOptions
		read      string
		records   string
		explicit  int64
		wantError bool
	}{
		{"default is workload a", BenchOptions{}, "0.5", "1000", 0, false},
		{"stock name without a file", BenchOptions{PropertyFiles: []string{"workloadc"}}, "1", "1000", 1000, false},
		{"stock path without a file", BenchOptions{PropertyFiles: []string{"workloads/workloadb"}}, "0.95", "1000", 1000, false},
		{"file over letter, -p over file, --records last", BenchOptions{Workload: "b", PropertyFiles: []string{custom},
			Props: map[string]string{"readproportion": "0.75"}, Records: 42}, "0.75", "42", 777, false},
		{"--ops sets operationcount", BenchOptions{Ops: 5000}, "0.5", "1000", 0, false},
		{"missing file", BenchOptions{PropertyFiles: []string{filepath.Join(dir, "nope")}}, "", "", 0, true},
		{"bad operationcount", BenchOptions{Props: map[string]string{"operationcount": "many"}}, "", "", 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, n, err := resolveProperties(&c.o)
			if (err != nil) != c.wantError {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if p["readproportion"] != c.read || p["recordcount"] != c.records || n != c.explicit {
				t.Errorf("readproportion %q recordcount %q explicit %d; want %q %q %d",
					p["readproportion"], p["recordcount"], n, c.read, c.records, c.explicit)
			}
		})
	}
}
