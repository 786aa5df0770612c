package scenarios

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"github.com/kvbench/kvbench/nemesis"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// A scenario file describes a sweep: lists of stores, workloads, client counts
// and so on, one run per combination. See scenarios/quick.yaml. Keys:
//
//	name: quick                  # default: the file's base name
//	description: ...
//	defaults: {...}              # any sweep key; a sweep's own value wins
//	sweeps:
//	  - kind: bench              # bench (default) or fuzz
//	    stores: [all]            # "all" = every bundled store, or names
//	    targets: [memcached://127.0.0.1:11211]
//	    impl_flags: --fsync never
//	    workloads: [a, c]        # YCSB a..f; fuzz: optional (default: the MadKV mix)
//	    clients: [1, 4]
//	    window: [1]              # bench only
//	    duration: 3s             # bench only; or ops: N (fuzz: ops per client)
//	    records: 1000            # bench only
//	    rate: 0                  # bench only; open-loop ops/s
//	    check: false             # bench only
//	    seed: 1                  # repetition r uses seed+r-1
//	    repeat: 1
//	    faults: [none, crash, pause, crash+pause]   # fuzz only
//	    keys: 5, conflict: true, value_size: 8, fault_interval: 1s, fault_duration: 500ms  # fuzz only
//
// A scalar is accepted where a list is expected (clients: 4).
//
// scenarioSweep is one entry of sweeps (and the defaults mapping).
type scenarioSweep struct {
	Kind          string           `yaml:"kind"`
	Stores        yamlList[string] `yaml:"stores"`
	Targets       yamlList[string] `yaml:"targets"`
	ImplFlags     string           `yaml:"impl_flags"`
	Workloads     yamlList[string] `yaml:"workloads"`
	Clients       yamlList[int]    `yaml:"clients"`
	Window        yamlList[int]    `yaml:"window"`
	Duration      *yamlDuration    `yaml:"duration"`
	Ops           *int64           `yaml:"ops"`
	Records       *int64           `yaml:"records"`
	Rate          *float64         `yaml:"rate"`
	Check         *bool            `yaml:"check"`
	Seed          *int64           `yaml:"seed"`
	Repeat        *int             `yaml:"repeat"`
	Faults        yamlList[string] `yaml:"faults"`
	Keys          *int             `yaml:"keys"`
	Conflict      *bool            `yaml:"conflict"`
	ValueSize     *int             `yaml:"value_size"`
	FaultInterval *yamlDuration    `yaml:"fault_interval"`
	FaultDuration *yamlDuration    `yaml:"fault_duration"`
	FaultTarget   *string          `yaml:"fault_target"`
}

type scenarioFile struct {
	Name        string          `yaml:"name"`
	Description string          `yaml:"description"`
	Defaults    scenarioSweep   `yaml:"defaults"`
	Sweeps      []scenarioSweep `yaml:"sweeps"`
}

// yamlList accepts a YAML sequence or a single scalar.
type yamlList[T any] []T

func (l *yamlList[T]) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.SequenceNode {
		return n.Decode((*[]T)(l))
	}
	var v T
	if err := n.Decode(&v); err != nil {
		return err
	}
	*l = yamlList[T]{v}
	return nil
}

type yamlDuration time.Duration

func (d *yamlDuration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v <= 0 || n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: bad duration %q (want a positive duration like 3s or 1m30s)", n.Line, n.Value)}}
	}
	*d = yamlDuration(v)
	return nil
}

// A faults list holds "none" or nemesis kinds joined with "+": crash,
// pause, crash+pause, partition, loss, crash+loss, ...

// scenarioFuzzOnly and scenarioBenchOnly keys are rejected in a sweep of the other kind
// (defaults may hold both; they apply where they fit).
var (
	scenarioFuzzOnly  = []string{"faults", "keys", "conflict", "value_size", "fault_interval", "fault_duration", "fault_target"}
	scenarioBenchOnly = []string{"window", "duration", "records", "rate", "check"}
)

// bundledFiles are the scenario files shipped in the binary, so
// `kvbench scenario run quick` works outside the source tree.
//
//go:embed *.yaml
var bundledFiles embed.FS

// BundledScenarios names the scenarios built into kvbench.
func BundledScenarios() []string {
	entries, _ := fs.ReadDir(bundledFiles, ".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	return names
}

// LoadScenario reads and validates a scenario file. A path that does not
// exist but names a bundled scenario ("quick", "madkv-p1", "full") loads the
// built-in copy. Store names are checked by Plan, against the stores it is
// given.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !strings.ContainsAny(path, `/\`) {
		name := strings.TrimSuffix(path, ".yaml") + ".yaml"
		if b, berr := bundledFiles.ReadFile(name); berr == nil {
			return ParseScenario(name, b)
		}
		return nil, fmt.Errorf("scenario: %w (bundled scenarios: %s)", err, strings.Join(BundledScenarios(), ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return ParseScenario(path, data)
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// ParseScenario parses and validates a scenario file's content; path names it
// in errors, which read "path:line: message".
func ParseScenario(path string, data []byte) (*Scenario, error) {
	errorf := func(line int, format string, a ...any) error {
		return fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, a...))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, scenarioYAMLError(path, err)
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a scenario file (want a mapping with name and sweeps)", path)
	}
	doc := root.Content[0]
	// Our own walk first: it names the offending key and lists the known ones.
	if err := checkScenarioKeys(doc, reflect.TypeOf(scenarioFile{}), "scenario", errorf); err != nil {
		return nil, err
	}
	var f scenarioFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, scenarioYAMLError(path, err)
	}
	s := &Scenario{Name: f.Name, Description: f.Description, Path: path}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	defLines := yamlKeyLines(yamlValueOf(doc, "defaults"))
	sweepsNode := yamlValueOf(doc, "sweeps")
	if len(f.Sweeps) == 0 {
		line := doc.Line
		if sweepsNode != nil {
			line = sweepsNode.Line
		}
		return nil, errorf(line, "no sweeps (want a list under sweeps:)")
	}
	for i, sw := range f.Sweeps {
		lines := yamlKeyLines(sweepsNode.Content[i])
		lines[""] = sweepsNode.Content[i].Line
		merged, err := mergeSweep(sw, f.Defaults, lines, defLines, func(line int, format string, a ...any) error {
			return errorf(line, "sweep %d: %s", i+1, fmt.Sprintf(format, a...))
		})
		if err != nil {
			return nil, err
		}
		for k, l := range defLines {
			if _, ok := lines[k]; !ok {
				lines[k] = l
			}
		}
		s.sweeps = append(s.sweeps, merged)
		s.lines = append(s.lines, lines)
	}
	return s, nil
}

// scenarioYAMLError rewrites yaml.v3's "line N: msg" errors as "path:N: msg".
func scenarioYAMLError(path string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for i, m := range msgs {
		if g := yamlLineRE.FindStringSubmatch(m); g != nil {
			msgs[i] = path + ":" + g[1] + ": " + g[2]
		} else {
			msgs[i] = path + ": " + strings.TrimPrefix(m, "yaml: ")
		}
	}
	return errors.New(strings.Join(msgs, "\n"))
}

// checkScenarioKeys rejects unknown keys and empty lists in mapping n, decoded into t.
func checkScenarioKeys(n *yaml.Node, t reflect.Type, where string, errorf func(int, string, ...any) error) error {
	if n.Kind != yaml.MappingNode {
		return errorf(n.Line, "%s: want a mapping", where)
	}
	fields := map[string]reflect.Type{}
	var known []string
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("yaml")
		fields[tag] = t.Field(i).Type
		known = append(known, tag)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ft, ok := fields[k.Value]
		if !ok {
			return errorf(k.Line, "%s: unknown key %q (known: %s)", where, k.Value, strings.Join(known, ", "))
		}
		if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
			return errorf(k.Line, "%s: %s is an empty list", where, k.Value)
		}
		switch {
		case ft == reflect.TypeOf(scenarioSweep{}):
			if err := checkScenarioKeys(v, ft, k.Value, errorf); err != nil {
				return err
			}
		case ft.Kind() == reflect.Slice && ft.Elem() == reflect.TypeOf(scenarioSweep{}):
			if v.Kind != yaml.SequenceNode {
				return errorf(v.Line, "%s: want a list of sweeps", k.Value)
			}
			for j, item := range v.Content {
				if err := checkScenarioKeys(item, ft.Elem(), fmt.Sprintf("sweep %d", j+1), errorf); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func yamlValueOf(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func yamlKeyLines(m *yaml.Node) map[string]int {
	out := map[string]int{}
	if m != nil && m.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.Content); i += 2 {
			out[m.Content[i].Value] = m.Content[i].Line
		}
	}
	return out
}

// mergeSweep fills sw's unset keys from the defaults that apply to its kind and
// validates the result.
func mergeSweep(sw, def scenarioSweep, lines, defLines map[string]int, errorf func(int, string, ...any) error) (scenarioSweep, error) {
	at := func(key string) int {
		if l, ok := lines[key]; ok {
			return l
		}
		if l, ok := defLines[key]; ok {
			return l
		}
		return lines[""]
	}
	if sw.Kind == "" {
		sw.Kind = "bench"
	}
	if sw.Kind != "bench" && sw.Kind != "fuzz" {
		return sw, errorf(at("kind"), "kind %q: want bench or fuzz", sw.Kind)
	}
	notHere := scenarioBenchOnly
	if sw.Kind == "bench" {
		notHere = scenarioFuzzOnly
	}
	for _, k := range notHere {
		if _, ok := lines[k]; ok {
			return sw, errorf(lines[k], "%s applies only to kind: %s", k, map[string]string{"bench": "fuzz", "fuzz": "bench"}[sw.Kind])
		}
	}
	if sw.Stores == nil && sw.Targets == nil {
		sw.Stores, sw.Targets = def.Stores, def.Targets
	}
	if sw.ImplFlags == "" {
		sw.ImplFlags = def.ImplFlags
	}
	if sw.Workloads == nil {
		sw.Workloads = def.Workloads
	}
	if sw.Clients == nil {
		sw.Clients = def.Clients
	}
	if sw.Ops == nil && sw.Duration == nil {
		sw.Ops = def.Ops
		if sw.Kind == "bench" {
			sw.Duration = def.Duration
		}
	}
	for _, p := range []struct{ dst, src **int64 }{{&sw.Seed, &def.Seed}, {&sw.Records, &def.Records}} {
		if *p.dst == nil {
			*p.dst = *p.src
		}
	}
	for _, p := range []struct{ dst, src **int }{{&sw.Repeat, &def.Repeat}, {&sw.Keys, &def.Keys}, {&sw.ValueSize, &def.ValueSize}} {
		if *p.dst == nil {
			*p.dst = *p.src
		}
	}
	if sw.Kind == "bench" {
		if sw.Window == nil {
			sw.Window = def.Window
		}
		if sw.Rate == nil {
			sw.Rate = def.Rate
		}
		if sw.Check == nil {
			sw.Check = def.Check
		}
		sw.Faults, sw.Keys, sw.ValueSize, sw.Conflict = nil, nil, nil, nil
	} else {
		if sw.Faults == nil {
			sw.Faults = def.Faults
		}
		if sw.Conflict == nil {
			sw.Conflict = def.Conflict
		}
		if sw.FaultTarget == nil {
			sw.FaultTarget = def.FaultTarget
		}
		if sw.FaultInterval == nil {
			sw.FaultInterval = def.FaultInterval
		}
		if sw.FaultDuration == nil {
			sw.FaultDuration = def.FaultDuration
		}
		sw.Records = nil
	}

	// Validate.
	if len(sw.Stores) == 0 && len(sw.Targets) == 0 {
		return sw, errorf(lines[""], "no stores or targets")
	}
	for _, t := range sw.Targets {
		if !strings.Contains(t, "://") && !strings.HasPrefix(t, "exec:") {
			return sw, errorf(at("targets"), "target %q: want a URL like memcached://127.0.0.1:11211", t)
		}
	}
	if sw.Kind == "bench" && len(sw.Workloads) == 0 {
		return sw, errorf(lines[""], "no workloads (want e.g. workloads: [a, c])")
	}
	for i, w := range sw.Workloads {
		sw.Workloads[i] = strings.ToLower(w)
		if _, ok := scenarioKinds[sw.Workloads[i]]; !ok || sw.Workloads[i] == "fuzz" {
			return sw, errorf(at("workloads"), "workload %q: want a YCSB core workload a..f", w)
		}
	}
	if len(sw.Clients) == 0 {
		sw.Clients = yamlList[int]{1}
	}
	if sw.Kind == "bench" && len(sw.Window) == 0 {
		sw.Window = yamlList[int]{1}
	}
	for _, c := range []struct {
		key string
		vs  []int
	}{{"clients", sw.Clients}, {"window", sw.Window}} {
		for _, v := range c.vs {
			if v < 1 {
				return sw, errorf(at(c.key), "%s %d: want at least 1", c.key, v)
			}
		}
	}
	if sw.Ops != nil && sw.Duration != nil {
		return sw, errorf(at("ops"), "both ops and duration set; choose one")
	}
	if sw.Kind == "bench" && sw.Ops == nil && sw.Duration == nil {
		return sw, errorf(lines[""], "neither ops nor duration set")
	}
	for _, c := range []struct {
		key string
		v   *int64
	}{{"ops", sw.Ops}, {"records", sw.Records}} {
		if c.v != nil && *c.v < 1 {
			return sw, errorf(at(c.key), "%s %d: want at least 1", c.key, *c.v)
		}
	}
	for _, c := range []struct {
		key string
		v   *int
	}{{"repeat", sw.Repeat}, {"keys", sw.Keys}, {"value_size", sw.ValueSize}} {
		if c.v != nil && *c.v < 1 {
			return sw, errorf(at(c.key), "%s %d: want at least 1", c.key, *c.v)
		}
	}
	if sw.Rate != nil && *sw.Rate < 0 {
		return sw, errorf(at("rate"), "rate %g: want 0 (closed loop) or more", *sw.Rate)
	}
	if sw.Kind == "fuzz" && len(sw.Faults) == 0 {
		sw.Faults = yamlList[string]{"none"}
	}
	for _, f := range sw.Faults {
		if f == "none" {
			continue
		}
		for _, k := range strings.Split(f, "+") {
			if _, err := nemesis.ParseKind(k); err != nil {
				return sw, errorf(at("faults"), "fault %q: %v, or none; combine kinds with +", f, err)
			}
		}
	}
	return sw, nil
}

func sweepContains[T comparable](xs []T, x T) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
