package workload

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/kvbench/kvbench/impls"
)

// FuzzConfig configures the MadKV runner's fuzz mix.
type FuzzConfig struct {
	Clients      int // number of clients (streams); the runner's default is 1
	Keys         int // keys per client (conflict: shared keys); default 5
	OpsPerClient int // ops per stream; default 5000
	// Conflict makes every client use the same keys key00000..key0{K-1};
	// without it each client gets Keys random 8-character alphanumeric keys
	// of its own (distinct from every other client's).
	Conflict bool
	// ValueSize is the length of the random alphanumeric values; default 16.
	ValueSize int
	// Namespace is prepended to every key. A server that already holds data
	// (an external target, a store reused between runs) must not see the
	// fuzz clobber its keys, and the checker must not blame the store for
	// values the fuzz did not write: pick a fresh random namespace per run
	// (RandomNamespace) and record it. With a namespace, keys are
	// len(Namespace)+8 characters instead of the runner's 8. It must be
	// ASCII alphanumeric (MadKV keys are) or empty.
	Namespace string
	// Seed draws the per-client keys (without Conflict) and, as Seed+i,
	// client i's ops.
	Seed int64
}

// Fuzz is a configured fuzz mix: the key universe and one op stream per
// client. It is immutable and safe for concurrent use.
type Fuzz struct {
	cfg        FuzzConfig
	clientKeys [][]string // per client, sorted
	universe   []string   // sorted, deduplicated
}

// The fuzz mix's op weights, out of 10, as the MadKV runner's fuzzer.
const (
	fuzzPut    = 2
	fuzzSwap   = 2
	fuzzGet    = 3
	fuzzScan   = 2
	fuzzDelete = 1
)

// maxConflictKeys is how many keys key00000.. the 8-character scheme holds.
const maxConflictKeys = 100000

// NewFuzz validates cfg (applying the runner's defaults for zero fields)
// and draws the key sets.
func NewFuzz(cfg FuzzConfig) (*Fuzz, error) {
	if cfg.Clients == 0 {
		cfg.Clients = 1
	}
	if cfg.Keys == 0 {
		cfg.Keys = 5
	}
	if cfg.OpsPerClient == 0 {
		cfg.OpsPerClient = 5000
	}
	if cfg.ValueSize == 0 {
		cfg.ValueSize = 16
	}
	switch {
	case cfg.Clients < 0:
		return nil, fmt.Errorf("fuzz: clients must be positive (got %d)", cfg.Clients)
	case cfg.Keys < 0 || cfg.Conflict && cfg.Keys > maxConflictKeys:
		return nil, fmt.Errorf("fuzz: keys must be in [1, %d] (got %d)", maxConflictKeys, cfg.Keys)
	case cfg.OpsPerClient < 0:
		return nil, fmt.Errorf("fuzz: ops per client must be positive (got %d)", cfg.OpsPerClient)
	case cfg.ValueSize < 0:
		return nil, fmt.Errorf("fuzz: value size must be positive (got %d)", cfg.ValueSize)
	case cfg.Namespace != "" && !isAlnum(cfg.Namespace):
		return nil, fmt.Errorf("fuzz: namespace %q must be ASCII alphanumeric", cfg.Namespace)
	}
	f := &Fuzz{cfg: cfg, clientKeys: make([][]string, cfg.Clients)}
	if cfg.Conflict {
		shared := make([]string, cfg.Keys)
		for i := range shared {
			shared[i] = fmt.Sprintf("%skey%05d", cfg.Namespace, i)
		}
		for c := range f.clientKeys {
			f.clientKeys[c] = shared
		}
		f.universe = shared
		return f, nil
	}
	r := newRand(cfg.Seed)
	seen := make(map[string]bool, cfg.Clients*cfg.Keys)
	for c := range f.clientKeys {
		keys := make([]string, 0, cfg.Keys)
		for len(keys) < cfg.Keys {
			k := cfg.Namespace + randomAlnum(r, 8)
			if seen[k] {
				continue
			}
			seen[k] = true
			keys = append(keys, k)
		}
		slices.Sort(keys)
		f.clientKeys[c] = keys
		f.universe = append(f.universe, keys...)
	}
	slices.Sort(f.universe)
	return f, nil
}

// Config returns the configuration with defaults applied.
func (f *Fuzz) Config() FuzzConfig { return f.cfg }

// Keys returns the key universe, sorted: every key any client touches. The
// checker projects a Scan onto it (a scan range also covers foreign keys
// between two fuzz keys; they are not the fuzz's to check). The caller must
// not modify the slice.
func (f *Fuzz) Keys() []string { return f.universe }

// ClientKeys returns client i's keys, sorted. The caller must not modify
// the slice.
func (f *Fuzz) ClientKeys(i int) []string { return f.clientKeys[i] }

// Stream returns client i's ops (OpsPerClient of them), drawn from Seed+i:
// out of 10, PUT 2, SWAP 2, GET 3, SCAN 2, DELETE 1, each on a uniformly
// chosen key of the client's set; a SCAN covers the range between two such
// keys, ordered; PUT and SWAP write fresh random values. The same config
// gives the same streams.
func (f *Fuzz) Stream(i int) Stream {
	return &fuzzStream{f: f, keys: f.clientKeys[i], left: f.cfg.OpsPerClient, r: newRand(f.cfg.Seed + int64(i))}
}

type fuzzStream struct {
	f    *Fuzz
	keys []string
	left int
	r    *rand.Rand
}

var _ Stream = (*fuzzStream)(nil)

// Next implements Stream.
func (s *fuzzStream) Next(op *Op) bool {
	if s.left <= 0 {
		return false
	}
	s.left--
	key := s.keys[s.r.IntN(len(s.keys))]
	switch w := s.r.IntN(10); {
	case w < fuzzPut:
		*op = Op{Type: Update, Req: impls.Request{Kind: impls.Put, Key: key, Value: randomAlnum(s.r, s.f.cfg.ValueSize)}}
	case w < fuzzPut+fuzzSwap:
		*op = Op{Type: SwapOp, Req: impls.Request{Kind: impls.Swap, Key: key, Value: randomAlnum(s.r, s.f.cfg.ValueSize)}}
	case w < fuzzPut+fuzzSwap+fuzzGet:
		*op = Op{Type: Read, Req: impls.Request{Kind: impls.Get, Key: key}}
	case w < fuzzPut+fuzzSwap+fuzzGet+fuzzScan:
		end := s.keys[s.r.IntN(len(s.keys))]
		if end < key {
			key, end = end, key
		}
		*op = Op{Type: ScanOp, Req: impls.Request{Kind: impls.Scan, Key: key, End: end}}
	default:
		*op = Op{Type: DeleteOp, Req: impls.Request{Kind: impls.Delete, Key: key}}
	}
	return true
}

// RandomNamespace returns a 5-character alphanumeric namespace drawn from r,
// for FuzzConfig.Namespace. Seed r from a fresh source (not the run's seed)
// so that reruns do not collide, and record the namespace with the run.
func RandomNamespace(r *rand.Rand) string { return randomAlnum(r, 5) }
