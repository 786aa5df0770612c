package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kvbench/kvbench/results"
)

// Options configures Generate.
type Options struct {
	// Format of the figures: "png" (the default) or "svg".
	Format string
}

// Summary says what Generate wrote.
type Summary struct {
	Report     string   // the markdown file
	FiguresDir string   // the folder beside it holding the figures
	Runs       int      // runs read
	Figures    []string // figure files, relative to the report's folder
	// Warnings repeats the report's warnings (runs skipped or left out,
	// partial run directories, overloaded machines, wide spreads, figures
	// not drawn), for the terminal.
	Warnings []string
}

// Generate reads the runs under dirs and writes a markdown report to
// outPath, with its figures in a folder beside it named after the report
// (report.md -> report-figures/); links in the markdown are relative. Each
// element of dirs is a run directory or a directory of run directories (like
// runs/). It fails with an error wrapping ErrNoRuns when an element holds no
// runs, and with an error naming the file for a corrupt run.json or
// latency.hlog. The same runs give byte-identical markdown.
func Generate(dirs []string, outPath string, opts Options) (*Summary, error) {
	format := opts.Format
	if format == "" {
		format = "png"
	}
	if format != "png" && format != "svg" {
		return nil, fmt.Errorf("unknown figure format %q (want png or svg)", format)
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%w: no run directories given", ErrNoRuns)
	}
	loaded, err := loadRuns(dirs)
	if err != nil {
		return nil, err
	}
	absOut, err := filepath.Abs(outPath)
	if err != nil {
		return nil, err
	}
	reportDir := filepath.Dir(absOut)
	if err := os.MkdirAll(reportDir, 0o755); err != nil {
		return nil, err
	}
	figName := strings.TrimSuffix(filepath.Base(absOut), filepath.Ext(absOut)) + "-figures"
	figs := &figures{dir: filepath.Join(reportDir, figName), rel: figName, format: format}
	d := newDocument(loaded, reportDir, figs)
	text, err := d.render()
	if err != nil {
		return nil, err
	}
	if err := results.WriteFileAtomic(absOut, []byte(text)); err != nil {
		return nil, err
	}
	return &Summary{Report: outPath, FiguresDir: filepath.Join(filepath.Dir(outPath), figName), Runs: len(loaded.runs),
		Figures: figs.files, Warnings: d.warnings}, nil
}

// Prune removes the run directories under dirs that a killed kvbench left
// without run.json (results.FindPartial; never one whose kvbench still
// runs) and returns them.
func Prune(dirs []string) ([]string, error) {
	var removed []string
	for _, dir := range dirs {
		ps, err := results.FindPartial(dir)
		if err != nil {
			return removed, err
		}
		for _, p := range ps {
			if p.Running {
				continue
			}
			if err := os.RemoveAll(p.Dir); err != nil {
				return removed, err
			}
			removed = append(removed, p.Dir)
		}
	}
	return removed, nil
}
