package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/registry"
	"github.com/kvbench/kvbench/results"
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

// Scenario is a parsed, validated scenario file.
type Scenario struct {
	Name        string
	Description string
	// Path is the file it was read from, for error messages.
	Path   string
	sweeps []scenarioSweep
	lines  []map[string]int // per sweep: key -> line (merged with defaults' lines)
	// overridden: stores come from the command line, not the file.
	overridden bool
}

// SetStores replaces every sweep's stores and targets, for running a
// scenario against other stores than its file names (--store, --target).
// Store names are checked by Plan.
func (s *Scenario) SetStores(stores, targets []string) error {
	for _, t := range targets {
		if !strings.Contains(t, "://") && !strings.HasPrefix(t, "exec:") {
			return fmt.Errorf("target %q: want a URL like memcached://127.0.0.1:11211", t)
		}
	}
	for i := range s.sweeps {
		s.sweeps[i].Stores = append(yamlList[string](nil), stores...)
		s.sweeps[i].Targets = append(yamlList[string](nil), targets...)
	}
	s.overridden = true
	return nil
}

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

// Fault names accepted in faults lists.
var scenarioFaults = []string{"none", "crash", "pause", "crash+pause"}

// scenarioFuzzOnly and scenarioBenchOnly keys are rejected in a sweep of the other kind
// (defaults may hold both; they apply where they fit).
var (
	scenarioFuzzOnly  = []string{"faults", "keys", "conflict", "value_size", "fault_interval", "fault_duration"}
	scenarioBenchOnly = []string{"window", "duration", "records", "rate", "check"}
)

// scenarioKinds lists the op kinds each YCSB core workload needs, including
// the Puts of its load phase; "fuzz" is the MadKV fuzz mix's minimum.
var scenarioKinds = map[string][]impls.Kind{
	"a": {impls.Get, impls.Put}, "b": {impls.Get, impls.Put}, "c": {impls.Get, impls.Put},
	"d": {impls.Get, impls.Put}, "e": {impls.Scan, impls.Put}, "f": {impls.Get, impls.Put},
	"fuzz": {impls.Get, impls.Put},
}

// LoadScenario reads and validates a scenario file. Store names are checked
// by Plan, against the stores it is given.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
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
		if !sweepContains(scenarioFaults, f) {
			return sw, errorf(at("faults"), "fault %q: want one of %s", f, strings.Join(scenarioFaults, ", "))
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

// Step is one planned run of a sweep.
type Step struct {
	Sweep    int    // 1-based position of the sweep in the file
	Kind     string // "bench" or "fuzz"
	Store    string // store name (with impl flags, if any) or target URL
	Workload string // "a".."f", or "fuzz" for the fuzz mix
	Clients  int
	Window   int    // bench only
	Fault    string // fuzz only: none, crash, pause or crash+pause
	Rep      int    // 1-based repetition
	// Exactly one of Bench and Fuzz is set.
	Bench *BenchOptions
	Fuzz  *FuzzOptions
	// Skip says why the step does not run (unsupported op kinds, window
	// above the store's MaxWindow); empty for steps that run.
	Skip string
}

// String describes the step in one line, e.g. "memkv workload=a clients=4 window=1 rep=1".
func (st Step) String() string {
	if st.Kind == "fuzz" {
		s := fmt.Sprintf("fuzz %s fault=%s clients=%d rep=%d", st.Store, st.Fault, st.Clients, st.Rep)
		if st.Workload != "fuzz" {
			s += " workload=" + st.Workload
		}
		return s
	}
	return fmt.Sprintf("%s workload=%s clients=%d window=%d rep=%d", st.Store, st.Workload, st.Clients, st.Window, st.Rep)
}

// Plan is a scenario expanded into runs.
type Plan struct {
	Steps   []Step // the runs, in order
	Skipped []Step // combinations a store cannot run
}

// Notes summarizes the skipped steps, one line per store and reason.
func (p *Plan) Notes() []string {
	var notes []string
	count := map[string]int{}
	for _, st := range p.Skipped {
		n := st.Store + ": " + st.Skip
		if count[n] == 0 {
			notes = append(notes, n)
		}
		count[n]++
	}
	for i, n := range notes {
		notes[i] = fmt.Sprintf("skip %d run(s) of %s", count[n], n)
	}
	return notes
}

// MeasuredTime is the total duration of the duration-bound runs: a lower
// bound on the sweep's wall time (server start, load phases and op-bound
// runs add to it).
func (p *Plan) MeasuredTime() time.Duration {
	var d time.Duration
	for _, st := range p.Steps {
		if st.Bench != nil {
			d += st.Bench.Duration
		}
	}
	return d
}

// Plan expands the scenario into runs against the given bundled stores (nil:
// registry.All()). Within a sweep the order is repetition, store, workload,
// clients, window, fault, so an interrupted sweep has whole repetitions first.
func (s *Scenario) Plan(stores []*impls.Impl) (*Plan, error) {
	if stores == nil {
		stores = registry.All()
	}
	var names []string
	for _, im := range stores {
		names = append(names, im.Name)
	}
	p := &Plan{}
	for i, sw := range s.sweeps {
		var ims []*impls.Impl // nil entries stand for targets
		var urls []string
		for _, name := range sw.Stores {
			if name == "all" {
				for _, im := range stores {
					if !sweepContains(ims, im) {
						ims, urls = append(ims, im), append(urls, "")
					}
				}
				continue
			}
			j := sweepIndexOf(names, name)
			if j < 0 && s.overridden {
				return nil, fmt.Errorf("unknown store %q (bundled: %s, or all)", name, strings.Join(names, ", "))
			}
			if j < 0 {
				return nil, fmt.Errorf("%s:%d: sweep %d: unknown store %q (bundled: %s, or all)", s.Path, s.lines[i]["stores"], i+1, name, strings.Join(names, ", "))
			}
			if !sweepContains(ims, stores[j]) {
				ims, urls = append(ims, stores[j]), append(urls, "")
			}
		}
		for _, u := range sw.Targets {
			ims, urls = append(ims, nil), append(urls, u)
		}
		workloads := []string(sw.Workloads)
		if len(workloads) == 0 {
			workloads = []string{"fuzz"}
		}
		windows, faults := []int(sw.Window), []string(sw.Faults)
		if sw.Kind == "fuzz" {
			windows = []int{0}
		} else {
			faults = []string{""}
		}
		repeat := 1
		if sw.Repeat != nil {
			repeat = *sw.Repeat
		}
		for rep := 1; rep <= repeat; rep++ {
			for k, im := range ims {
				for _, wl := range workloads {
					for _, c := range sw.Clients {
						for _, w := range windows {
							for _, f := range faults {
								st := s.step(i, sw, im, urls[k], wl, c, w, f, rep)
								if st.Skip != "" {
									p.Skipped = append(p.Skipped, st)
								} else {
									p.Steps = append(p.Steps, st)
								}
							}
						}
					}
				}
			}
		}
	}
	return p, nil
}

func sweepIndexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func (s *Scenario) step(i int, sw scenarioSweep, im *impls.Impl, url, wl string, clients, window int, fault string, rep int) Step {
	target := Target{URL: url, ImplFlags: strings.Fields(sw.ImplFlags)}
	st := Step{Sweep: i + 1, Kind: sw.Kind, Store: url, Workload: wl, Clients: clients, Window: window, Fault: fault, Rep: rep}
	if im != nil {
		target.Impl, st.Store = im.Name, im.Name
		if sw.ImplFlags != "" {
			st.Store += " " + sw.ImplFlags
		}
		var missing []string
		for _, k := range scenarioKinds[wl] {
			if !im.Supports(k) {
				missing = append(missing, k.String())
			}
		}
		maxWin := max(im.MaxWindow, 1)
		switch {
		case len(missing) > 0:
			what := "workload " + wl
			if wl == "fuzz" {
				what = "the fuzz mix"
			}
			st.Skip = fmt.Sprintf("%s needs %s, which %s does not support", what, strings.Join(missing, ", "), im.Name)
		case window > maxWin:
			st.Skip = fmt.Sprintf("window %d is above %s's maximum of %d", window, im.Name, maxWin)
		}
	}
	seed := int64(rep - 1)
	if sw.Seed != nil {
		seed += *sw.Seed
	}
	tags := map[string]string{
		"scenario": s.Name, "sweep": strconv.Itoa(i + 1), "store": st.Store,
		"workload": wl, "clients": strconv.Itoa(clients), "rep": strconv.Itoa(rep),
	}
	out := Output{Tags: tags, Stdout: io.Discard, Quiet: true}
	if sw.Kind == "fuzz" {
		tags["fault"] = fault
		o := FuzzOptions{Target: target, Clients: clients, Seed: seed, Output: out,
			Crash: strings.Contains(fault, "crash"), Pause: strings.Contains(fault, "pause")}
		if wl != "fuzz" {
			o.Workload = wl
		}
		if sw.Ops != nil {
			o.OpsPerClient = int(*sw.Ops)
		}
		o.Keys, o.ValueSize, o.Conflict = sweepDeref(sw.Keys), sweepDeref(sw.ValueSize), sweepDeref(sw.Conflict)
		o.FaultInterval, o.FaultDuration = time.Duration(sweepDeref(sw.FaultInterval)), time.Duration(sweepDeref(sw.FaultDuration))
		st.Fuzz = &o
		o.Output.Args = st.Args()
		return st
	}
	tags["window"] = strconv.Itoa(window)
	o := BenchOptions{Target: target, Workload: wl, Clients: clients, Window: window, Seed: seed,
		Ops: sweepDeref(sw.Ops), Duration: time.Duration(sweepDeref(sw.Duration)), Records: sweepDeref(sw.Records),
		Rate: sweepDeref(sw.Rate), Check: sweepDeref(sw.Check), Output: out}
	st.Bench = &o
	o.Output.Args = st.Args()
	return st
}

func sweepDeref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Args returns the kvbench command line equivalent to the step, recorded in
// run.json so a single run can be repeated by hand.
func (st Step) Args() []string {
	var a []string
	target := func(t Target) {
		if t.Impl != "" {
			a = append(a, "--impl", t.Impl)
		} else {
			a = append(a, "--target", t.URL)
		}
		if len(t.ImplFlags) > 0 {
			a = append(a, "--impl-flags", strings.Join(t.ImplFlags, " "))
		}
	}
	if o := st.Fuzz; o != nil {
		a = append(a, "kvbench", "fuzz")
		target(o.Target)
		a = append(a, "--clients", strconv.Itoa(o.Clients), "--seed", strconv.FormatInt(o.Seed, 10))
		if o.OpsPerClient > 0 {
			a = append(a, "--ops", strconv.Itoa(o.OpsPerClient))
		}
		if o.Keys > 0 {
			a = append(a, "--keys", strconv.Itoa(o.Keys))
		}
		if o.Workload != "" {
			a = append(a, "--workload", o.Workload)
		}
		for _, f := range []struct {
			on   bool
			flag string
		}{{o.Conflict, "--conflict"}, {o.Crash, "--crash"}, {o.Pause, "--pause"}} {
			if f.on {
				a = append(a, f.flag)
			}
		}
		return a
	}
	o := st.Bench
	a = append(a, "kvbench", "run")
	target(o.Target)
	a = append(a, "--workload", o.Workload, "-n", strconv.Itoa(o.Clients), "-w", strconv.Itoa(o.Window))
	if o.Duration > 0 {
		a = append(a, "--duration", o.Duration.String())
	} else {
		a = append(a, "--ops", strconv.FormatInt(o.Ops, 10))
	}
	if o.Records > 0 {
		a = append(a, "--records", strconv.FormatInt(o.Records, 10))
	}
	if o.Rate > 0 {
		a = append(a, "--rate", strconv.FormatFloat(o.Rate, 'g', -1, 64))
	}
	a = append(a, "--seed", strconv.FormatInt(o.Seed, 10))
	if o.Check {
		a = append(a, "--check")
	}
	return a
}

// Runner executes one run; Bench and Fuzz of this package by default.
// Tests substitute a fake.
type Runner interface {
	Bench(ctx context.Context, o BenchOptions) (dir string, run *results.Run, err error)
	Fuzz(ctx context.Context, o FuzzOptions) (dir string, run *results.Run, err error)
}

type packageRunner struct{}

func (packageRunner) Bench(ctx context.Context, o BenchOptions) (string, *results.Run, error) {
	return Bench(ctx, o)
}

func (packageRunner) Fuzz(ctx context.Context, o FuzzOptions) (string, *results.Run, error) {
	return Fuzz(ctx, o)
}

var _ Runner = packageRunner{}

// SweepOptions configures RunScenario.
type SweepOptions struct {
	// Out is the base results directory (default "runs").
	Out string
	// Stores are the bundled stores "all" expands to (default registry.All()).
	Stores []*impls.Impl
	// Runner executes the runs (default: Bench and Fuzz).
	Runner Runner
	// Progress receives a line per run and a final line; nil prints nothing.
	Progress io.Writer
	// Quiet prints only skip notes, failures and the final line.
	Quiet bool
}

// ErrRunsFailed is returned (wrapped) by RunScenario when some runs failed;
// the other runs were kept.
var ErrRunsFailed = errors.New("runs failed")

// RunScenario plans s and executes its runs one after another, printing
// progress. It returns the result directories of the finished runs. A failed
// run is reported and the sweep goes on; the error then wraps ErrRunsFailed.
// When ctx is cancelled the sweep stops after keeping the finished runs,
// which is not an error.
func RunScenario(ctx context.Context, s *Scenario, opts SweepOptions) ([]string, error) {
	plan, err := s.Plan(opts.Stores)
	if err != nil {
		return nil, err
	}
	runner, out, w := opts.Runner, opts.Out, opts.Progress
	if runner == nil {
		runner = packageRunner{}
	}
	if out == "" {
		out = "runs"
	}
	if w == nil {
		w = io.Discard
	}
	for _, n := range plan.Notes() {
		fmt.Fprintln(w, n)
	}
	var dirs []string
	var failed []string
	var firstErr error
	start := time.Now()
	n := len(plan.Steps)
	for i, st := range plan.Steps {
		if ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		var dir string
		var run *results.Run
		var err error
		if st.Fuzz != nil {
			o := *st.Fuzz
			o.Output.Dir = out
			dir, run, err = runner.Fuzz(ctx, o)
		} else {
			o := *st.Bench
			o.Output.Dir = out
			dir, run, err = runner.Bench(ctx, o)
		}
		if ctx.Err() != nil {
			if dir != "" {
				fmt.Fprintf(w, "[%d/%d] %s interrupted; its partial results are in %s\n", i+1, n, st, dir)
			}
			break
		}
		if err != nil {
			failed = append(failed, st.String())
			if firstErr == nil {
				firstErr = err
			}
			fmt.Fprintf(w, "[%d/%d] %s FAILED: %v\n", i+1, n, st, err)
			continue
		}
		dirs = append(dirs, dir)
		if !opts.Quiet {
			left := time.Duration(0)
			if done := i + 1; done < n {
				left = time.Since(start) / time.Duration(done) * time.Duration(n-done)
			}
			fmt.Fprintf(w, "[%d/%d] %s: %s in %s, ~%s left (%s)\n", i+1, n, st, runOutcome(run),
				time.Since(t0).Round(100*time.Millisecond), left.Round(time.Second), dir)
		}
	}
	elapsed := time.Since(start).Round(time.Second)
	verb := "finished"
	if ctx.Err() != nil {
		verb = "interrupted"
	}
	fmt.Fprintf(w, "scenario %s %s: %d of %d runs done, %d failed, %d skipped in %s; results in %s (kvbench report %s)\n",
		s.Name, verb, len(dirs), n, len(failed), len(plan.Skipped), elapsed, out, out)
	if len(failed) > 0 {
		return dirs, fmt.Errorf("scenario %s: %d of %d %w (first: %s: %w)", s.Name, len(failed), n, ErrRunsFailed, failed[0], firstErr)
	}
	return dirs, nil
}

// runOutcome summarizes a finished run for its progress line.
func runOutcome(r *results.Run) string {
	if r == nil {
		return "done"
	}
	if r.Check != nil {
		return "verdict " + r.Check.Verdict
	}
	s := fmt.Sprintf("%.0f ops/s", r.Overall.OpsPerSec)
	if r.Overall.Errors > 0 {
		s += fmt.Sprintf(", %d errors", r.Overall.Errors)
	}
	return s
}
