package shm

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/proc"
)

// copyExe copies the executable src to dir/name, mode 0755.
func copyExe(t *testing.T, src, dir, name string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// openShm opens shm:FILE with one --serve command for n clients of w slots.
func openShm(t *testing.T, file, cmd string, n, w int, log io.Writer) (impls.Cluster, error) {
	t.Helper()
	im, c, err := openTargetTimeout(context.Background(), impls.TargetEnv{URL: "shm:" + file, Rest: file,
		Serve: []impls.ServeCommand{{Name: "server", Command: cmd}}, Clients: n, Window: w, Log: log}, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if im.Name != "shm" || im.Claims != nil || len(im.Kinds) != 2 {
		t.Errorf("target impl = %+v", im)
	}
	return c, nil
}

// TestTargetCServer drives the course-style C server (which writes only v
// and ready into a status slot and opens shmem_file in its working
// directory) through shm:FILE, as `kvbench run --target shm:./shmem_file
// --serve './server -n 2 -s 1000' -n 3 -w 2` does: every GET of 3 clients
// with 2 requests in flight each is checked against a model, across a
// crash and restart of the server node.
func TestTargetCServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	server := cc(t, "server")
	dir := t.TempDir()
	copyExe(t, server, dir, "server")
	// A stale region from an earlier run is replaced.
	write(t, filepath.Join(dir, FileName), strings.Repeat("\x00", RegionSize(1, 1)))
	const n, w = 3, 2
	log := &syncBuffer{}
	c, err := openShm(t, filepath.Join(dir, FileName), "./server -n 2 -s 1000", n, w, log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	defer c.Close()
	st, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil || st.Size() != int64(RegionSize(n, w)+DescSize) {
		t.Fatalf("shared file: %v, %v; want %d bytes (n*w slots and the probe's)", st, err, RegionSize(n, w)+DescSize)
	}
	nodes := c.Nodes()
	if len(nodes) != 1 || nodes[0].Role != "server" || nodes[0].Name != "server" || nodes[0].Proc == nil {
		t.Fatalf("nodes = %+v", nodes)
	}
	validate := func(base int) {
		var wg sync.WaitGroup
		for id := range n {
			cl := mustClient(t, c, id)
			for g := range w {
				wg.Add(1)
				go func() {
					defer wg.Done()
					checkModelCtx(t, cl, (base+id*w+g)*1000000, 500)
				}()
			}
		}
		wg.Wait()
	}
	validate(1)
	if _, err := c.NewClient(context.Background(), n); err == nil {
		t.Error("client id n (the probe's slot) was accepted")
	}
	p := nodes[0].Proc
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := p.Restart(context.Background()); err != nil {
		t.Fatalf("restart: %v\n%s", err, log)
	}
	validate(10)
	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the shared file is still there after Close: %v", err)
	}
	if p.Running() {
		t.Error("the server still runs after Close")
	}
}

// checkModelCtx is checkModel with every request bounded in time, on keys
// base+0..99.
func checkModelCtx(t *testing.T, cl impls.Client, base, ops int) {
	t.Helper()
	model := map[string]string{}
	for i := range ops {
		k := strconv.Itoa(base + (i*7919)%100)
		if i%3 == 0 {
			v := strconv.Itoa(1 + i)
			if _, err := cl.Do(shortCtx(10*time.Second), put(k, v)); err != nil {
				t.Errorf("put %s: %v", k, err)
				return
			}
			model[k] = v
			continue
		}
		res, err := cl.Do(shortCtx(10*time.Second), get(k))
		if err != nil {
			t.Errorf("get %s: %v", k, err)
			return
		}
		want, ok := model[k]
		if ok && (res.Found != impls.Present || res.Value != want) || !ok && res.Found != impls.Absent {
			t.Errorf("get %s = %+v, want %q (present %v)", k, res, want, ok)
			return
		}
	}
}

// TestTargetGoServer: `kvbench serve shm` is a course-style server too: it
// finds shmem_file in its working directory.
func TestTargetGoServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	log := &syncBuffer{}
	c, err := openShm(t, filepath.Join(dir, FileName), serverExe(t)+" serve shm -n 2 -s 10", 2, 4, log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	defer c.Close()
	checkModelCtx(t, mustClient(t, c, 1), 7000, 300)
}

// TestTargetReadiness: a server that does not serve FILE never becomes
// ready, one that exits is reported, and nothing is left behind.
func TestTargetReadiness(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	server := cc(t, "server")
	dir := t.TempDir()
	// Another region, served by its own running server.
	other := filepath.Join(dir, "other")
	if err := createFile(other, 1, 1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cmd, want string
	}{
		{"serves another file", server + " -F " + other, "no answer yet to the probe GET"},
		{"exits at once", "exit 3", proc.ErrExited.Error()},
		{"no such program", "./nonexistent-server", proc.ErrExited.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := t.TempDir()
			file := filepath.Join(sub, FileName)
			_, _, err := openTargetTimeout(context.Background(), impls.TargetEnv{URL: "shm:" + file, Rest: file,
				Serve: []impls.ServeCommand{{Name: "server", Command: tc.cmd}}, Clients: 1, Window: 1}, time.Second)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s left behind: %v", file, err)
			}
		})
	}
}

// TestTargetArgs: what shm:FILE refuses before starting anything.
func TestTargetArgs(t *testing.T) {
	dir := t.TempDir()
	precious := filepath.Join(dir, "precious")
	write(t, precious, "not a region")
	serve := []impls.ServeCommand{{Name: "server", Command: "true"}}
	for _, tc := range []struct {
		name string
		env  impls.TargetEnv
		want string
	}{
		{"no file", impls.TargetEnv{URL: "shm:", Serve: serve, Clients: 1}, "want shm:FILE"},
		{"no --serve", impls.TargetEnv{URL: "shm:x", Rest: filepath.Join(dir, "x"), Clients: 1}, errNoServe.Error()},
		{"two --serve", impls.TargetEnv{URL: "shm:x", Rest: filepath.Join(dir, "x"), Serve: append(serve, serve...), Clients: 1}, errNoServe.Error()},
		{"huge -n", impls.TargetEnv{URL: "shm:x", Rest: filepath.Join(dir, "x"), Serve: serve, Clients: 1 << 30, Window: 2}, "n*w <= 1048576"},
		{"-w past the ring", impls.TargetEnv{URL: "shm:x", Rest: filepath.Join(dir, "x"), Serve: serve, Clients: 1, Window: RingSize}, "w <= 1023"},
		{"not a region", impls.TargetEnv{URL: "shm:" + precious, Rest: precious, Serve: serve, Clients: 1}, errNotRegion.Error()},
		{"a directory", impls.TargetEnv{URL: "shm:" + dir, Rest: dir, Serve: serve, Clients: 1}, errNotRegion.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Target().Open(context.Background(), tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if b, err := os.ReadFile(precious); err != nil || string(b) != "not a region" {
		t.Errorf("precious file touched: %q, %v", b, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("files left in %s: %d", dir, len(ents))
	}
}

// TestTargetExample pins the example `kvbench targets` shows.
func TestTargetExample(t *testing.T) {
	if got := Target().Example; got != "shm:./shmem_file --serve './server -n 2 -s 1000'" {
		t.Errorf("Example = %q", got)
	}
}
