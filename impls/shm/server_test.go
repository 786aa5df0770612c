package shm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
)

func TestServerFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		threads int
		size    int
		file    string
		err     string
	}{
		{args: nil, threads: 1, size: 1000, file: "shmem_file"},
		{args: []string{"-n", "2", "-s", "5"}, threads: 2, size: 5, file: "shmem_file"},
		{args: []string{"--n=3", "-s=7", "--file", "x", "-v"}, threads: 3, size: 7, file: "x"},
		{args: []string{"-n", "4", "--wait", "sleep:spin=1us,yield=2us,park=20us"}, threads: 4, size: 1000, file: "shmem_file"},
		{args: []string{"-h"}, err: "help"},
		{args: []string{"-x"}, err: "flag provided but not defined: -x"},
		{args: []string{"-n", "0"}, err: "number of threads"},
		{args: []string{"-n", "two"}, err: "invalid value"},
		{args: []string{"-s", "0"}, err: "table size"},
		{args: []string{"-s", "-3"}, err: "table size must be in [1, 16777216]"},
		{args: []string{"-s", "2000000000"}, err: "-s 2000000000: the initial table size must be in [1, 16777216]"},
		{args: []string{"-s", "99999999999999999999"}, err: "value out of range"},
		{args: []string{"-s", "16777216"}, threads: 1, size: 16777216, file: "shmem_file"},
		{args: []string{"-n", "1025"}, err: "-n 1025: the number of threads must be in [1, 1024]"},
		{args: []string{"stray"}, err: "unexpected argument"},
		{args: []string{"--wait", "bogus"}, err: "mode must be"},
	} {
		o, err := parseServerFlags(tc.args)
		switch {
		case tc.err == "help":
			if !errors.Is(err, errHelp) {
				t.Errorf("%q: err = %v, want errHelp", tc.args, err)
			}
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.args, err, tc.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case o.Threads != tc.threads || o.TableSize != tc.size || o.File != tc.file:
			t.Errorf("%q: got %+v", tc.args, o)
		}
	}
}

func TestServeUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := serve(context.Background(), []string{"-h"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(out.String(), "\n"); first != "Usage: server [-n num_threads] [-s init_table_size]" {
		t.Errorf("usage line = %q", first)
	}
	out.Reset()
	err := serve(context.Background(), []string{"-q"}, &out, &errOut)
	if err == nil || !strings.HasPrefix(errOut.String(), "Usage: server") {
		t.Errorf("bad flag: err %v, stderr %q", err, errOut.String())
	}
	err = serve(context.Background(), []string{"--file", filepath.Join(t.TempDir(), "none")}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: err = %v", err)
	}
	bad := filepath.Join(t.TempDir(), "short")
	write(t, bad, "too small")
	if err := serve(context.Background(), []string{"--file", bad}, &out, &errOut); !errors.Is(err, errSize) {
		t.Errorf("short file: err = %v, want errSize", err)
	}
}

// TestMalformedDescriptors writes bad descriptors straight into the ring:
// the server skips and counts them, writes nothing for them, and serves on.
func TestMalformedDescriptors(t *testing.T) {
	ip := startInProcess(t, 2, 2, ServerOptions{Threads: 2, Verbose: true})
	r := ip.r
	size := r.size()
	bad := []Desc{
		{Type: 2, Key: 1, ResOff: int32(ResOff(0, 2, 0))},           // unknown type
		{Type: 0xffffffff, Key: 1, ResOff: int32(ResOff(0, 2, 1))},  // unknown type
		{Type: TypePut, Key: 1, Value: 9, ResOff: 0},                // inside the ring
		{Type: TypePut, Key: 1, Value: 9, ResOff: OffPTail + 256},   // inside the ring
		{Type: TypeGet, Key: 1, ResOff: RingBytes - 1},              // just before the board
		{Type: TypeGet, Key: 1, ResOff: RingBytes + 3},              // misaligned
		{Type: TypeGet, Key: 1, ResOff: int32(size - DescSize + 4)}, // misaligned, overruns
		{Type: TypeGet, Key: 1, ResOff: int32(size)},                // past the end
		{Type: TypeGet, Key: 1, ResOff: -DescSize},                  // negative
		{Type: TypeGet, Key: 1, ResOff: 1 << 30},                    // far out
	}
	for _, d := range bad {
		if err := r.produce(context.Background(), &d, &ip.wait); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for load(r.word(offBad)) < uint32(len(bad)) {
		if time.Now().After(deadline) {
			t.Fatalf("bad count = %d, want %d", load(r.word(offBad)), len(bad))
		}
		time.Sleep(time.Millisecond)
	}
	if got := load(r.word(offBad)); got != uint32(len(bad)) {
		t.Errorf("bad count = %d, want %d", got, len(bad))
	}
	// Thread 0's slots were targeted by the bad descriptors; none was written.
	for s := range 2 {
		off := ResOff(0, 2, s)
		if !bytes.Equal(r.mem[off:off+DescSize], make([]byte, DescSize)) {
			t.Errorf("slot %d written: % x", off, r.mem[off:off+DescSize])
		}
	}
	// And the server still serves.
	checkModel(t, mustClient(t, ip, 1), "500", 50)
}

// FuzzHandle feeds arbitrary descriptors to the server's handler on a small
// region: it must never panic, and must write only a whole valid slot.
func FuzzHandle(f *testing.F) {
	f.Add(uint32(0), uint32(1), uint32(2), int32(RingBytes))
	f.Add(uint32(1), uint32(1), uint32(2), int32(RingBytes+DescSize))
	f.Add(uint32(7), uint32(1), uint32(2), int32(RingBytes))
	f.Add(uint32(0), uint32(1), uint32(2), int32(RingBytes+1))
	f.Add(uint32(1), uint32(1), uint32(2), int32(-1))
	f.Fuzz(func(t *testing.T, typ, k, v uint32, off int32) {
		r := &region{mem: make([]byte, RegionSize(2, 2))}
		s := &server{r: r, table: NewTable(4)}
		before := bytes.Clone(r.mem)
		ok := s.handle(Desc{Type: typ, Key: k, Value: v, ResOff: off})
		valid := typ <= TypeGet && ValidResOff(off, r.size())
		if ok != valid {
			t.Fatalf("handle = %v, valid = %v", ok, valid)
		}
		for i := range r.mem {
			if r.mem[i] == before[i] {
				continue
			}
			inSlot := ok && i >= int(off) && i < int(off)+DescSize
			if !inSlot && i != offBad && i != offBad+1 && i != offBad+2 && i != offBad+3 {
				t.Fatalf("byte %d written (res_off %d, ok %v)", i, off, ok)
			}
		}
	})
}

// TestStartShape: absurd -n/-w are refused before any file is created.
func TestStartShape(t *testing.T) {
	for _, tc := range []struct {
		n, w int
		ok   bool
	}{
		{1, 1, true}, {1, 1023, true}, {1024, 1023, true}, {1 << 20, 1, true},
		{0, 1, false}, {1, 0, false}, {1, 1024, false}, {1<<20 + 1, 1, false},
		{1 << 30, 1 << 9, false}, {-1, -1, false}, {1 << 62, 2, false},
	} {
		err := checkShape(tc.n, tc.w)
		if (err == nil) != tc.ok {
			t.Errorf("checkShape(%d, %d) = %v, want ok %v", tc.n, tc.w, err, tc.ok)
		}
	}
	dir := t.TempDir()
	_, err := Impl().Start(context.Background(), impls.StartEnv{Dir: dir, Clients: 1 << 30, Window: 512})
	if err == nil || !strings.Contains(err.Error(), "n*w <= 1048576") {
		t.Errorf("Start with -n 2^30 -w 512: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("Start left %d files", len(ents))
	}
}
