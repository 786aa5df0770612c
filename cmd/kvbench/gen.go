package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/kvbench/kvbench/results"
	"github.com/kvbench/kvbench/workload"
	"github.com/spf13/cobra"
)

// genOptions holds `kvbench gen`'s flags; newGenCmd builds one per command.
type genOptions struct {
	format    string
	workload  string
	skew      float64
	putRatio  float64
	seed      int64
	solution  string
	propFiles []string
	props     []string
	load      bool
	ist       workload.IstJobsConfig // --format istkvs
	out       string
}

// The --format values.
const (
	genFormatCS537 = "genworkload"
	genFormatYCSB  = "ycsb"
	genFormatMadKV = "madkv"
	genFormatIST   = "istkvs"
)

func newGenCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &genOptions{}
	cmd := &cobra.Command{
		Use:   "gen N",
		Short: "Generate a workload file: CS537 gen_workload, YCSB trace or MadKV lines",
		Long: `gen writes N operations to stdout, reproducibly (the same --seed gives the same
output; the default seed is 1).

--format genworkload (default) is the CS537 course's gen_workload.py: lines
"put <k> <v>" and "get <k>"; int(N*r) PUTs of the keys 1..#PUTs (each once, shuffled,
values uniform in [1, 4e9)), the rest GETs of those keys (uniform if -s <= 1, else
Zipf with exponent -s); --solution FILE writes the value a sequential execution
returns for each GET (0 if not yet put), one per line.

--format madkv writes N run-phase ops of a YCSB core workload as MadKV client
lines, mapped as the MadKV runner does: READ -> GET, INSERT -> PUT, UPDATE -> SWAP,
READ-MODIFY-WRITE -> SWAP, SCAN -> "SCAN start end" (end: the key n-1 records after
start in key order).

--format ycsb writes the same ops as a readable trace, one per line:
"READ usertable <key>", "UPDATE usertable <key> <value>", "INSERT ...",
"SCAN usertable <start> <end>", "READ-MODIFY-WRITE usertable <key> <value>".

For both YCSB formats, --workload picks the core workload (default a, or none when
-P is given), -P files and -p key=value refine it, N sets operationcount, and
--load first writes the load phase (recordcount inserts as PUT lines).
A record's fields become one value of fieldcount*fieldlength alphanumeric bytes.

--format istkvs writes N IST-KVS job files into --out DIR (job0000.job, ...):
--commands each, WRITE/READ (-r is the WRITE fraction) and DELETE of 1-4 keys.
Each job has --keys keys of its own, so its output is deterministic and written
as <job>.out.expected; with --shared all jobs share --keys keys, written, read
and deleted in groups of 4 under one value, plus SHOW, so outputs depend on the
interleaving and are checked against a model instead.`,
		Example: `  kvbench gen 1000 > workload.txt
  kvbench gen 100000 -s 1.5 -r 0.1 --seed 7 --solution solution.txt > workload.txt
  kvbench gen 10000 --format madkv --workload e --load > madkv-e.txt
  kvbench gen 20 --format ycsb --workload a -p fieldlength=8 -p fieldcount=1
  kvbench gen 500 --format madkv -P myworkload -p requestdistribution=uniform
  kvbench gen 200 --format istkvs --out ./jobs --commands 1000 --backup-every 100`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args[0], stdout)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.format, "format", genFormatCS537, "output format: genworkload, ycsb or madkv")
	fs.StringVar(&o.workload, "workload", "", "YCSB core workload a..f for --format ycsb|madkv (default a unless -P is given)")
	fs.Float64VarP(&o.skew, "skew", "s", 0, "genworkload: key skew; <= 1 uniform, > 1 Zipf exponent")
	fs.Float64VarP(&o.putRatio, "put-ratio", "r", 0.5, "genworkload: fraction of PUTs, in [0, 1]")
	fs.Int64Var(&o.seed, "seed", 1, "random seed")
	fs.StringVar(&o.solution, "solution", "", "genworkload: also write the expected GET results to this file")
	fs.StringArrayVarP(&o.propFiles, "property-file", "P", nil, "YCSB property file (repeatable; later files override)")
	fs.StringArrayVarP(&o.props, "prop", "p", nil, "YCSB property key=value (repeatable; overrides -P)")
	fs.BoolVar(&o.load, "load", false, "ycsb|madkv: write the load phase (recordcount inserts) first")
	fs.StringVar(&o.out, "out", "", "istkvs: the directory to write the job files into")
	fs.IntVar(&o.ist.Commands, "commands", 100, "istkvs: commands per job")
	fs.IntVar(&o.ist.Keys, "keys", 100, "istkvs: keys per job (with --shared: in all)")
	fs.BoolVar(&o.ist.Shared, "shared", false, "istkvs: all jobs share their keys")
	fs.IntVar(&o.ist.BackupEvery, "backup-every", 0, "istkvs: a BACKUP after every n commands (0: none)")
	return cmd
}

func (o *genOptions) run(cmd *cobra.Command, nArg string, stdout io.Writer) error {
	n, err := strconv.Atoi(nArg)
	if err != nil || n <= 0 {
		return fmt.Errorf("gen: N must be a positive integer, not %q", nArg)
	}
	fs := cmd.Flags()
	onlyFor := func(format string, flags ...string) error {
		for _, f := range flags {
			if fs.Changed(f) {
				return fmt.Errorf("gen: --%s applies only to --format %s", f, format)
			}
		}
		return nil
	}
	switch o.format {
	case genFormatCS537:
		if err := onlyFor("ycsb|madkv", "workload", "property-file", "prop", "load"); err != nil {
			return err
		}
		if err := onlyFor(genFormatIST, "out", "commands", "keys", "shared", "backup-every"); err != nil {
			return err
		}
		return o.genCS537(n, stdout)
	case genFormatYCSB, genFormatMadKV:
		if err := onlyFor(genFormatCS537, "skew", "put-ratio", "solution"); err != nil {
			return err
		}
		if err := onlyFor(genFormatIST, "out", "commands", "keys", "shared", "backup-every"); err != nil {
			return err
		}
		return o.genYCSB(n, stdout)
	case genFormatIST:
		if err := onlyFor("genworkload|ycsb|madkv", "workload", "property-file", "prop", "load", "skew", "solution"); err != nil {
			return err
		}
		return o.genIST(n, stdout)
	default:
		return fmt.Errorf("gen: unknown --format %q (want genworkload, ycsb, madkv or istkvs)", o.format)
	}
}

func (o *genOptions) genCS537(n int, stdout io.Writer) error {
	if !(o.putRatio >= 0 && o.putRatio <= 1) {
		return fmt.Errorf("gen: -r (put ratio) must be in [0, 1], not %v", o.putRatio)
	}
	if !(o.skew >= 0) || math.IsInf(o.skew, 0) {
		return fmt.Errorf("gen: -s (skew) must be a non-negative number, not %v", o.skew)
	}
	ops, solution, err := workload.GenCS537(n, o.skew, o.putRatio, o.seed)
	if err != nil {
		return err
	}
	if err := workload.WriteCS537(stdout, ops); err != nil {
		return err
	}
	if o.solution == "" {
		return nil
	}
	var buf bytes.Buffer
	if err := workload.WriteSolution(&buf, solution); err != nil {
		return err
	}
	return results.WriteFileAtomic(o.solution, buf.Bytes())
}

// genIST writes n IST-KVS job files into --out.
func (o *genOptions) genIST(n int, stdout io.Writer) error {
	if o.out == "" {
		return fmt.Errorf("gen: --format istkvs needs --out DIR")
	}
	cfg := o.ist
	cfg.Jobs, cfg.WriteRatio, cfg.Seed = n, o.putRatio, o.seed
	jobs, err := workload.GenIstJobs(cfg)
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	if err := workload.WriteIstJobs(o.out, jobs); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %d jobs of %d commands to %s\n", n, cfg.Commands, o.out)
	return nil
}

// genChunk is how many ops genYCSB holds before writing them out.
const genChunk = 4096

func (o *genOptions) genYCSB(n int, stdout io.Writer) error {
	props, err := o.properties(n)
	if err != nil {
		return err
	}
	y, err := workload.NewYCSB(props)
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	w := bufio.NewWriter(stdout)
	write := func(ops []workload.Op) error {
		if o.format == genFormatYCSB {
			return workload.WriteYCSBTrace(w, ops)
		}
		for i := range ops {
			ops[i] = workload.AsMadKV(ops[i])
		}
		return workload.WriteMadKV(w, ops)
	}
	ops := make([]workload.Op, 0, genChunk)
	flush := func() error {
		err := write(ops)
		ops = ops[:0]
		return err
	}
	if o.load {
		s := y.LoadStream(0, 1, o.seed)
		var op workload.Op
		for s.Next(&op) {
			ops = append(ops, op)
			if len(ops) == genChunk {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	s := y.RunStream(0, o.seed)
	acker, _ := s.(workload.Acker)
	for range n {
		var op workload.Op
		if !s.Next(&op) {
			break
		}
		if acker != nil {
			acker.Ack(&op) // a sequential trace: every op completes before the next
		}
		ops = append(ops, op)
		if len(ops) == genChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return w.Flush()
}

// properties assembles the YCSB properties as `kvbench run` does: a core
// workload (unless only -P files are given), then -P files in order, then -p
// pairs; operationcount is N.
func (o *genOptions) properties(n int) (workload.Properties, error) {
	props := workload.Properties{}
	if o.workload != "" || len(o.propFiles) == 0 {
		letter := o.workload
		if letter == "" {
			letter = "a"
		}
		core, err := workload.Core(letter)
		if err != nil {
			return nil, fmt.Errorf("gen: --workload: %w", err)
		}
		props = core
	}
	for _, path := range o.propFiles {
		p, err := workload.LoadPropertyFile(path)
		if err != nil {
			return nil, fmt.Errorf("gen: -P: %w", err)
		}
		props.Merge(p)
	}
	for _, kv := range o.props {
		if err := props.SetPair(kv); err != nil {
			return nil, fmt.Errorf("gen: -p: %w", err)
		}
	}
	if v, ok := props["operationcount"]; ok && strings.TrimSpace(v) != strconv.Itoa(n) && hasPair(o.props, "operationcount") {
		return nil, fmt.Errorf("gen: N (%d) is the operation count; drop -p operationcount=%s", n, v)
	}
	props["operationcount"] = strconv.Itoa(n)
	return props, nil
}

func hasPair(pairs []string, key string) bool {
	for _, kv := range pairs {
		if k, _, _ := strings.Cut(kv, "="); strings.TrimSpace(k) == key {
			return true
		}
	}
	return false
}
