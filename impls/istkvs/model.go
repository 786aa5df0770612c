package istkvs

import "sort"

// Model is a sequential IST-KVS: a plain map that prints exactly what the
// server prints for the commands it is given, one at a time. It is the
// reference for expected .out files of jobs whose keys no other job
// touches. The zero value is not ready; use NewModel.
type Model struct{ m map[string]string }

// NewModel returns an empty model.
func NewModel() *Model { return &Model{m: map[string]string{}} }

// Apply runs one command and appends its .out bytes (BACKUP, WAIT and
// HELP print nothing to the .out).
func (md *Model) Apply(out []byte, c Command) []byte {
	switch c.Op {
	case OpWrite:
		for _, p := range c.Pairs {
			md.m[p.Key] = p.Value
		}
	case OpRead:
		vals, found := make([]string, len(c.Keys)), make([]bool, len(c.Keys))
		for i, k := range c.Keys {
			vals[i], found[i] = md.m[k]
		}
		out = appendRead(out, c.Keys, vals, found)
	case OpDelete:
		var missing []string
		for _, k := range c.Keys {
			if _, ok := md.m[k]; ok {
				delete(md.m, k)
			} else {
				missing = append(missing, k)
			}
		}
		out = appendDelete(out, missing)
	case OpShow:
		out = md.AppendShow(out)
	}
	return out
}

// AppendShow appends SHOW's output for the model's state.
func (md *Model) AppendShow(out []byte) []byte {
	keys := make([]string, 0, len(md.m))
	for k := range md.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = appendShowLine(out, k, md.m[k])
	}
	return out
}

// ExpectedOut returns the .out of a job run alone on an empty table.
func ExpectedOut(cmds []Command) []byte {
	md := NewModel()
	var out []byte
	for _, c := range cmds {
		out = md.Apply(out, c)
	}
	return out
}
