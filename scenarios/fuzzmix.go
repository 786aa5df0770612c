package scenarios

import (
	"fmt"
	"math"
	"strconv"

	"github.com/kvbench/kvbench/workload"
)

// fuzzMix is what the fuzz clients send: one stream per client and the key
// universe (for the recovery probe).
type fuzzMix struct {
	name    string // "fuzz" for MadKV's mix, else the YCSB workload letter
	streams func(client int) workload.Stream
	keys    []string
}

// newFuzzMix builds MadKV's fuzz mix, or with o.Workload a YCSB core workload
// shaped for checking: o.Keys records (every client shares them, so YCSB
// always conflicts), values of o.ValueSize bytes, keys under namespace ns,
// and each client first inserts its share of the records, then runs the
// workload. The load is part of the checked history, so the store's state is
// known from the first operation. Streams are unbounded: the driver's quota
// decides how many ops run.
func newFuzzMix(o FuzzOptions, ns string) (*fuzzMix, error) {
	if o.Workload == "" {
		fz, err := workload.NewFuzz(workload.FuzzConfig{
			Clients: o.Clients, Keys: o.Keys, OpsPerClient: math.MaxInt32, Conflict: o.Conflict,
			ValueSize: o.ValueSize, Namespace: ns, Seed: o.Seed,
		})
		if err != nil {
			return nil, err
		}
		return &fuzzMix{name: "fuzz", streams: fz.Stream, keys: fz.Keys()}, nil
	}
	props, err := workload.Core(o.Workload)
	if err != nil {
		return nil, err
	}
	props["recordcount"] = strconv.Itoa(o.Keys)
	props["operationcount"] = strconv.Itoa(o.Clients * o.OpsPerClient)
	props["fieldcount"] = "1"
	props["fieldlength"] = strconv.Itoa(o.ValueSize)
	props["keyprefix"] = ns + "user"
	y, err := workload.NewYCSB(props)
	if err != nil {
		return nil, fmt.Errorf("fuzz --workload %s: %w", o.Workload, err)
	}
	keys := make([]string, o.Keys)
	for i := range keys {
		keys[i] = y.Key(int64(i))
	}
	streams := func(i int) workload.Stream {
		return &thenStream{first: y.LoadStream(i, o.Clients, o.Seed), then: y.RunStream(i, o.Seed)}
	}
	return &fuzzMix{name: o.Workload, streams: streams, keys: keys}, nil
}

// thenStream plays first to its end, then then.
type thenStream struct {
	first, then workload.Stream
	second      bool
}

// Next implements workload.Stream.
func (s *thenStream) Next(op *workload.Op) bool {
	if !s.second {
		if s.first.Next(op) {
			return true
		}
		s.second = true
	}
	return s.then.Next(op)
}

// Ack forwards acknowledgements to the stream that produced the op.
func (s *thenStream) Ack(op *workload.Op) {
	cur := s.first
	if s.second {
		cur = s.then
	}
	if a, ok := cur.(workload.Acker); ok {
		a.Ack(op)
	}
}
