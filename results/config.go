package results

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is everything that shapes a run, typed, as run.json records it
// under "config". Two runs whose Configs are equal but for Seed are
// repetitions of one benchmark; anything else that differs (impl flags,
// faults, value size, the kvbench version) makes them different benchmarks.
type Config struct {
	Command string `json:"command"` // "run" or "fuzz"
	// Impl is the bundled store (--impl); Target the external target URL
	// (--target); Serve the server commands kvbench managed (--serve), as
	// NAME=command.
	Impl   string   `json:"impl,omitempty"`
	Target string   `json:"target,omitempty"`
	Serve  []string `json:"serve,omitempty"`
	// ImplFlags are the store's server flags (--impl-flags), one word each.
	ImplFlags []string `json:"impl_flags,omitempty"`
	// Workload is a YCSB letter "a".."f", a property file's base name, an
	// input file's base name (-i), or "fuzz" for the MadKV mix.
	Workload string `json:"workload"`
	// Properties are the resolved YCSB properties (core workload, -P files,
	// -p pairs); empty for -i replays and the fuzz mix.
	Properties map[string]string `json:"properties,omitempty"`
	Input      string            `json:"input,omitempty"`    // -i file
	Solution   string            `json:"solution,omitempty"` // -c file
	Clients    int               `json:"clients"`
	Window     int               `json:"window"`
	// Ops bounds the measured phase by operations (in total for run, per
	// client for fuzz); Duration bounds it by time. One of them is set.
	Ops      int64    `json:"ops,omitempty"`
	Duration Duration `json:"duration,omitempty"`
	// RecordCount is YCSB's recordcount (the load phase), or the fuzzer's
	// keys.
	RecordCount int64 `json:"recordcount,omitempty"`
	// ValueSize is the bytes of one value (fieldcount*fieldlength for YCSB).
	ValueSize int `json:"value_size,omitempty"`
	// KeyDistribution is YCSB's requestdistribution (uniform, zipfian,
	// latest, ...), or "conflict"/"disjoint" for the fuzz mix.
	KeyDistribution string  `json:"key_distribution,omitempty"`
	Rate            float64 `json:"rate,omitempty"` // open loop ops/s; 0 = closed loop
	Check           bool    `json:"check,omitempty"`
	// Faults is what the nemesis injected; nil without faults.
	Faults *FaultConfig `json:"faults,omitempty"`
	Seed   int64        `json:"seed"`
	// Kvbench is the version of kvbench that ran it.
	Kvbench string `json:"kvbench"`
}

// FaultConfig is the nemesis's configuration.
type FaultConfig struct {
	Kinds    []string `json:"kinds"`            // crash, pause, partition, ...
	Target   string   `json:"target,omitempty"` // --fault-target policy
	Interval Duration `json:"interval"`         // mean time between faults
	Duration Duration `json:"duration"`         // how long a fault is held
}

// String describes the faults in a few words: "crash+pause every 2s for 500ms".
func (f *FaultConfig) String() string {
	if f == nil || len(f.Kinds) == 0 {
		return "none"
	}
	kinds := append([]string(nil), f.Kinds...)
	sort.Strings(kinds)
	s := strings.Join(kinds, "+")
	if f.Target != "" && f.Target != "random" {
		s += " on " + f.Target
	}
	return fmt.Sprintf("%s every %s for %s", s, time.Duration(f.Interval), time.Duration(f.Duration))
}

// Kinds is the fault kinds joined with "+", or "none".
func (f *FaultConfig) KindsString() string {
	if f == nil || len(f.Kinds) == 0 {
		return "none"
	}
	kinds := append([]string(nil), f.Kinds...)
	sort.Strings(kinds)
	return strings.Join(kinds, "+")
}

// Duration is a time.Duration that reads and writes as Go's duration text
// ("1m30s") in JSON. It also reads a number of nanoseconds.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var ns int64
		if err := json.Unmarshal(b, &ns); err != nil {
			return fmt.Errorf("duration: want \"1m30s\" or nanoseconds, got %s", b)
		}
		*d = Duration(ns)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

var (
	_ json.Marshaler   = Duration(0)
	_ json.Unmarshaler = (*Duration)(nil)
)

// Key identifies c's benchmark: c's canonical JSON without the seed. Runs
// with equal keys are repetitions.
func (c Config) Key() string {
	c.Seed = 0
	b, _ := json.Marshal(c) // maps marshal with sorted keys
	return string(b)
}

// Name is the store: the bundled impl or the target URL.
func (c Config) Name() string {
	if c.Impl != "" {
		return c.Impl
	}
	return c.Target
}

// Length describes how long the measured phase ran by configuration:
// "5s", "100 000 ops" or "5 000 ops per client".
func (c Config) Length() string {
	switch {
	case c.Duration > 0:
		return time.Duration(c.Duration).String()
	case c.Ops > 0 && c.Command == "fuzz":
		return strconv.FormatInt(c.Ops, 10) + " ops per client"
	case c.Ops > 0:
		return strconv.FormatInt(c.Ops, 10) + " ops"
	}
	return ""
}

// Configuration returns the run's typed configuration: run.json's "config"
// when present, else one rebuilt from the fields and the untyped options of
// run.json files written before "config" existed.
func (r *Run) Configuration() Config {
	if r.Config != nil {
		return *r.Config
	}
	c := Config{
		Command: r.Command, Workload: r.Workload, Clients: r.Clients, Window: r.Window,
		Rate: r.Rate, Seed: r.Seed, Kvbench: r.Versions.Kvbench,
	}
	if strings.Contains(r.Impl, "://") || strings.Contains(r.Impl, ":") {
		c.Target = r.Impl
	} else {
		c.Impl = r.Impl
	}
	o := r.Options
	if f := strings.Fields(o["impl_flags"]); len(f) > 0 {
		c.ImplFlags = f
	}
	atoi := func(k string) int64 { n, _ := strconv.ParseInt(o[k], 10, 64); return n }
	if r.Command == "fuzz" {
		c.Ops = atoi("ops_per_client")
		c.RecordCount = atoi("keys")
		c.ValueSize = int(atoi("value_size"))
		c.KeyDistribution = "disjoint"
		if o["conflict"] == "true" {
			c.KeyDistribution = "conflict"
		}
		var kinds []string
		if o["crash"] == "true" {
			kinds = append(kinds, "crash")
		}
		if o["pause"] == "true" {
			kinds = append(kinds, "pause")
		}
		if len(kinds) > 0 {
			iv, _ := time.ParseDuration(o["fault_interval"])
			du, _ := time.ParseDuration(o["fault_duration"])
			c.Faults = &FaultConfig{Kinds: kinds, Interval: Duration(iv), Duration: Duration(du)}
		}
		return c
	}
	c.Input = o["input"]
	props := map[string]string{}
	for k, v := range o {
		switch k {
		case "clients", "window", "impl_flags", "input":
			continue
		}
		props[k] = v
	}
	if len(props) > 0 {
		c.Properties = props
		c.RecordCount = atoi("recordcount")
		c.KeyDistribution = props["requestdistribution"]
	}
	return c
}
