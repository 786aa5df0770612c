package results

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Load is how busy the machine was around a run's measured phase: a result
// taken on an overloaded machine measures the machine, not the store.
type Load struct {
	Cores int `json:"cores"`
	// LoadAvgStart and LoadAvgEnd are the 1, 5 and 15 minute load averages
	// (/proc/loadavg) when the phase started and ended.
	LoadAvgStart [3]float64 `json:"loadavg_start"`
	LoadAvgEnd   [3]float64 `json:"loadavg_end"`
	// BusyPercent is the share of all cores' time spent not idle during
	// the phase; StealPercent the share a hypervisor gave to other guests
	// (/proc/stat). Both are -1 when /proc/stat could not be read.
	BusyPercent  float64 `json:"busy_percent"`
	StealPercent float64 `json:"steal_percent"`
	// Threads is the threads the run wanted on a core at once: its clients
	// plus at least one per server process (or the server threads its
	// flags ask for). Oversubscribed is Threads > Cores.
	Threads        int  `json:"threads"`
	Oversubscribed bool `json:"oversubscribed"`
}

// Overloaded reports whether the machine was too busy for the run's
// numbers to describe the store alone, and why.
func (l *Load) Overloaded() (bool, string) {
	if l == nil || l.Cores <= 0 {
		return false, ""
	}
	var why []string
	if l.Oversubscribed {
		why = append(why, fmt.Sprintf("%d threads on %d cores", l.Threads, l.Cores))
	}
	if la := max(l.LoadAvgStart[0], l.LoadAvgEnd[0]); la > float64(l.Cores) {
		why = append(why, fmt.Sprintf("load average %.1f on %d cores", la, l.Cores))
	}
	if l.StealPercent >= 5 {
		why = append(why, fmt.Sprintf("%.0f%% CPU stolen by the hypervisor", l.StealPercent))
	}
	return len(why) > 0, strings.Join(why, ", ")
}

// cpuTimes is one /proc/stat "cpu" line: total and idle (idle + iowait)
// and steal jiffies.
type cpuTimes struct {
	total, idle, steal uint64
	ok                 bool
}

// LoadProbe measures a phase's load: Begin before it, End after it.
type LoadProbe struct {
	load Load
	cpu  cpuTimes
	proc string // /proc, or a test directory
}

// BeginLoad samples the machine before a measured phase that runs threads
// threads (clients plus server threads).
func BeginLoad(threads int) *LoadProbe {
	return beginLoad("/proc", runtime.NumCPU(), threads)
}

func beginLoad(proc string, cores, threads int) *LoadProbe {
	p := &LoadProbe{proc: proc}
	p.load.Cores = cores
	p.load.Threads = threads
	p.load.Oversubscribed = threads > cores
	p.load.LoadAvgStart = readLoadAvg(proc)
	p.cpu = readCPU(proc)
	return p
}

// End samples the machine after the phase and returns the load.
func (p *LoadProbe) End() *Load {
	l := p.load
	l.LoadAvgEnd = readLoadAvg(p.proc)
	l.BusyPercent, l.StealPercent = -1, -1
	end := readCPU(p.proc)
	if p.cpu.ok && end.ok && end.total > p.cpu.total {
		dt := float64(end.total - p.cpu.total)
		l.BusyPercent = round1(100 * (dt - float64(end.idle-p.cpu.idle)) / dt)
		l.StealPercent = round1(100 * float64(end.steal-p.cpu.steal) / dt)
	}
	return &l
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

func readLoadAvg(proc string) (la [3]float64) {
	b, err := os.ReadFile(proc + "/loadavg")
	if err != nil {
		return la
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		la[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return la
}

func readCPU(proc string) cpuTimes {
	f, err := os.Open(proc + "/stat")
	if err != nil {
		return cpuTimes{}
	}
	defer f.Close()
	return parseCPU(f)
}

// parseCPU reads the aggregate "cpu" line of /proc/stat: user nice system
// idle iowait irq softirq steal [guest guest_nice] (guest time is already
// counted in user and nice).
func parseCPU(r io.Reader) cpuTimes {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || f[0] != "cpu" {
			continue
		}
		var v [8]uint64
		for i := 1; i < len(f) && i <= 8; i++ {
			v[i-1], _ = strconv.ParseUint(f[i], 10, 64)
		}
		var t cpuTimes
		for _, x := range v {
			t.total += x
		}
		t.idle = v[3] + v[4]
		t.steal = v[7]
		t.ok = true
		return t
	}
	return cpuTimes{}
}
