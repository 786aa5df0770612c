package results

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Sweep is what `kvbench scenario run` planned and what became of it,
// written beside its runs as sweep-<UTC time>-<scenario>.json, so a report
// can say which combinations were skipped (a workload a store cannot run),
// which failed, and whether the sweep was interrupted: none of them leaves
// a run directory to show.
type Sweep struct {
	Scenario    string    `json:"scenario"`
	Start       time.Time `json:"start"`
	Planned     int       `json:"planned"` // runs planned (skipped ones not counted)
	Done        int       `json:"done"`
	Skipped     []string  `json:"skipped,omitempty"` // "memkv: workload e needs SCAN, which memkv does not support"
	Failed      []string  `json:"failed,omitempty"`  // "memkv workload=a clients=4 ...: error"
	Interrupted bool      `json:"interrupted,omitempty"`
}

// sweepPrefix starts the name of a sweep file.
const sweepPrefix = "sweep-"

// WriteSweep writes s into dir atomically and returns the file's path.
func WriteSweep(dir string, s *Sweep) (string, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", err
	}
	name := sweepPrefix + s.Start.UTC().Format("20060102-150405") + "-" + safeName(s.Scenario) + ".json"
	path := filepath.Join(dir, name)
	return path, WriteFileAtomic(path, append(b, '\n'))
}

// ReadSweeps reads every sweep file in dir, oldest first. A file that does
// not parse is an error naming it.
func ReadSweeps(dir string) ([]*Sweep, error) {
	paths, err := filepath.Glob(filepath.Join(dir, sweepPrefix+"*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []*Sweep
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return out, err
		}
		var s Sweep
		if err := json.Unmarshal(b, &s); err != nil {
			return out, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, &s)
	}
	return out, nil
}

// safeName keeps [A-Za-z0-9._-] of name and turns the rest into '_'.
func safeName(name string) string {
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			return c
		}
		return '_'
	}, name)
}
