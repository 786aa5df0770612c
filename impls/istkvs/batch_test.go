package istkvs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvbench/kvbench/impls/istkvs"
	"github.com/kvbench/kvbench/workload"
)

func genDir(t *testing.T, cfg workload.IstJobsConfig) string {
	t.Helper()
	jobs, err := workload.GenIstJobs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := workload.WriteIstJobs(dir, jobs); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBatchPrivateKeys(t *testing.T) {
	dir := genDir(t, workload.IstJobsConfig{Jobs: 20, Commands: 200, BackupEvery: 50, Seed: 3})
	res, err := istkvs.RunBatch(context.Background(), dir, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if res.Jobs != 20 || res.Commands != 20*204 || res.Backups != 20*4 || len(res.Problems) != 0 {
		t.Fatalf("%d jobs, %d commands, %d backups, problems %v", res.Jobs, res.Commands, res.Backups, res.Problems)
	}
	// A wrong byte in one .out is caught, with a diff.
	out := filepath.Join(dir, "job0007.out")
	b, _ := os.ReadFile(out)
	i := strings.Index(string(b), "KVSERROR")
	if i < 0 {
		t.Fatal("no KVSERROR in job0007.out")
	}
	os.WriteFile(out, []byte(string(b[:i])+"KVSERRoR"+string(b[i+8:])), 0o600)
	res, _ = istkvs.Validate(dir)
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "job0007.job: .out differs") || !strings.Contains(res.Problems[0], "+[") {
		t.Errorf("problems %v", res.Problems)
	}
}

func TestBatchSharedKeys(t *testing.T) {
	dir := genDir(t, workload.IstJobsConfig{Jobs: 8, Commands: 400, Keys: 16, Shared: true, BackupEvery: 40, Seed: 5})
	res, err := istkvs.RunBatch(context.Background(), dir, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 0 || res.Backups != 8*10 {
		t.Fatalf("%d backups, problems %v", res.Backups, res.Problems)
	}
	// A value no WRITE wrote, in a backup, is caught.
	bck := istkvs.BackupPath(filepath.Join(dir, "job0002.job"), 3)
	b, _ := os.ReadFile(bck)
	os.WriteFile(bck, append(b, "(zz, forged)\n"...), 0o600)
	res, _ = istkvs.Validate(dir)
	if len(res.Problems) == 0 || !strings.Contains(strings.Join(res.Problems, "\n"), "(zz,forged) was never written") {
		t.Errorf("problems %v", res.Problems)
	}
}

// TestBatchCatchesTornRead: the server's test-only non-atomic READ is
// caught by Validate (a group of keys always written together read at two
// different values).
func TestBatchCatchesTornRead(t *testing.T) {
	for attempt := range 5 {
		dir := genDir(t, workload.IstJobsConfig{Jobs: 6, Commands: 2000, Keys: 8, Shared: true, WriteRatio: 0.5, Seed: int64(attempt)})
		res, err := istkvs.RunBatchWithBugs(context.Background(), dir, 6, 1, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range res.Problems {
			if strings.Contains(p, "half applied") {
				t.Logf("caught on attempt %d: %s", attempt+1, p)
				return
			}
		}
	}
	t.Fatal("the non-atomic READ was never caught")
}

func TestRunJobsReport(t *testing.T) {
	dir := genDir(t, workload.IstJobsConfig{Jobs: 5, Commands: 50, Seed: 2})
	var out strings.Builder
	res, err := istkvs.RunJobs(context.Background(), dir, []string{"--threads", "2", "--backups", "1"}, &out)
	if err != nil || res.Jobs != 5 || !strings.Contains(out.String(), "(2 threads, max 1 backups)") ||
		!strings.Contains(out.String(), "[COMMANDS], Throughput(commands/sec), ") || !strings.Contains(out.String(), "check: ok") {
		t.Fatalf("%v\n%s", err, out.String())
	}
	os.WriteFile(filepath.Join(dir, "job0001.out.expected"), []byte("[(x,y)]\n"), 0o600)
	out.Reset()
	if _, err := istkvs.RunJobs(context.Background(), dir, nil, &out); !errors.Is(err, istkvs.ErrBatchInvalid) ||
		!strings.Contains(out.String(), "job0001.job: .out differs") {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if _, err := istkvs.RunJobs(context.Background(), dir, []string{"--fifo", "/tmp/x"}, &out); err == nil {
		t.Error("--fifo accepted")
	}
}
