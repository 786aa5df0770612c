package results

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestConfigKeyIgnoresOnlySeed(t *testing.T) {
	base := Config{Command: "run", Impl: "memkv", Workload: "a", Clients: 4, Window: 1,
		Duration: Duration(5 * time.Second), RecordCount: 1000, ValueSize: 1000, KeyDistribution: "zipfian",
		Properties: map[string]string{"readproportion": "0.5"}, Seed: 1, Kvbench: "v1"}
	same := base
	same.Seed = 99
	if base.Key() != same.Key() {
		t.Error("configs differing only in seed have different keys")
	}
	for name, change := range map[string]func(c *Config){
		"impl flags": func(c *Config) { c.ImplFlags = []string{"--fsync", "never"} },
		"duration":   func(c *Config) { c.Duration = Duration(2 * time.Second) },
		"faults":     func(c *Config) { c.Faults = &FaultConfig{Kinds: []string{"crash"}} },
		"value size": func(c *Config) { c.ValueSize = 10 },
		"props":      func(c *Config) { c.Properties = map[string]string{"readproportion": "0.9"} },
		"version":    func(c *Config) { c.Kvbench = "v2" },
	} {
		c := base
		change(&c)
		if c.Key() == base.Key() {
			t.Errorf("changing %s keeps the key", name)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	b, err := json.Marshal(struct{ D Duration }{Duration(1500 * time.Millisecond)})
	if err != nil || string(b) != `{"D":"1.5s"}` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	for in, want := range map[string]time.Duration{`"1.5s"`: 1500 * time.Millisecond, `2000`: 2000} {
		var d Duration
		if err := json.Unmarshal([]byte(in), &d); err != nil || time.Duration(d) != want {
			t.Errorf("unmarshal %s = %v, %v", in, time.Duration(d), err)
		}
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"banana"`), &d); err == nil {
		t.Error("unmarshal of a bad duration: no error")
	}
}

// TestLegacyConfiguration: run.json files from before "config" give a
// configuration rebuilt from their untyped options.
func TestLegacyConfiguration(t *testing.T) {
	r := &Run{Command: "fuzz", Impl: "memkv", Workload: "fuzz", Clients: 5, Window: 1, Seed: 7,
		Options: map[string]string{"keys": "5", "ops_per_client": "100", "conflict": "true", "value_size": "16",
			"crash": "true", "pause": "false", "fault_interval": "2s", "fault_duration": "500ms", "impl_flags": "--fsync never"}}
	c := r.Configuration()
	if c.Impl != "memkv" || c.Ops != 100 || c.KeyDistribution != "conflict" || c.ValueSize != 16 ||
		strings.Join(c.ImplFlags, " ") != "--fsync never" || c.Faults.String() != "crash every 2s for 500ms" {
		t.Errorf("legacy fuzz config = %+v (faults %v)", c, c.Faults)
	}
	r = &Run{Command: "run", Impl: "memcached://127.0.0.1:11211", Workload: "b", Clients: 2, Window: 1,
		Options: map[string]string{"clients": "2", "window": "1", "recordcount": "1000", "requestdistribution": "zipfian"}}
	c = r.Configuration()
	if c.Target != "memcached://127.0.0.1:11211" || c.Impl != "" || c.RecordCount != 1000 || c.KeyDistribution != "zipfian" || c.Properties["clients"] != "" {
		t.Errorf("legacy run config = %+v", c)
	}
	typed := &Config{Command: "run", Impl: "shm"}
	if got := (&Run{Config: typed, Impl: "other"}).Configuration(); got.Impl != "shm" {
		t.Errorf("typed config not used: %+v", got)
	}
}

func TestParseCPU(t *testing.T) {
	in := "cpu  100 5 50 800 20 1 2 22 0 0\ncpu0 1 2 3 4 5 6 7 8\n"
	got := parseCPU(strings.NewReader(in))
	if !got.ok || got.total != 1000 || got.idle != 820 || got.steal != 22 {
		t.Errorf("parseCPU = %+v", got)
	}
	if parseCPU(strings.NewReader("garbage\n")).ok {
		t.Error("parseCPU of garbage is ok")
	}
}

func TestLoadProbe(t *testing.T) {
	dir := t.TempDir()
	write := func(loadavg, stat string) {
		os.WriteFile(filepath.Join(dir, "loadavg"), []byte(loadavg), 0o644)
		os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644)
	}
	write("0.50 0.40 0.30 1/100 42\n", "cpu  100 0 100 800 0 0 0 0 0 0\n")
	p := beginLoad(dir, 2, 5)
	write("3.10 1.00 0.50 1/100 42\n", "cpu  800 0 200 900 0 0 0 100 0 0\n")
	l := p.End()
	if l.Cores != 2 || l.Threads != 5 || !l.Oversubscribed || l.LoadAvgStart[0] != 0.5 || l.LoadAvgEnd[0] != 3.1 {
		t.Errorf("load = %+v", l)
	}
	// 1000 jiffies passed: 100 idle, 100 stolen.
	if l.BusyPercent != 90 || l.StealPercent != 10 {
		t.Errorf("busy %v%% steal %v%%, want 90 and 10", l.BusyPercent, l.StealPercent)
	}
	over, why := l.Overloaded()
	if !over || !strings.Contains(why, "5 threads on 2 cores") || !strings.Contains(why, "load average 3.1") || !strings.Contains(why, "10% CPU stolen") {
		t.Errorf("Overloaded = %v %q", over, why)
	}
	calm := (&Load{Cores: 8, Threads: 2, LoadAvgEnd: [3]float64{1, 1, 1}})
	if over, why := calm.Overloaded(); over {
		t.Errorf("calm machine overloaded: %s", why)
	}
	none := beginLoad(filepath.Join(dir, "missing"), 2, 1).End()
	if none.BusyPercent != -1 || none.StealPercent != -1 {
		t.Errorf("unreadable /proc: %+v", none)
	}
}

// TestFilesHonourUmask: run.json, history.jsonl and every WriteFileAtomic
// file are 0666 less the umask, not 0600.
func TestFilesHonourUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	if err := WriteRun(dir, &Run{ID: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := WriteHistory(dir, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{RunFile, HistoryFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", name, st.Mode().Perm())
		}
	}
}

// TestPartialDirs: a run directory a killed kvbench left (owner gone, no
// run.json) is found; a finished one and one still being written are not
// taken for abandoned.
func TestPartialDirs(t *testing.T) {
	base := t.TempDir()
	now := time.Date(2026, 11, 21, 13, 5, 1, 0, time.UTC)
	done, err := NewDir(base, "run", "memkv", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteRun(done, &Run{ID: filepath.Base(done)}); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(done, OwnerFile)) {
		t.Error("owner file left in a finished run")
	}
	running, _ := NewDir(base, "run", "shm", now) // owned by this live process
	killed := filepath.Join(base, "20261121-130501-fuzz-memkv")
	os.Mkdir(killed, 0o755)
	os.WriteFile(filepath.Join(killed, OwnerFile), []byte("2147483646"), 0o644) // no such pid
	os.Mkdir(filepath.Join(base, "notes"), 0o755)                               // not a run dir
	ps, err := FindPartial(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Dir != killed || ps[0].Running || ps[1].Dir != running || !ps[1].Running {
		t.Errorf("FindPartial = %+v", ps)
	}
	if ps, _ := FindPartial(done); len(ps) != 0 {
		t.Errorf("FindPartial(finished run) = %+v", ps)
	}
}

func TestSweepRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := &Sweep{Scenario: "quick/x", Start: time.Date(2026, 11, 21, 13, 0, 0, 0, time.UTC), Planned: 3, Done: 2,
		Skipped: []string{"memkv: workload e needs SCAN"}, Failed: []string{"shm a: boom"}, Interrupted: true}
	path, err := WriteSweep(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "sweep-20261121-130000-quick_x.json" {
		t.Errorf("path %s", path)
	}
	got, err := ReadSweeps(dir)
	if err != nil || len(got) != 1 || got[0].Skipped[0] != s.Skipped[0] || !got[0].Interrupted || got[0].Done != 2 {
		t.Fatalf("ReadSweeps = %+v, %v", got, err)
	}
	os.WriteFile(filepath.Join(dir, "sweep-2-bad.json"), []byte("{"), 0o644)
	if _, err := ReadSweeps(dir); err == nil || !strings.Contains(err.Error(), "sweep-2-bad.json") {
		t.Errorf("corrupt sweep file: %v", err)
	}
}
