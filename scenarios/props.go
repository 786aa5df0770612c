package scenarios

import (
	"fmt"
	"strconv"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/workload"
)

// resolveProperties layers YCSB properties as YCSB does: the core workload
// named by --workload (default a when no -P is given), then each -P file in
// order, then -p pairs, then --records. It returns the operationcount the
// user set through -P or -p (the stock workload files' 1000 is not taken as
// a request for a 1000-op run), or 0.
func resolveProperties(o *BenchOptions) (workload.Properties, int64, error) {
	props := workload.Properties{}
	letter := o.Workload
	if letter == "" && len(o.PropertyFiles) == 0 {
		letter = "a"
		o.Workload = "a"
	}
	if letter != "" {
		core, err := workload.Core(letter)
		if err != nil {
			return nil, 0, err
		}
		for k, v := range core {
			props[k] = v
		}
	}
	var explicit string
	for _, path := range o.PropertyFiles {
		p, err := workload.LoadPropertyFile(path)
		if err != nil {
			return nil, 0, err
		}
		for k, v := range p {
			props[k] = v
		}
		if v, ok := p["operationcount"]; ok {
			explicit = v
		}
	}
	for k, v := range o.Props {
		props[k] = v
		if k == "operationcount" {
			explicit = v
		}
	}
	if o.Records > 0 {
		props["recordcount"] = strconv.FormatInt(o.Records, 10)
	}
	if o.Ops > 0 {
		// The scrambled zipfian sizes its key space from operationcount.
		props["operationcount"] = strconv.FormatInt(o.Ops, 10)
	}
	var n int64
	if explicit != "" {
		var err error
		if n, err = strconv.ParseInt(explicit, 10, 64); err != nil || n < 0 {
			return nil, 0, fmt.Errorf("operationcount %q is not a count", explicit)
		}
	}
	return props, n, nil
}

// kindsOf lists the request kinds a fixed list of ops uses.
func kindsOf(ops []workload.Op) []impls.Kind {
	var seen [impls.NumKinds]bool
	var out []impls.Kind
	for _, op := range ops {
		if k := op.Req.Kind; k < impls.NumKinds && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// ycsbKinds lists the request kinds a YCSB workload sends, from its
// proportions.
func ycsbKinds(p workload.Properties) []impls.Kind {
	pos := func(k string) bool {
		v, err := strconv.ParseFloat(p[k], 64)
		return err == nil && v > 0
	}
	var out []impls.Kind
	if pos("readproportion") || pos("readmodifywriteproportion") {
		out = append(out, impls.Get)
	}
	if pos("updateproportion") || pos("insertproportion") || pos("readmodifywriteproportion") {
		out = append(out, impls.Put)
	}
	if pos("scanproportion") {
		out = append(out, impls.Scan)
	}
	return out
}
