package workload

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/kvbench/kvbench/impls"
)

// CS537 value range: values are uniform in [CS537MinValue, CS537MaxValue),
// as gen_workload.py's np.random.randint(1, 4e9).
const (
	CS537MinValue = 1
	CS537MaxValue = 4_000_000_000
)

// GenCS537 is the CS537 course's gen_workload.py: n requests, a putRatio
// share of them PUTs. It returns the ops and the solution: for each GET in
// order, the value a sequential execution returns (0 for a key not yet put).
//
// As the original: the number of PUTs is int(n*putRatio) (truncated) and
// the rest are GETs; PUT keys are 1..#PUTs shuffled, so each is put once,
// with values uniform in [1, 4e9); then, while both kinds remain, each step
// is a PUT with probability putRatio, else a GET (once one kind runs out the
// rest are the other kind). A GET picks among all PUT keys, whether put
// already or not: uniformly when skew <= 1, else by a Zipf law with exponent
// skew over key numbers (key 1 the most popular, independent of the order
// of the PUTs).
//
// Where the spec leaves it open or the original breaks: the original's
// skew > 1 draws the PUT keys themselves from a Zipf law (so keys repeat)
// and picks GET keys uniformly; kvbench keeps PUT keys unique, as the
// course spec says, and skews the GETs instead. With no PUTs (putRatio 0,
// or n*putRatio < 1) the original crashes; GenCS537 draws GET keys from
// 1..n instead, every one expecting 0.
//
// All randomness comes from seed. Ops use OpType Update for PUTs (what
// ReadOps returns for the same text) and Read for GETs.
func GenCS537(n int, skew, putRatio float64, seed int64) ([]Op, []uint32, error) {
	switch {
	case n < 0:
		return nil, nil, fmt.Errorf("gen_workload: n must not be negative (got %d)", n)
	case !(putRatio >= 0 && putRatio <= 1):
		return nil, nil, fmt.Errorf("gen_workload: put ratio must be in [0, 1] (got %v)", putRatio)
	case !(skew >= 0) || math.IsInf(skew, 0):
		return nil, nil, fmt.Errorf("gen_workload: skew must be a non-negative number (got %v)", skew)
	}
	r := newRand(seed)
	numPut := int(float64(n) * putRatio)
	numGet := n - numPut

	keys := make([]uint32, numPut)
	for i := range keys {
		keys[i] = uint32(i + 1)
	}
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	values := make([]uint32, numPut)
	for i := range values {
		values[i] = uint32(CS537MinValue + r.Int64N(CS537MaxValue-CS537MinValue))
	}

	universe := uint64(numPut)
	if universe == 0 {
		universe = uint64(max(n, 1))
	}
	// rand.Zipf draws k in [0, universe-1] with P(k) ∝ 1/(k+1)^skew.
	var zipf *rand.Zipf
	if skew > 1 && universe > 1 {
		zipf = rand.NewZipf(r, skew, 1, universe-1)
	}

	ops := make([]Op, 0, n)
	solution := make([]uint32, 0, numGet)
	store := make(map[uint32]uint32, numPut)
	puts, gets := 0, 0
	for puts < numPut || gets < numGet {
		if puts < numPut && (gets == numGet || r.Float64() < putRatio) {
			k, v := keys[puts], values[puts]
			puts++
			store[k] = v
			ops = append(ops, Op{Type: Update, Req: impls.Request{
				Kind: impls.Put, Key: strconv.FormatUint(uint64(k), 10), Value: strconv.FormatUint(uint64(v), 10),
			}})
			continue
		}
		var k uint32
		if zipf != nil {
			k = uint32(zipf.Uint64() + 1)
		} else {
			k = uint32(r.Uint64N(universe) + 1)
		}
		gets++
		ops = append(ops, Op{Type: Read, Req: impls.Request{Kind: impls.Get, Key: strconv.FormatUint(uint64(k), 10)}})
		solution = append(solution, store[k])
	}
	return ops, solution, nil
}

// WriteCS537 writes ops in the CS537 workload format: `put <k> <v>` and
// `get <k>` lines. Only Put and Get requests with unsigned 32-bit decimal
// keys and values fit the format; anything else is an error naming the op's
// index (the course client would silently skip such a line).
func WriteCS537(w io.Writer, ops []Op) error {
	bw := bufio.NewWriter(w)
	for i := range ops {
		req := &ops[i].Req
		if !isUint32(req.Key) {
			return fmt.Errorf("op %d: CS537 keys are unsigned 32-bit numbers, not %q", i, req.Key)
		}
		switch req.Kind {
		case impls.Put:
			if !isUint32(req.Value) {
				return fmt.Errorf("op %d: CS537 values are unsigned 32-bit numbers, not %q", i, req.Value)
			}
			bw.WriteString("put ")
			bw.WriteString(req.Key)
			bw.WriteByte(' ')
			bw.WriteString(req.Value)
		case impls.Get:
			bw.WriteString("get ")
			bw.WriteString(req.Key)
		default:
			return fmt.Errorf("op %d: the CS537 format has no %v", i, req.Kind)
		}
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteSolution writes a CS537 solution file: one value per line.
func WriteSolution(w io.Writer, solution []uint32) error {
	bw := bufio.NewWriter(w)
	var b []byte
	for _, v := range solution {
		b = strconv.AppendUint(b[:0], uint64(v), 10)
		b = append(b, '\n')
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadSolution reads a CS537 solution file (one unsigned 32-bit value per
// line; blank lines are skipped). A malformed line is an error naming it.
func ReadSolution(r io.Reader) ([]uint32, error) {
	var out []uint32
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		t := trimSpace(sc.Bytes())
		if len(t) == 0 {
			continue
		}
		v, err := strconv.ParseUint(string(t), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("solution line %d: %q is not an unsigned 32-bit number", line, t)
		}
		out = append(out, uint32(v))
	}
	return out, sc.Err()
}

// isUint32 reports whether s is a plain decimal unsigned 32-bit number.
func isUint32(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
