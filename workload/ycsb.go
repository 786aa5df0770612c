package workload

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/kvbench/kvbench/impls"
)

// YCSB is one configured YCSB core workload (site.ycsb.workloads.CoreWorkload)
// for one run: it owns the state YCSB shares between client threads (the
// acknowledged insert counter, the sequential counter), so build a new one
// per run. Its methods are safe for concurrent use; each Stream it returns is
// used by one goroutine.
//
// How YCSB's records map onto a key-value store (one value per key):
//   - A record is one key, "user" (property keyprefix, a kvbench extension)
//     then the record number, FNV-64 hashed when insertorder=hashed (the
//     default), zero-padded to zeropadding digits (default 1): YCSB's
//     buildKeyName.
//   - A record's fieldcount fields of fieldlength bytes (fieldcount=10,
//     fieldlength=100 by default; lengths drawn per field when
//     fieldlengthdistribution is uniform or zipfian) become one value: the
//     concatenation, fieldcount*fieldlength random alphanumeric bytes. An
//     UPDATE or READ-MODIFY-WRITE writes a whole value (YCSB's default
//     writeallfields=false writes one field, which a key-value store cannot).
//     Values are slices of one pre-generated random buffer at random
//     offsets: no allocation per op, and values repeat now and then.
//   - READ is a Get; UPDATE and INSERT are Puts (op types Update and
//     Insert); READ-MODIFY-WRITE is op type ReadModifyWrite with the Put as
//     Req (the driver reads the key first); SCAN is a Scan from the chosen
//     start key to End, see below.
//   - YCSB scans "n records from the start key". kvbench's stores scan an
//     inclusive key range, so End is the key n-1 places after the start key
//     in key order among the loaded records (a sorted index built once; with
//     more than 2^20 records the index samples every k-th record, so a range
//     holds about n records, rounded up to a multiple of k). Records
//     inserted during the run fall inside ranges too, as they would for
//     YCSB. This is not "the key of number start+n-1": with hashed keys (or
//     zeropadding=1) record numbers and key order are unrelated.
//
// The properties it reads, with YCSB's defaults: recordcount (required),
// operationcount (0), insertstart (0), insertcount (recordcount-insertstart),
// readproportion (0.95), updateproportion (0.05), insertproportion (0),
// scanproportion (0), readmodifywriteproportion (0), requestdistribution
// (uniform; zipfian, latest, hotspot, exponential, sequential), zipfianconstant
// (0.99, for zipfian and latest; a kvbench extension, in [0, 1)),
// hotspotdatafraction (0.2), hotspotopnfraction (0.8), exponential.percentile
// (95), exponential.frac (0.8571428571), insertorder (hashed; ordered),
// zeropadding (1), keyprefix (user), fieldcount (10), fieldlength (100),
// minfieldlength (1), fieldlengthdistribution (constant; uniform, zipfian),
// minscanlength (1), maxscanlength (1000), scanlengthdistribution (uniform;
// zipfian). Other properties (workload, readallfields, db settings) are
// ignored, as YCSB ignores what the workload does not read.
//
// operationcount matters only for requestdistribution=zipfian: as YCSB, the
// scrambled zipfian spans insertcount + 2*operationcount*insertproportion
// keys so that popular keys stay put as inserts arrive; set it to the run's
// op count.
type YCSB struct {
	props Properties

	recordCount, insertStart, insertCount, operationCount int64

	keys keyFormat

	opTypes     []OpType  // in YCSB's order: READ, UPDATE, INSERT, SCAN, RMW
	opCumProb   []float64 // cumulative normalized proportions
	proportions []proportion

	distribution string
	chooser      keyChooser // shared, stateless (or atomic) choosers
	latest       *zipfian   // requestdistribution=latest: copied per stream
	seqCounter   atomic.Int64

	ack *ackCounter

	keyCache []string // keys of records [0, len(keyCache)), shared read-only

	scanLen  lengthGen
	fieldLen lengthGen
	fields   int64
	valueBuf string
	scanIdx  *scanIndex
}

// maxKeyCache bounds the number of record keys NewYCSB formats once up
// front (about 10 MiB), so streams need not format (and hash) a key per op.
const maxKeyCache = 1 << 18

// valueBufSlack is how much longer than the longest value the shared value
// buffer is, so random offsets give varied values.
const valueBufSlack = 64 << 10

// NewYCSB validates p and builds the workload. Errors name the offending
// property and wrap ErrBadProperty.
func NewYCSB(p Properties) (*YCSB, error) {
	y := &YCSB{props: p.Clone()}
	g := propGetter{p: p}

	y.recordCount = g.int("recordcount", -1)
	y.operationCount = g.int("operationcount", 0)
	y.insertStart = g.int("insertstart", 0)
	if g.err == nil {
		y.insertCount = g.int("insertcount", y.recordCount-y.insertStart)
	}
	pad := g.int("zeropadding", 1)
	y.fields = g.int("fieldcount", 10)
	fieldLength := g.int("fieldlength", 100)
	minFieldLength := g.int("minfieldlength", 1)
	minScan := g.int("minscanlength", 1)
	maxScan := g.int("maxscanlength", 1000)
	theta := g.float("zipfianconstant", ycsbZipfianConstant)
	hotData := g.float("hotspotdatafraction", 0.2)
	hotOpn := g.float("hotspotopnfraction", 0.8)
	expPercentile := g.float("exponential.percentile", 95)
	expFrac := g.float("exponential.frac", 0.8571428571)
	props := [...]struct {
		name string
		def  float64
		t    OpType
	}{
		{"readproportion", 0.95, Read},
		{"updateproportion", 0.05, Update},
		{"insertproportion", 0, Insert},
		{"scanproportion", 0, ScanOp},
		{"readmodifywriteproportion", 0, ReadModifyWrite},
	}
	var weights []float64
	var sum, insertProportion, scanProportion float64
	for _, pr := range props {
		w := g.float(pr.name, pr.def)
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			g.fail(pr.name, "must be a non-negative number")
		}
		switch pr.t {
		case Insert:
			insertProportion = w
		case ScanOp:
			scanProportion = w
		}
		if w > 0 {
			y.opTypes = append(y.opTypes, pr.t)
			weights = append(weights, w)
			sum += w
		}
	}
	if g.err != nil {
		return nil, g.err
	}
	// The choices by name first: a bad one is the property to blame even
	// when recordcount is missing too.
	for _, c := range []struct {
		name, def string
		allowed   []string
	}{
		{"requestdistribution", "uniform", []string{"uniform", "zipfian", "latest", "hotspot", "exponential", "sequential"}},
		{"insertorder", "hashed", []string{"hashed", "ordered"}},
		{"fieldlengthdistribution", "constant", []string{"constant", "uniform", "zipfian"}},
		{"scanlengthdistribution", "uniform", []string{"uniform", "zipfian"}},
	} {
		if v := g.str(c.name, c.def); !slices.Contains(c.allowed, v) {
			why := "must be one of " + strings.Join(c.allowed, ", ")
			if c.name == "fieldlengthdistribution" {
				why += " (histogram is not supported)"
			}
			return nil, badProp(c.name, p, why)
		}
	}

	switch {
	case pad < 0 || pad > 1000:
		return nil, badProp("zeropadding", p, "must be in [0, 1000]")
	case y.fields < 1:
		return nil, badProp("fieldcount", p, "must be a positive integer")
	case fieldLength < 1:
		return nil, badProp("fieldlength", p, "must be a positive integer")
	case y.fields*fieldLength > 64<<20 || y.fields*fieldLength < 0:
		return nil, badProp("fieldlength", p, "fieldcount*fieldlength must be at most 64 MiB")
	case sum <= 0:
		return nil, fmt.Errorf("%w: the operation proportions (readproportion, updateproportion, insertproportion, scanproportion, readmodifywriteproportion) sum to 0", ErrBadProperty)
	case y.recordCount == -1 && p["recordcount"] == "":
		return nil, fmt.Errorf("%w: recordcount is not set: give it in the property file, with -p recordcount=N or --records N", ErrBadProperty)
	case y.recordCount <= 0:
		return nil, badProp("recordcount", p, "must be a positive integer")
	case y.operationCount < 0:
		return nil, badProp("operationcount", p, "must not be negative")
	case y.insertStart < 0:
		return nil, badProp("insertstart", p, "must not be negative")
	case y.insertCount <= 0 || y.insertStart+y.insertCount > y.recordCount:
		return nil, badProp("insertcount", p, "must be positive with insertstart+insertcount <= recordcount")
	}
	for _, pr := range props {
		if w := g.float(pr.name, pr.def); w > 0 {
			y.proportions = append(y.proportions, proportion{pr.name, w})
		}
	}
	acc := 0.0
	for _, w := range weights {
		acc += w / sum
		y.opCumProb = append(y.opCumProb, acc)
	}
	y.opCumProb[len(y.opCumProb)-1] = 1

	// Keys.
	y.keys = keyFormat{prefix: g.str("keyprefix", "user"), pad: int(pad)}
	switch order := g.str("insertorder", "hashed"); order {
	case "hashed":
	case "ordered":
		y.keys.ordered = true
	default:
		return nil, badProp("insertorder", p, "must be hashed or ordered")
	}

	// Field lengths.
	y.fieldLen = lengthGen{kind: g.str("fieldlengthdistribution", "constant"), min: minFieldLength, max: fieldLength}
	switch y.fieldLen.kind {
	case "constant":
	case "uniform", "zipfian":
		if minFieldLength < 1 || minFieldLength > fieldLength {
			return nil, badProp("minfieldlength", p, "must be in [1, fieldlength]")
		}
		if y.fieldLen.kind == "zipfian" {
			y.fieldLen.z = newZipfian(minFieldLength, fieldLength, ycsbZipfianConstant, 0)
		}
	default:
		return nil, badProp("fieldlengthdistribution", p, "must be constant, uniform or zipfian (histogram is not supported)")
	}

	// Scan lengths.
	y.scanLen = lengthGen{kind: g.str("scanlengthdistribution", "uniform"), min: minScan, max: maxScan}
	if minScan < 1 || maxScan < minScan {
		return nil, badProp("maxscanlength", p, fmt.Sprintf("must be >= minscanlength (%d) >= 1", minScan))
	}
	switch y.scanLen.kind {
	case "uniform":
	case "zipfian":
		y.scanLen.z = newZipfian(minScan, maxScan, ycsbZipfianConstant, 0)
	default:
		return nil, badProp("scanlengthdistribution", p, "must be uniform or zipfian")
	}

	// Key chooser, as CoreWorkload.init.
	y.distribution = g.str("requestdistribution", "uniform")
	switch y.distribution {
	case "uniform":
		y.chooser = uniformChooser{lo: y.insertStart, n: y.insertCount}
	case "sequential":
		y.chooser = sequentialChooser{lo: y.insertStart, n: y.insertCount, counter: &y.seqCounter}
	case "hotspot":
		if !(hotData >= 0 && hotData <= 1) {
			return nil, badProp("hotspotdatafraction", p, "must be in [0, 1]")
		}
		if !(hotOpn >= 0 && hotOpn <= 1) {
			return nil, badProp("hotspotopnfraction", p, "must be in [0, 1]")
		}
		hot := int64(float64(y.insertCount) * hotData)
		y.chooser = hotspotChooser{lo: y.insertStart, hot: hot, cold: y.insertCount - hot, opnFraction: hotOpn}
	case "exponential":
		if !(expPercentile > 0 && expPercentile < 100) {
			return nil, badProp("exponential.percentile", p, "must be in (0, 100)")
		}
		if !(expFrac > 0) || math.IsInf(expFrac, 0) {
			return nil, badProp("exponential.frac", p, "must be positive")
		}
		y.chooser = exponentialChooser{gamma: -math.Log(1-expPercentile/100) / (float64(y.recordCount) * expFrac)}
	case "zipfian", "latest":
		if !(theta >= 0 && theta < 1) {
			return nil, badProp("zipfianconstant", p, "must be in [0, 1)")
		}
		if y.distribution == "latest" {
			// SkewedLatestGenerator: a zipfian over the acknowledged
			// counter's last value, recordcount-1 at the start.
			y.latest = newZipfian(0, y.recordCount-2, theta, 0)
			break
		}
		expectedNewKeys := int64(float64(y.operationCount) * insertProportion * 2)
		zetan := scrambledZetan
		if theta != ycsbZipfianConstant {
			zetan = zetaStatic(scrambledZetaItems, theta)
		}
		y.chooser = scrambledChooser{
			lo: y.insertStart,
			n:  y.insertCount + expectedNewKeys + 1,
			z:  newZipfian(0, scrambledItemCount, theta, zetan),
		}
	default:
		return nil, badProp("requestdistribution", p, "must be one of uniform, zipfian, latest, hotspot, exponential, sequential")
	}

	y.ack = newAckCounter(y.recordCount)

	y.keyCache = make([]string, min(y.recordCount, maxKeyCache))
	for n := range y.keyCache {
		y.keyCache[n] = y.keys.key(int64(n))
	}

	maxValue := int(y.fields * fieldLength)
	buf := make([]byte, maxValue+valueBufSlack)
	fillAlnum(newRand(0x76616c756573), buf) // fixed: values do not depend on the run's seed
	y.valueBuf = string(buf)

	if scanProportion > 0 {
		y.scanIdx = newScanIndex(y.Key, y.insertStart, y.insertCount)
	}
	return y, nil
}

// RecordCount is the recordcount property.
func (y *YCSB) RecordCount() int64 { return y.recordCount }

// OperationCount is the operationcount property (0 when unset).
func (y *YCSB) OperationCount() int64 { return y.operationCount }

// LoadRange returns the record numbers the load phase inserts:
// [insertstart, insertstart+insertcount).
func (y *YCSB) LoadRange() (start, count int64) { return y.insertStart, y.insertCount }

// Key returns the key of record number n.
func (y *YCSB) Key(n int64) string {
	if n >= 0 && n < int64(len(y.keyCache)) {
		return y.keyCache[n]
	}
	return y.keys.key(n)
}

// Properties returns a copy of the properties y was built from.
func (y *YCSB) Properties() Properties { return y.props.Clone() }

// newRand returns the PCG-seeded source kvbench uses for seed s.
func newRand(s int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(s), uint64(s)^0x6b7662656e636821))
}

// LoadStream returns worker's share of the load phase: Insert ops (Puts) of
// the records [insertstart, insertstart+insertcount), split among workers in
// contiguous blocks of near-equal size (earlier workers get the remainder),
// as Split does. Unlike YCSB's shared counter, the split does not depend on
// timing. Values are drawn from seed+worker. It panics unless
// 0 <= worker < workers.
func (y *YCSB) LoadStream(worker, workers int, seed int64) Stream {
	if workers < 1 || worker < 0 || worker >= workers {
		panic(fmt.Sprintf("workload: LoadStream(worker %d, workers %d)", worker, workers))
	}
	base, extra := y.insertCount/int64(workers), y.insertCount%int64(workers)
	w := int64(worker)
	lo := y.insertStart + w*base + min(w, extra)
	n := base
	if w < extra {
		n++
	}
	return &loadStream{y: y, next: lo, end: lo + n, r: newRand(seed + int64(worker))}
}

type loadStream struct {
	y         *YCSB
	next, end int64
	r         *rand.Rand
	arena     keyArena
}

var _ Stream = (*loadStream)(nil)

// Next implements Stream.
func (s *loadStream) Next(op *Op) bool {
	if s.next >= s.end {
		return false
	}
	*op = Op{Type: Insert, Req: impls.Request{
		Kind:  impls.Put,
		Key:   s.y.key(&s.arena, s.next),
		Value: s.y.value(s.r),
	}}
	s.next++
	return true
}

// RunStream returns worker's transaction-phase stream, drawing from
// seed+worker. It never ends: the driver decides how many ops to take. The
// stream implements Acker: the driver must call Ack after each successful
// op, so inserted keys become readable (YCSB's acknowledged insert counter;
// inserts not acknowledged within maxPendingInserts later inserts of the
// same stream are taken as failed and released, as YCSB acknowledges a
// failed insert too).
//
// The same seed gives the same stream as long as inserts are acknowledged in
// the same order: with several workers inserting (workloads D and E), the
// insert key numbers and the readable range depend on how the workers
// interleave, exactly as in YCSB; requestdistribution=sequential also shares
// one counter among workers.
func (y *YCSB) RunStream(worker int, seed int64) Stream {
	s := &runStream{y: y, r: newRand(seed + int64(worker)), chooser: y.chooser}
	if y.latest != nil {
		z := *y.latest // each stream extends zeta on its own
		s.chooser = latestChooser{z: &z}
	}
	return s
}

// maxPendingInserts bounds the inserts a run stream remembers until they
// are acknowledged.
const maxPendingInserts = 256

type pendingInsert struct {
	key string
	num int64
}

type runStream struct {
	y       *YCSB
	r       *rand.Rand
	chooser keyChooser
	arena   keyArena
	pending []pendingInsert
}

var (
	_ Stream = (*runStream)(nil)
	_ Acker  = (*runStream)(nil)
)

// Next implements Stream.
func (s *runStream) Next(op *Op) bool {
	y := s.y
	t := y.opTypes[len(y.opTypes)-1]
	u := s.r.Float64()
	for i, c := range y.opCumProb {
		if u < c {
			t = y.opTypes[i]
			break
		}
	}
	switch t {
	case Insert:
		n := y.ack.next()
		key := y.key(&s.arena, n)
		if len(s.pending) == maxPendingInserts {
			y.ack.acknowledge(s.pending[0].num)
			s.pending = append(s.pending[:0], s.pending[1:]...)
		}
		s.pending = append(s.pending, pendingInsert{key: key, num: n})
		*op = Op{Type: Insert, Req: impls.Request{Kind: impls.Put, Key: key, Value: y.value(s.r)}}
	case Read:
		*op = Op{Type: Read, Req: impls.Request{Kind: impls.Get, Key: s.chooseKey()}}
	case Update, ReadModifyWrite:
		key := s.chooseKey()
		*op = Op{Type: t, Req: impls.Request{Kind: impls.Put, Key: key, Value: y.value(s.r)}}
	case ScanOp:
		key := s.chooseKey()
		n := y.scanLen.next(s.r)
		*op = Op{Type: ScanOp, Req: impls.Request{Kind: impls.Scan, Key: key, End: y.scanIdx.end(key, n)}}
	}
	return true
}

func (s *runStream) chooseKey() string {
	return s.y.key(&s.arena, s.chooser.next(s.r, s.y.ack.last()))
}

// key returns record n's key from the cache, or else formatted into arena.
func (y *YCSB) key(arena *keyArena, n int64) string {
	if n < int64(len(y.keyCache)) {
		return y.keyCache[n]
	}
	return arena.key(y.keys, n)
}

// Ack implements Acker: an acknowledged insert makes its key readable.
func (s *runStream) Ack(op *Op) {
	if op.Type != Insert {
		return
	}
	for i, p := range s.pending {
		if p.key == op.Req.Key {
			s.y.ack.acknowledge(p.num)
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			return
		}
	}
}

// value returns a random value: a slice of the shared buffer.
func (y *YCSB) value(r *rand.Rand) string {
	var n int64
	if y.fieldLen.kind == "constant" {
		n = y.fields * y.fieldLen.max
	} else {
		for range y.fields {
			n += y.fieldLen.next(r)
		}
	}
	off := r.IntN(len(y.valueBuf) - int(n) + 1)
	return y.valueBuf[off : off+int(n)]
}

// propGetter reads typed properties, keeping the first error.
type propGetter struct {
	p   Properties
	err error
}

func (g *propGetter) fail(name, why string) {
	if g.err == nil {
		g.err = badProp(name, g.p, why)
	}
}

func (g *propGetter) str(name, def string) string {
	if v, ok := g.p[name]; ok {
		return v
	}
	return def
}

func (g *propGetter) int(name string, def int64) int64 {
	v, ok := g.p[name]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		g.fail(name, "must be an integer")
		return def
	}
	return n
}

func (g *propGetter) float(name string, def float64) float64 {
	v, ok := g.p[name]
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		g.fail(name, "must be a number")
		return def
	}
	return f
}

func badProp(name string, p Properties, why string) error {
	if v, ok := p[name]; ok {
		return fmt.Errorf("%w: %s=%q: %s", ErrBadProperty, name, v, why)
	}
	return fmt.Errorf("%w: %s %s", ErrBadProperty, name, why)
}
