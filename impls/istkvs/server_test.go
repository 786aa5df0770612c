package istkvs

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/cases")

// runPart1 runs a part-1 server (backups, threads) on dir to completion.
func runPart1(t *testing.T, dir string, backups, threads int) (stdout, stderr string) {
	t.Helper()
	var so, se bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := serve(ctx, []string{dir, itoa(backups), itoa(threads)}, &so, &se)
	if err != nil {
		t.Fatalf("serve: %v (stderr %s)", err, se.String())
	}
	return so.String(), se.String()
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestGoldenCases runs every testdata/cases/*.job alone in a fresh
// directory with `1 1`, as the course's runner does, and compares every
// .out and .bck byte for byte.
func TestGoldenCases(t *testing.T) {
	jobs, _ := filepath.Glob("testdata/cases/*.job")
	if len(jobs) < 5 {
		t.Fatalf("only %d cases", len(jobs))
	}
	for _, job := range jobs {
		name := strings.TrimSuffix(filepath.Base(job), ".job")
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			data, err := os.ReadFile(job)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, filepath.Base(job)), data, 0o600)
			runPart1(t, dir, 1, 1)
			outs, _ := filepath.Glob(filepath.Join(dir, "*"))
			got := map[string][]byte{}
			for _, f := range outs {
				if strings.HasSuffix(f, ".out") || strings.HasSuffix(f, ".bck") {
					got[filepath.Base(f)], _ = os.ReadFile(f)
				}
			}
			if *update {
				for n, b := range got {
					os.WriteFile(filepath.Join("testdata/cases", n), b, 0o644)
				}
				return
			}
			want, _ := filepath.Glob(filepath.Join("testdata/cases", name+".out"))
			bcks, _ := filepath.Glob(filepath.Join("testdata/cases", name+"-*.bck"))
			want = append(want, bcks...)
			if len(want) != len(got) {
				t.Errorf("files: got %d (%v), want %v", len(got), keys(got), want)
			}
			for _, w := range want {
				wb, _ := os.ReadFile(w)
				if g, ok := got[filepath.Base(w)]; !ok || !bytes.Equal(g, wb) {
					t.Errorf("%s:\ngot  %q\nwant %q", filepath.Base(w), g, wb)
				}
			}
		})
	}
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestJobDiscovery(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) { os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600) }
	write("a.job", "WRITE [(k,v)]\nREAD [k]\n")
	write(".job", "READ [k]\n")
	write("b.txt", "READ [k]\n")
	write("c.job.bak", "READ [k]\n")
	os.Mkdir(filepath.Join(dir, "d.job"), 0o700)
	runPart1(t, dir, 1, 1)
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := ".job a.job a.out b.txt c.job.bak d.job"
	if strings.Join(names, " ") != want {
		t.Errorf("directory after run: %v, want %s", names, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.out")); string(b) != "[(k,v)]\n" {
		t.Errorf("a.out = %q", b)
	}
}

func TestStdoutAndStderr(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.job"), []byte("HELP\nWAIT 1\nbogus\nWRITE [(a,b)]\r\n"), 0o600)
	so, se := runPart1(t, dir, 1, 1)
	if so != HelpText+"Waiting...\n" {
		t.Errorf("stdout %q", so)
	}
	if se != InvalidMessage+"\n"+InvalidMessage+"\n" {
		t.Errorf("stderr %q", se)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "x.out")); len(b) != 0 {
		t.Errorf("x.out = %q, want empty", b)
	}
}

func TestBackupNames(t *testing.T) {
	for _, c := range []struct{ job, want string }{
		{"/d/9.job", "/d/9-1.bck"}, {"/d/a.b.job", "/d/a-1.bck"}, {"/d/x-y.job", "/d/x-y-1.bck"},
	} {
		if got := BackupPath(c.job, 1); got != c.want {
			t.Errorf("BackupPath(%s) = %s, want %s", c.job, got, c.want)
		}
	}
	if OutPath("/d/a.b.job") != "/d/a.b.out" {
		t.Error(OutPath("/d/a.b.job"))
	}
}
