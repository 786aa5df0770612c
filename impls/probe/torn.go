package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
)

// LogSubject is a store with an append-only log, as TornTail drives it.
type LogSubject struct {
	// Write creates the store in the empty directory dir, writes records
	// 0..n-1 durably one at a time, and closes it. It returns the log
	// file's path and the file's size after each record: ends[i] is the
	// offset just past record i.
	Write func(dir string, n int) (path string, ends []int64, err error)
	// Recover opens the store in dir, whose log was damaged, and returns k
	// when records 0..k-1 are intact and none of the later ones is present.
	// It returns an error when the store does not open or holds anything
	// else.
	Recover func(dir string, n int) (k int, err error)
}

// TornConfig sizes a torn-tail run. Zero fields take the defaults.
type TornConfig struct {
	// Trials is the number of damaged copies recovered (default 50).
	Trials int
	// Records is the number of records written (default 40); Tail the
	// number of final records the damage may hit (default 5).
	Records, Tail int
	// Seed makes the damage reproducible.
	Seed uint64
}

// TornResult is what a torn-tail run found.
type TornResult struct {
	// Trials ran; Exact recovered exactly the records before the damage.
	Trials, Exact int
	// Failures describes up to 10 trials that did not.
	Failures []string
}

// String summarizes the result on one line.
func (r TornResult) String() string {
	return fmt.Sprintf("%d torn-log trials, %d recovered exactly the intact prefix", r.Trials, r.Exact)
}

// The kinds of damage, as a crash or a bad disk leaves a log's tail.
var damages = []struct {
	name  string
	apply func(r *rand.Rand, f *os.File, ends []int64, tail int) (expect int, what string, err error)
}{
	{"cut", func(r *rand.Rand, f *os.File, ends []int64, tail int) (int, string, error) {
		lo, hi := ends[len(ends)-1-tail], ends[len(ends)-1]
		at := lo + r.Int64N(hi-lo)
		return countEnds(ends, at), fmt.Sprintf("cut at %d", at), f.Truncate(at)
	}},
	{"garbage", func(r *rand.Rand, f *os.File, ends []int64, _ int) (int, string, error) {
		b := make([]byte, 1+r.IntN(64))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		_, err := f.WriteAt(b, ends[len(ends)-1])
		return len(ends), fmt.Sprintf("%d random bytes appended", len(b)), err
	}},
	{"zeros", func(r *rand.Rand, f *os.File, ends []int64, _ int) (int, string, error) {
		n := 1 + r.IntN(4096)
		_, err := f.WriteAt(make([]byte, n), ends[len(ends)-1])
		return len(ends), fmt.Sprintf("%d zero bytes appended", n), err
	}},
	{"flip", func(r *rand.Rand, f *os.File, ends []int64, tail int) (int, string, error) {
		lo, hi := ends[len(ends)-1-tail], ends[len(ends)-1]
		at := lo + r.Int64N(hi-lo)
		var b [1]byte
		if _, err := f.ReadAt(b[:], at); err != nil {
			return 0, "", err
		}
		b[0] ^= byte(1 + r.IntN(255))
		_, err := f.WriteAt(b[:], at)
		return countEnds(ends, at), fmt.Sprintf("byte %d changed", at), err
	}},
}

// countEnds is the number of records that end at or before off.
func countEnds(ends []int64, off int64) int {
	return sort.Search(len(ends), func(i int) bool { return ends[i] > off })
}

// TornTail writes cfg.Records records once into work/template, then for
// each trial copies it, damages the copy's log tail (a cut mid-record,
// garbage or zeros appended, a byte changed in one of the last cfg.Tail
// records) and checks that the store recovers exactly the records before
// the damage. work must be an empty scratch directory.
func TornTail(ctx context.Context, work string, s LogSubject, cfg TornConfig) (TornResult, error) {
	if cfg.Trials <= 0 {
		cfg.Trials = 50
	}
	if cfg.Records <= 0 {
		cfg.Records = 40
	}
	if cfg.Tail <= 0 {
		cfg.Tail = 5
	}
	cfg.Tail = min(cfg.Tail, cfg.Records-1)
	var res TornResult
	tmpl := filepath.Join(work, "template")
	if err := os.MkdirAll(tmpl, 0o700); err != nil {
		return res, err
	}
	path, ends, err := s.Write(tmpl, cfg.Records)
	if err != nil {
		return res, fmt.Errorf("torn tail: write: %w", err)
	}
	if len(ends) != cfg.Records {
		return res, fmt.Errorf("torn tail: Write returned %d record ends for %d records", len(ends), cfg.Records)
	}
	rel, err := filepath.Rel(tmpl, path)
	if err != nil {
		return res, err
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x746f726e))
	for trial := 0; trial < cfg.Trials; trial++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		dir := filepath.Join(work, fmt.Sprint("trial-", trial))
		if err := copyDir(tmpl, dir); err != nil {
			return res, err
		}
		d := damages[trial%len(damages)]
		f, err := os.OpenFile(filepath.Join(dir, rel), os.O_RDWR, 0)
		if err != nil {
			return res, err
		}
		want, what, err := d.apply(r, f, ends, cfg.Tail)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return res, fmt.Errorf("torn tail: damage %s: %w", d.name, err)
		}
		got, err := s.Recover(dir, cfg.Records)
		res.Trials++
		switch {
		case err != nil:
			res.fail(fmt.Sprintf("trial %d (%s): recovery failed: %v", trial, what, err))
		case got != want:
			res.fail(fmt.Sprintf("trial %d (%s): recovered %d records, want %d", trial, what, got, want))
		default:
			res.Exact++
		}
		os.RemoveAll(dir)
	}
	return res, nil
}

func (r *TornResult) fail(s string) {
	if len(r.Failures) < 10 {
		r.Failures = append(r.Failures, s)
	}
}

// copyDir copies the regular files of src into a new directory dst.
func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	_, err = io.Copy(out, in)
	return err
}
