package istkvs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// BatchResult is what a batch run measured and found.
type BatchResult struct {
	Jobs, Commands, Backups int
	Elapsed                 time.Duration
	// Problems lists every .out and .bck that no serialization of the jobs
	// explains (see Validate); empty when all are consistent.
	Problems []string
}

// JobsPerSec and CommandsPerSec are the batch throughput.
func (r BatchResult) JobsPerSec() float64 { return float64(r.Jobs) / r.Elapsed.Seconds() }

// CommandsPerSec is commands (comments and blank lines excluded) per second.
func (r BatchResult) CommandsPerSec() float64 { return float64(r.Commands) / r.Elapsed.Seconds() }

// RunBatch runs the bundled server in this process as part 1 on dir
// (every job, then exit) with the given threads and backups, times it, and
// validates every .out and .bck.
func RunBatch(ctx context.Context, dir string, threads, backups int) (BatchResult, error) {
	return runBatch(ctx, Config{Dir: dir, Threads: threads, Backups: backups})
}

func runBatch(ctx context.Context, cfg Config) (BatchResult, error) {
	s, err := NewServer(cfg)
	if err != nil {
		return BatchResult{}, err
	}
	start := time.Now()
	if err := s.Run(ctx); err != nil {
		return BatchResult{}, err
	}
	elapsed := time.Since(start)
	res, err := Validate(cfg.Dir)
	res.Elapsed = elapsed
	return res, err
}

// RunBatchCommand runs an external server command to completion on dir
// (anyone's `./kvs DIR 1 2`), times it and validates its files like RunBatch.
func RunBatchCommand(ctx context.Context, dir string, run func(ctx context.Context) error) (BatchResult, error) {
	start := time.Now()
	if err := run(ctx); err != nil {
		return BatchResult{}, err
	}
	elapsed := time.Since(start)
	res, err := Validate(dir)
	res.Elapsed = elapsed
	return res, err
}

// jobFiles is one job as found on disk.
type jobFiles struct {
	path     string
	cmds     []Command
	out      []byte
	expected []byte // <job>.out.expected, nil if absent
	backups  [][]byte
}

// Validate checks every job's .out (and backups) in dir against what some
// serialization of the jobs could print. It is sound (a real IST-KVS never
// fails it) and checks these necessary conditions:
//   - a job with an expected output (<name>.out.expected) printed exactly that;
//   - every .out parses as the job's commands' output lines, in order;
//   - every value read, shown or backed up was written to that key by some
//     WRITE (values are unique per WRITE in generated jobs);
//   - a job reads its own latest write of a key, or a later one by another
//     job (or nothing, if another job deletes it), never an older value of
//     its own, and never goes back in another job's writes to a key;
//   - a multi-key READ, SHOW or backup never sees a WRITE half applied: keys
//     written together under one value are seen all with it, or none with it
//     unless a later write to some of them explains the difference (checked
//     exactly for the generator's key groups, which are always written,
//     read and deleted whole).
func Validate(dir string) (BatchResult, error) {
	paths, err := ListJobs(dir)
	if err != nil {
		return BatchResult{}, err
	}
	var res BatchResult
	var jobs []*jobFiles
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return res, err
		}
		j := &jobFiles{path: p}
		for _, line := range bytes.Split(data, []byte("\n")) {
			if c, err := ParseLine(line); err == nil && c.Op != OpNone {
				j.cmds = append(j.cmds, c)
			}
		}
		res.Jobs++
		res.Commands += len(j.cmds)
		if j.out, err = os.ReadFile(OutPath(p)); err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("%s: no .out: %v", filepath.Base(p), err))
			continue
		}
		j.expected, _ = os.ReadFile(OutPath(p) + ".expected")
		for n := 1; ; n++ {
			b, err := os.ReadFile(BackupPath(p, n))
			if err != nil {
				break
			}
			j.backups = append(j.backups, b)
		}
		res.Backups += len(j.backups)
		jobs = append(jobs, j)
	}
	res.Problems = append(res.Problems, validateJobs(jobs)...)
	return res, nil
}

// writer is where a value came from: job index and command index.
type writer struct{ job, cmd int }

// validateJobs applies Validate's rules.
func validateJobs(jobs []*jobFiles) []string {
	var problems []string
	bad := func(j *jobFiles, format string, a ...any) {
		if len(problems) < 50 {
			problems = append(problems, filepath.Base(j.path)+": "+fmt.Sprintf(format, a...))
		}
	}
	// Provenance of every (key, value), and which keys each WRITE wrote.
	origin := map[Pair]writer{}
	deleters := map[string]int{} // key -> number of jobs that DELETE it
	for ji, j := range jobs {
		seenDel := map[string]bool{}
		for ci, c := range j.cmds {
			for _, p := range c.Pairs {
				origin[p] = writer{ji, ci}
			}
			if c.Op == OpDelete {
				for _, k := range c.Keys {
					if !seenDel[k] {
						seenDel[k] = true
						deleters[k]++
					}
				}
			}
		}
	}
	groups := keyGroups(jobs)
	// checkState: a READ (partial), SHOW or backup (complete) view, value
	// "" for a missing key, must show each key group all at one value.
	checkState := func(j *jobFiles, what string, seen map[string]string, complete bool) {
		for k, v := range seen {
			if v != "" {
				if _, ok := origin[Pair{k, v}]; !ok {
					bad(j, "%s: (%s,%s) was never written", what, k, v)
				}
			}
			for _, g := range groups[k] {
				got, in := seen[g]
				if !in && !complete {
					continue
				}
				if got != v {
					bad(j, "%s: (%s,%s) beside (%s,%s), but every WRITE and DELETE covers both: a command seen half applied", what, k, show(v), g, show(got))
					return
				}
			}
		}
	}
	for _, j := range jobs {
		for n, b := range j.backups {
			pairs, parsed := ParseShow(string(b))
			if !parsed {
				bad(j, "backup %d: not SHOW output: %q", n+1, b)
				continue
			}
			seen := map[string]string{}
			for _, p := range pairs {
				seen[p.Key] = p.Value
			}
			checkState(j, fmt.Sprintf("backup %d", n+1), seen, true)
		}
	}
	for ji, j := range jobs {
		if j.expected != nil {
			if !bytes.Equal(j.out, j.expected) {
				bad(j, ".out differs from .out.expected:\n%s", Diff(string(j.expected), string(j.out)))
			}
			continue // exact: nothing weaker to check (its backups may show other jobs' keys)
		}
		last := map[string]writer{}         // this job's latest own write of a key (cmd -1: deleted by it)
		highest := map[string]map[int]int{} // key -> writer job -> highest command seen
		observe := func(k, v string) {
			if v == "" {
				if own, ok := last[k]; ok && own.cmd >= 0 && deleters[k] == 0 {
					bad(j, "READ of %s: missing after this job wrote it, and no job deletes it", k)
				}
				return
			}
			w, ok := origin[Pair{k, v}]
			if !ok {
				bad(j, "(%s,%s) was never written", k, v)
				return
			}
			if own, ok := last[k]; ok && w.job == ji && w.cmd != own.cmd {
				bad(j, "READ of %s: its own older value %s (command %d) instead of its latest write (command %d)", k, v, w.cmd+1, own.cmd+1)
			}
			hk := k
			if highest[hk] == nil {
				highest[hk] = map[int]int{}
			}
			if h, ok := highest[hk][w.job]; ok && w.cmd < h {
				bad(j, "READ of %s went back to %s (command %d of job %d) after seeing its command %d", k, v, w.cmd+1, w.job, h+1)
			}
			if w.cmd > highest[hk][w.job] {
				highest[hk][w.job] = w.cmd
			}
		}
		rest := string(j.out)
		nextLine := func() (string, bool) {
			line, r, ok := strings.Cut(rest, "\n")
			if !ok {
				return "", false
			}
			rest = r
			return line, true
		}
		ok := true
		for ci, c := range j.cmds {
			if !ok {
				break
			}
			switch c.Op {
			case OpWrite:
				for _, p := range c.Pairs {
					last[p.Key] = writer{ji, ci}
				}
			case OpRead:
				line, got := nextLine()
				pairs, parsed := ParseReadLine(line)
				if !got || !parsed || len(pairs) != len(c.Keys) || !sameKeys(pairs, c.Keys) {
					bad(j, "command %d (%s): expected its READ line, found %q", ci+1, c, line)
					ok = false
					break
				}
				seen := map[string]string{}
				for _, p := range pairs {
					v := p.Value
					if v == ReadMissing {
						v = ""
					}
					seen[p.Key] = v
					observe(p.Key, v)
				}
				checkState(j, fmt.Sprintf("command %d (READ)", ci+1), seen, false)
			case OpDelete:
				// A DELETE prints a line only for missing keys; a line of
				// KVSMISSING values is its (a READ never prints one).
				if line, _, ok := strings.Cut(rest, "\n"); ok {
					if pairs, parsed := ParseReadLine(line); parsed && allMissing(pairs) && subsequence(pairs, c.Keys) {
						rest = rest[len(line)+1:] // else it is a later DELETE's
					}
				}
				for _, k := range c.Keys {
					last[k] = writer{ji, -1}
				}
			case OpShow:
				// SHOW lines all start with '(' and are sorted, so two
				// SHOWs with nothing printed between them split where the
				// key order resets. Without a reset the split is unknown:
				// such SHOWs get only the provenance check.
				seen := map[string]string{}
				prev, reset := "", false
				for strings.HasPrefix(rest, "(") {
					line, r, _ := strings.Cut(rest, "\n")
					pp, parsed := ParseShow(line + "\n")
					if !parsed {
						bad(j, "command %d (SHOW): bad line %q", ci+1, line)
						ok = false
						break
					}
					if len(seen) > 0 && pp[0].Key <= prev {
						reset = true
						break
					}
					rest, prev = r, pp[0].Key
					seen[pp[0].Key] = pp[0].Value
				}
				if !reset && showFollows(j.cmds[ci+1:]) {
					for k, v := range seen {
						if _, known := origin[Pair{k, v}]; !known {
							bad(j, "command %d (SHOW): (%s,%s) was never written", ci+1, k, v)
						}
					}
					break
				}
				for k, v := range seen {
					observe(k, v)
				}
				checkState(j, fmt.Sprintf("command %d (SHOW)", ci+1), seen, true)
			}
		}
		if ok && rest != "" {
			bad(j, "unexplained output after the last command: %q", rest)
		}
	}
	return problems
}

// isGroup: a WRITE whose pairs all carry one value (the generator's shared
// groups); only those are checked for atomicity pair by pair.
func isGroup(pairs []Pair) bool {
	if len(pairs) < 2 {
		return false
	}
	for _, p := range pairs {
		if p.Value != pairs[0].Value {
			return false
		}
	}
	return true
}

func sameKeys(pairs []Pair, keys []string) bool {
	ks := append([]string(nil), keys...)
	sort.Strings(ks)
	for i, p := range pairs {
		if p.Key != ks[i] {
			return false
		}
	}
	return true
}

func show(v string) string {
	if v == "" {
		return "missing"
	}
	return v
}

// keyGroups finds the keys that every WRITE and DELETE touches together:
// key -> the other keys of its group. A key touched by commands of
// different key sets has no group.
func keyGroups(jobs []*jobFiles) map[string][]string {
	sets := map[string]string{} // key -> canonical key set, "" once it varies
	members := map[string][]string{}
	for _, j := range jobs {
		for _, c := range j.cmds {
			var ks []string
			switch c.Op {
			case OpWrite:
				for _, p := range c.Pairs {
					ks = append(ks, p.Key)
				}
				if !isGroup(c.Pairs) { // pairs of different values are no group
					for _, p := range c.Pairs {
						sets[p.Key] = ""
					}
					continue
				}
			case OpDelete:
				ks = append(ks, c.Keys...)
			default:
				continue
			}
			sort.Strings(ks)
			ks = dedupe(ks)
			id := strings.Join(ks, ",")
			for _, k := range ks {
				if old, ok := sets[k]; !ok {
					sets[k] = id
					members[id] = ks
				} else if old != id {
					sets[k] = ""
				}
			}
		}
	}
	out := map[string][]string{}
	for k, id := range sets {
		if id == "" || len(members[id]) < 2 {
			continue
		}
		ok := true
		for _, o := range members[id] {
			if sets[o] != id {
				ok = false
			}
		}
		if !ok {
			continue
		}
		for _, o := range members[id] {
			if o != k {
				out[k] = append(out[k], o)
			}
		}
	}
	return out
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func allMissing(pairs []Pair) bool {
	for _, p := range pairs {
		if p.Value != DeleteMissing {
			return false
		}
	}
	return len(pairs) > 0
}

// showFollows reports whether another SHOW comes before any command that
// surely prints a line starting with '[' (a READ).
func showFollows(cmds []Command) bool {
	for _, c := range cmds {
		switch c.Op {
		case OpShow:
			return true
		case OpRead:
			return false
		}
	}
	return false
}

// subsequence: pairs' keys appear in keys in this order (a DELETE lists
// its missing keys in command order).
func subsequence(pairs []Pair, keys []string) bool {
	i := 0
	for _, k := range keys {
		if i < len(pairs) && pairs[i].Key == k {
			i++
		}
	}
	return i == len(pairs)
}
