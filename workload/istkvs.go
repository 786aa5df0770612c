package workload

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/kvbench/kvbench/impls/istkvs"
)

// IstJobsConfig configures GenIstJobs, a directory of IST-KVS job files.
type IstJobsConfig struct {
	Jobs     int // job files
	Commands int // commands per job (default 100)
	// Keys is how many keys each job uses (default 100). Without Shared
	// they are the job's own (j<job>k<i>), so every .out is deterministic
	// and written beside the job as <job>.out.expected. With Shared every
	// job draws from the same keys, written in groups of GroupSize under
	// one value so a torn READ or backup shows, and SHOW joins the mix.
	Keys   int
	Shared bool
	// WriteRatio is the fraction of WRITEs among WRITE, READ (default 0.5);
	// DELETE takes a further tenth of commands.
	WriteRatio float64
	// BackupEvery puts a BACKUP after every n commands (0: none).
	BackupEvery int
	Seed        int64
}

// IstJob is one generated job file.
type IstJob struct {
	Name     string // base name, ending in .job
	Commands []istkvs.Command
	// Expected is the .out the job must produce, nil when it depends on
	// how concurrent jobs interleave (Shared).
	Expected []byte
}

// IstGroupSize is how many keys a Shared WRITE, READ or DELETE covers.
const IstGroupSize = 4

// GenIstJobs generates the job files of cfg; job i draws from Seed+i.
// Every written value is unique (v<job>x<command>), so a checker can tell
// which WRITE a read saw.
func GenIstJobs(cfg IstJobsConfig) ([]IstJob, error) {
	if cfg.Commands == 0 {
		cfg.Commands = 100
	}
	if cfg.Keys == 0 {
		cfg.Keys = 100
	}
	if cfg.WriteRatio == 0 {
		cfg.WriteRatio = 0.5
	}
	switch {
	case cfg.Jobs < 1 || cfg.Commands < 1 || cfg.Keys < 1 || cfg.BackupEvery < 0:
		return nil, errors.New("istkvs jobs: jobs, commands and keys must be positive, backup interval not negative")
	case !(cfg.WriteRatio >= 0 && cfg.WriteRatio <= 1):
		return nil, fmt.Errorf("istkvs jobs: write ratio %v not in [0, 1]", cfg.WriteRatio)
	case cfg.Shared && cfg.Keys < IstGroupSize:
		return nil, fmt.Errorf("istkvs jobs: --shared needs at least %d keys", IstGroupSize)
	}
	jobs := make([]IstJob, cfg.Jobs)
	for j := range jobs {
		r := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(j)))
		var cmds []istkvs.Command
		for c := range cfg.Commands {
			cmds = append(cmds, istCommand(r, cfg, j, c))
			if cfg.BackupEvery > 0 && (c+1)%cfg.BackupEvery == 0 {
				cmds = append(cmds, istkvs.Command{Op: istkvs.OpBackup})
			}
		}
		jobs[j] = IstJob{Name: fmt.Sprintf("job%04d.job", j), Commands: cmds}
		if !cfg.Shared {
			jobs[j].Expected = istkvs.ExpectedOut(cmds)
		}
	}
	return jobs, nil
}

func istCommand(r *rand.Rand, cfg IstJobsConfig, job, cmd int) istkvs.Command {
	val := fmt.Sprintf("v%dx%d", job, cmd)
	keys := func() []string {
		if cfg.Shared {
			g := r.IntN(cfg.Keys / IstGroupSize)
			ks := make([]string, IstGroupSize)
			for i := range ks {
				ks[i] = fmt.Sprintf("k%d", g*IstGroupSize+i)
			}
			return ks
		}
		ks := make([]string, 1+r.IntN(4))
		for i := range ks {
			ks[i] = fmt.Sprintf("j%dk%d", job, r.IntN(cfg.Keys))
		}
		return ks
	}
	x := r.Float64()
	switch {
	case cfg.Shared && x < 0.05:
		return istkvs.Command{Op: istkvs.OpShow}
	case x < 0.1:
		return istkvs.Command{Op: istkvs.OpDelete, Keys: keys()}
	case r.Float64() < cfg.WriteRatio:
		ks := keys()
		pairs := make([]istkvs.Pair, len(ks))
		for i, k := range ks {
			pairs[i] = istkvs.Pair{Key: k, Value: val}
		}
		return istkvs.Command{Op: istkvs.OpWrite, Pairs: pairs}
	default:
		return istkvs.Command{Op: istkvs.OpRead, Keys: keys()}
	}
}

// IstJobText renders a job's commands, one a line.
func IstJobText(cmds []istkvs.Command) []byte {
	var b strings.Builder
	for _, c := range cmds {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// ExpectedSuffix is appended to a job's .out name for its expected output,
// so the server never overwrites it and a checker finds it beside the .out.
const ExpectedSuffix = ".expected"

// WriteIstJobs writes every job into dir (created if needed), and the
// expected .out of each deterministic job as <name>.out.expected.
func WriteIstJobs(dir string, jobs []IstJob) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, j := range jobs {
		p := filepath.Join(dir, j.Name)
		if err := os.WriteFile(p, IstJobText(j.Commands), 0o644); err != nil {
			return err
		}
		if j.Expected != nil {
			if err := os.WriteFile(istkvs.OutPath(p)+ExpectedSuffix, j.Expected, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
