package report

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kvbench/kvbench/results"
)

var updateFixture = flag.Bool("update-fixture", false, "regenerate testdata/runs")

// TestWriteFixture regenerates the fixture run directories under
// testdata/runs when run with -update-fixture:
//
//	go test ./report -run TestWriteFixture -update-fixture && go test ./report -update
func TestWriteFixture(t *testing.T) {
	if !*updateFixture {
		t.Skip("run with -update-fixture to regenerate testdata/runs")
	}
	dir := filepath.Join("testdata", "runs")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := writeFixture(dir); err != nil {
		t.Fatal(err)
	}
}

// fixtureRun describes one generated run.
type fixtureRun struct {
	command, store, workload string
	clients, rep             int
	baseUS                   float64 // median latency at one client
	fault, verdict, detail   string
	html                     bool
}

var fixtureRuns = []fixtureRun{
	{command: "run", store: "memkv", workload: "a", clients: 1, rep: 1, baseUS: 60},
	{command: "run", store: "memkv", workload: "a", clients: 1, rep: 2, baseUS: 64},
	{command: "run", store: "memkv", workload: "a", clients: 4, rep: 1, baseUS: 60},
	{command: "run", store: "memkv", workload: "c", clients: 1, rep: 1, baseUS: 45},
	{command: "run", store: "memkv", workload: "c", clients: 4, rep: 1, baseUS: 45},
	{command: "run", store: "shm", workload: "a", clients: 1, rep: 1, baseUS: 8},
	{command: "run", store: "shm", workload: "a", clients: 4, rep: 1, baseUS: 8},
	{command: "run", store: "shm", workload: "c", clients: 1, rep: 1, baseUS: 6},
	{command: "run", store: "shm", workload: "c", clients: 4, rep: 1, baseUS: 6},
	{command: "fuzz", store: "memkv", workload: "fuzz", clients: 3, rep: 1, baseUS: 70, fault: "none", verdict: results.VerdictOK},
	{command: "fuzz", store: "memkv", workload: "fuzz", clients: 3, rep: 1, baseUS: 70, fault: "crash", verdict: results.VerdictViolation,
		detail: "key 3: read returned a value no write produced", html: true},
	{command: "fuzz", store: "shm", workload: "fuzz", clients: 3, rep: 1, baseUS: 9, fault: "none", verdict: results.VerdictOK},
	{command: "fuzz", store: "shm", workload: "fuzz", clients: 3, rep: 1, baseUS: 9, fault: "crash", verdict: results.VerdictExpected,
		detail: "shm keeps data only in memory: a crash loses acknowledged writes", html: true},
	{command: "fuzz", store: "shm", workload: "fuzz", clients: 3, rep: 1, baseUS: 9, fault: "pause", verdict: results.VerdictUnknown,
		detail: "checker timed out after 10s"},
}

func writeFixture(base string) error {
	epoch := time.Date(2026, 11, 21, 13, 5, 0, 0, time.UTC)
	for i, fr := range fixtureRuns {
		start := epoch.Add(time.Duration(i) * time.Minute)
		dir, err := results.NewDir(base, fr.command, fr.store, start)
		if err != nil {
			return err
		}
		seed := int64(fr.rep)
		rng := rand.New(rand.NewPCG(uint64(i), 42))
		tags := map[string]string{"scenario": "fixture", "store": fr.store, "workload": fr.workload,
			"clients": strconv.Itoa(fr.clients), "rep": strconv.Itoa(fr.rep), "sweep": "1"}
		r := &results.Run{
			ID: filepath.Base(dir), Command: fr.command, Impl: fr.store, Workload: fr.workload, Tags: tags,
			Seed: seed, Clients: fr.clients, Window: 1, Start: start, Seconds: 2,
			Versions: results.Versions{Kvbench: "v0.1.0-fixture", Go: "go1.26.8"},
			Machine: results.Machine{Hostname: "bench-1", OS: "linux", Arch: "amd64", CPUs: 2,
				MemBytes: 8 << 30, CPUModel: "Example CPU @ 2.00GHz"},
		}
		r.Config = &results.Config{Command: fr.command, Impl: fr.store, Workload: fr.workload, Clients: fr.clients,
			Window: 1, Duration: results.Duration(2 * time.Second), RecordCount: 1000, ValueSize: 1000,
			KeyDistribution: "zipfian", Seed: seed, Kvbench: "v0.1.0-fixture"}
		r.Load = &results.Load{Cores: 2, Threads: fr.clients + 1, Oversubscribed: fr.clients+1 > 2,
			LoadAvgStart: [3]float64{0.2, 0.1, 0.1}, LoadAvgEnd: [3]float64{0.9, 0.3, 0.1}, BusyPercent: 60}
		ops := []string{"READ", "UPDATE"}
		if fr.workload == "c" {
			ops = []string{"READ"}
		}
		if fr.command == "fuzz" {
			r.Window = 0
			r.Config.Window, r.Config.Duration, r.Config.Ops = 1, 0, 200
			r.Config.RecordCount, r.Config.ValueSize, r.Config.KeyDistribution = 5, 16, "conflict"
			if fr.fault != "none" {
				r.Config.Faults = &results.FaultConfig{Kinds: []string{fr.fault},
					Interval: results.Duration(2 * time.Second), Duration: results.Duration(500 * time.Millisecond)}
			}
			tags["fault"] = fr.fault
			tags["sweep"] = "2"
			if fr.fault != "none" {
				r.Faults = []results.Fault{{Kind: fr.fault, Process: fr.store + "-0",
					Start: int64(800 * time.Millisecond), End: int64(1200 * time.Millisecond)}}
			}
			r.Check = &results.Check{Verdict: fr.verdict, Detail: fr.detail, Ops: 600, Seconds: 0.25}
			if fr.html {
				r.Check.HTML = results.CheckHTML
				if err := os.WriteFile(filepath.Join(dir, results.CheckHTML), []byte("<!doctype html><title>check</title><p>fixture</p>\n"), 0o644); err != nil {
					return err
				}
			}
		} else {
			tags["window"] = "1"
		}

		// Two one-second intervals per op type. More clients queue: latency
		// grows with clients, throughput with clients/latency.
		var hlog bytes.Buffer
		w, err := results.NewHlogWriter(&hlog, start)
		if err != nil {
			return err
		}
		totals := map[string]*hdr.Histogram{}
		median := fr.baseUS * (1 + 0.4*float64(fr.clients-1))
		perSec := int(float64(fr.clients) * 1e6 / median / float64(len(ops)) / 20) // scaled down to keep the fixture small
		for sec := 0; sec < 2; sec++ {
			for _, op := range ops {
				h := results.NewHistogram()
				n := perSec
				if fr.command == "fuzz" && fr.fault != "none" && sec == 0 {
					n /= 3 // the fault window falls in the first second
				}
				for k := 0; k < n; k++ {
					v := median * math.Exp(0.35*rng.NormFloat64())
					if rng.IntN(200) == 0 {
						v *= 8 + 10*rng.Float64() // a tail
					}
					ns, _ := results.Clamp(int64(v * 1e3))
					if err := h.RecordValue(ns); err != nil {
						return err
					}
				}
				if totals[op] == nil {
					totals[op] = results.NewHistogram()
				}
				totals[op].Merge(h)
				if err := w.Write(op, time.Duration(sec)*time.Second, time.Duration(sec+1)*time.Second, h); err != nil {
					return err
				}
			}
		}
		for _, op := range ops {
			h := totals[op]
			s := results.OpSummary{Op: op, Count: h.TotalCount(), OpsPerSec: float64(h.TotalCount()) / r.Seconds, Latency: results.Summarize(h)}
			if fr.clients == 4 && op == "UPDATE" {
				s.Errors = 2
			}
			r.Ops = append(r.Ops, s)
			r.Overall.Ops += s.Count
			r.Overall.Errors += s.Errors
		}
		r.Overall.OpsPerSec = float64(r.Overall.Ops) / r.Seconds
		if err := results.WriteFileAtomic(filepath.Join(dir, results.HlogFile), hlog.Bytes()); err != nil {
			return err
		}
		if err := results.WriteRun(dir, r); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
	}
	return nil
}
