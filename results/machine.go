package results

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// ThisMachine describes the machine kvbench runs on.
func ThisMachine() Machine {
	host, _ := os.Hostname()
	m := Machine{Hostname: host, OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU()}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				kb, _ := strconv.ParseUint(strings.Fields(rest)[0], 10, 64)
				m.MemBytes = kb * 1024
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return m
}

// stamped is set at link time by the Makefile:
// -ldflags "-X github.com/kvbench/kvbench/results.stamped=$(git describe)".
var stamped string

// ThisVersion returns kvbench's version: the link-time stamp, else the
// module version or VCS revision from the build info, else "dev".
func ThisVersion() Versions {
	v := Versions{Kvbench: "dev", Go: runtime.Version()}
	if stamped != "" {
		v.Kvbench = stamped
		return v
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Kvbench = bi.Main.Version
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if v.Kvbench == "dev" && rev != "" {
		v.Kvbench = "dev-" + rev[:min(12, len(rev))] + dirty
	}
	return v
}
