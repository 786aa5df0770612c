package shm

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/proc"
)

// TestLayoutGolden pins the byte layout of specs/shm.md.
func TestLayoutGolden(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want int
	}{
		{"sizeof(buffer_descriptor)", DescSize, 20},
		{"sizeof(ring)", RingBytes, 20736},
		{"p_tail", OffPTail, 0},
		{"p_head", OffPHead, 64},
		{"c_tail", OffCTail, 128},
		{"c_head", OffCHead, 192},
		{"buffer", RingBufOff, 256},
		{"req_type", FieldType, 0},
		{"k", FieldKey, 4},
		{"v", FieldValue, 8},
		{"res_off", FieldResOff, 12},
		{"ready", FieldReady, 16},
		{"RING_SIZE", RingSize, 1024},
		{"region n=3 w=2", RegionSize(3, 2), 20736 + 120},
		{"res_off tid=0 s=0", ResOff(0, 2, 0), 20736},
		{"res_off tid=1 s=0 w=2", ResOff(1, 2, 0), 20776},
		{"res_off tid=1 s=3 w=2", ResOff(1, 2, 3), 20796},
		{"res_off tid=2 s=9 w=4", ResOff(2, 4, 9), 20736 + 2*4*20 + 1*20},
		{"buffer[1023]", bufOff(1023), 256 + 1023*20},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	// The extension words sit in padding, never on a protocol field.
	for _, off := range []int{offPTailWaiters, offEpoch, offDrained, offBad, offCTailWaiters, offClientWake} {
		line := off / 64 * 64
		if off%64 == 0 || off+4 > line+64 || off >= RingBufOff || off%4 != 0 {
			t.Errorf("extension word at %d is not in an index line's padding", off)
		}
	}
	for _, tc := range []struct {
		off  int32
		size int
		ok   bool
	}{
		{20736, 20756, true}, {20756, 20776, true}, {20756, 20775, false},
		{20735, 20776, false}, {20737, 20776, false}, {0, 20776, false},
		{-20, 20776, false}, {256, 20776, false}, {20776, 20776, false},
	} {
		if got := ValidResOff(tc.off, tc.size); got != tc.ok {
			t.Errorf("ValidResOff(%d, %d) = %v", tc.off, tc.size, got)
		}
	}
}

// cc compiles testdata/NAME.c into dir, or skips the test without gcc.
func cc(t *testing.T, name string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found")
	}
	src, err := filepath.Abs(filepath.Join("testdata", name+".c"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command(gcc, "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", out, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", name, err, b)
	}
	return out
}

// TestCLayout compares the C compiler's view of the course's structs with
// ours.
func TestCLayout(t *testing.T) {
	bin := cc(t, "client")
	out, err := exec.Command(bin, "-L").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("sizeof_desc=%d sizeof_ring=%d p_tail=%d p_head=%d c_tail=%d c_head=%d buffer=%d "+
		"req_type=%d k=%d v=%d res_off=%d ready=%d\n", DescSize, RingBytes, OffPTail, OffPHead, OffCTail,
		OffCHead, RingBufOff, FieldType, FieldKey, FieldValue, FieldResOff, FieldReady)
	if string(out) != want {
		t.Errorf("C layout:\n%s\nGo layout:\n%s", out, want)
	}
}

// genWorkload writes a course workload of n requests for the given number
// of client threads: thread blocks are contiguous and use disjoint keys, so
// with one window per thread the sequential results are the only correct
// ones. It returns the workload and the expected GET results.
func genWorkload(n, threads int, seed uint64) (workload, solution string) {
	rng := rand.New(rand.NewPCG(seed, 2))
	var wl, sol strings.Builder
	per := n / threads
	for th := range threads {
		cnt := per
		if th == threads-1 {
			cnt = n - per*(threads-1)
		}
		model := map[uint32]uint32{}
		base := uint32(th*1_000_000 + 1)
		next := base
		for range cnt {
			if rng.IntN(2) == 0 {
				v := uint32(1 + rng.Int64N(4e9-1))
				model[next] = v
				fmt.Fprintf(&wl, "put %d %d\n", next, v)
				next++
				continue
			}
			k := base + uint32(rng.IntN(int(next-base)+3))
			fmt.Fprintf(&wl, "get %d\n", k)
			fmt.Fprintf(&sol, "%d\n", model[k])
		}
		wl.WriteString("this line does not parse\n")
	}
	return wl.String(), sol.String()
}

// TestCClientGoServer runs the course-style C client, which creates the
// file and forks our server (`serve shm`), and checks every GET.
func TestCClientGoServer(t *testing.T) {
	client := cc(t, "client")
	exe := serverExe(t)
	for _, tc := range []struct{ n, w, srv int }{{1, 1, 1}, {4, 1, 2}, {3, 8, 2}} {
		t.Run(fmt.Sprintf("n=%d/w=%d/srv=%d", tc.n, tc.w, tc.srv), func(t *testing.T) {
			dir := t.TempDir()
			wl, sol := genWorkload(3000, tc.n, uint64(tc.n*100+tc.w))
			write(t, filepath.Join(dir, "workload.txt"), wl)
			write(t, filepath.Join(dir, "solution.txt"), sol)
			args := []string{"-n", strconv.Itoa(tc.n), "-w", strconv.Itoa(tc.w)}
			if tc.w == 1 {
				args = append(args, "-c") // exact results need one window
			}
			args = append(args, "--", exe, "serve", "shm", "-n", strconv.Itoa(tc.srv), "-s", "4", "-v")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, client, args...)
			cmd.Dir = dir
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("C client: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), "Total time: ") || !strings.Contains(stdout.String(), "Throughput: ") {
				t.Errorf("C client output:\n%s", &stdout)
			}
			if !strings.Contains(stderr.String(), "skipped 0 malformed") {
				t.Errorf("server summary missing or wrong:\n%s", &stderr)
			}
		})
	}
}

// TestGoClientCServer drives the C server with our client over a file our
// cluster created.
func TestGoClientCServer(t *testing.T) {
	server := cc(t, "server")
	for _, w := range []int{1, 4} {
		t.Run(fmt.Sprintf("w=%d", w), func(t *testing.T) {
			const n = 3
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			c, err := newCluster(path, n, w, defaultWait())
			if err != nil {
				t.Fatal(err)
			}
			p, err := proc.Start(context.Background(), proc.Spec{Name: "c-server", Path: server,
				Args: []string{"-n", "2", "-s", "7", "-F", path}, Dir: dir, Ready: proc.FileReady(path + ".ready")})
			if err != nil {
				t.Fatal(err)
			}
			c.proc = p
			defer c.Close()
			var wg sync.WaitGroup
			for id := range n {
				cl := mustClient(t, c, id)
				for g := range w {
					wg.Add(1)
					go func() {
						defer wg.Done()
						checkModel(t, cl, strconv.Itoa((id*w+g)*1000000), 500)
					}()
				}
			}
			wg.Wait()
			cl := mustClient(t, c, 0)
			if res, err := cl.Do(context.Background(), get("999999999")); err != nil || res.Found != impls.Absent {
				t.Errorf("get of a missing key = %+v, %v; want Absent", res, err)
			}
		})
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
