package checker

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

// Options configures a check.
type Options struct {
	// Timeout bounds the linearizability search over all keys; 0 means no
	// limit. When a violation is found, the witness search and the verbose
	// check behind check.html get a budget of their own of the same length.
	Timeout time.Duration
	// Faults are the run's fault windows; check.html shows them.
	Faults []results.Fault
	// Claim is what the store promises for the run's configuration. nil
	// means it must be linearizable (external targets). A violation under a
	// claim that is not Linearizable is reported as VerdictExpected.
	Claim *impls.Claim
	// MaxHeap is how far, in bytes, the Go heap may grow during the check
	// before it gives up with VerdictUnknown; 0 means DefaultMaxHeap,
	// negative no limit.
	MaxHeap int64
	// minSegment overrides defaultMinSegment (tests cut histories finer).
	minSegment int
}

// Result is the outcome of a check.
type Result struct {
	// Verdict is results.VerdictOK, VerdictViolation, VerdictExpected or
	// VerdictUnknown (timed out, cancelled, or a malformed history). Unknown
	// is never a pass.
	Verdict string
	// Detail is one line: for ok, the keys checked; for a violation, the
	// offending key and a witness (the first op that cannot be linearized
	// and the key's state after the longest linearizable prefix); for
	// expected, the claim that predicted it, then the same; for unknown, why.
	Detail string
	// Key is the first offending key on a violation (the one whose witness
	// returns first), "" otherwise.
	Key string
	// Violating counts the keys found not linearizable.
	Violating int
	// Ops is the number of history operations checked: every op except
	// definite failures and reads whose outcome is unknown.
	Ops int
	// Keys is the number of keys checked (partitions with at least one op).
	Keys int
	// Elapsed is the checker's wall time.
	Elapsed time.Duration
	// HTML is the visualization's path, relative to the run directory, when
	// CheckDir wrote one; "" otherwise.
	HTML string
}

// Record converts r into what run.json stores.
func (r Result) Record() *results.Check {
	return &results.Check{
		Verdict: r.Verdict, Detail: r.Detail, Ops: r.Ops,
		Seconds: r.Elapsed.Seconds(), HTML: r.HTML,
	}
}

// maxWitnesses bounds how many violating keys get a verbose witness search.
const maxWitnesses = 8

// Check decides whether events form a linearizable history of a key-value
// store (see the package comment for how events are encoded). It checks
// every key in parallel within opts.Timeout and the lifetime of ctx;
// cancelling ctx yields VerdictUnknown. A violation on any key is a
// violation even if other keys were left undecided.
func Check(ctx context.Context, events []results.Event, opts Options) Result {
	start := time.Now()
	h, err := build(events)
	if err != nil {
		return Result{Verdict: results.VerdictUnknown, Detail: "malformed history: " + err.Error(),
			Elapsed: time.Since(start)}
	}
	r, _ := check(ctx, h, opts)
	r.Elapsed = time.Since(start)
	return r
}

// check runs the time-limited check of h and returns the result and, for
// each violating key in key order, its first violating segment.
func check(ctx context.Context, h *history, opts Options) (Result, []segment) {
	r := Result{Ops: h.ops}
	if h.answered == 0 && len(h.events) > 0 {
		// Every operation failed or went unanswered: any store would pass
		// such a history, so it proves nothing.
		r.Verdict = results.VerdictUnknown
		r.Detail = fmt.Sprintf("no operation was answered (%d recorded: failed or outcome unknown): nothing to check", len(h.events))
		return r, nil
	}
	gctx, stop := heapGuard(ctx, opts.MaxHeap)
	defer stop()
	verdicts, first := checkKeys(gctx, h, opts.Timeout, opts.minSegment)
	var bad []segment
	undecided := 0
	for k, v := range verdicts {
		if h.size(k) > 0 {
			r.Keys++
		}
		switch v {
		case porcupine.Illegal:
			bad = append(bad, first[k])
		case porcupine.Unknown:
			undecided++
		}
	}
	switch {
	case len(bad) > 0:
		r.Verdict = results.VerdictViolation
		r.Violating = len(bad)
		r.Key, r.Detail = describeViolation(gctx, h, bad, opts.Timeout)
		if opts.Claim != nil && !opts.Claim.Linearizable {
			r.Verdict = results.VerdictExpected
			r.Detail = fmt.Sprintf("expected (%s): %s", opts.Claim.Why, r.Detail)
		}
	case undecided > 0:
		r.Verdict = results.VerdictUnknown
		why := "timed out after " + opts.Timeout.String()
		if ctx.Err() != nil {
			why = "cancelled"
		} else if hl := (*heapLimitError)(nil); errors.As(context.Cause(gctx), &hl) {
			why = hl.Error()
		}
		r.Detail = fmt.Sprintf("%s; %d of %s undecided, no violation found in the others",
			why, undecided, plural(r.Keys, "key"))
	default:
		r.Verdict = results.VerdictOK
		r.Detail = plural(r.Keys, "key") + ", linearizable"
	}
	return r, bad
}

// checkKeys checks every key, GOMAXPROCS keys at a time, largest first,
// building each key's operations only while it is checked. Per key it
// returns Ok, Illegal or Unknown (the time limit passed or ctx was done
// first) and, for Illegal, the first violating segment.
func checkKeys(ctx context.Context, h *history, timeout time.Duration, minSeg int) ([]porcupine.CheckResult, []segment) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	model := newModel(ctx)
	var order []int
	for k := range h.keys {
		if h.size(k) > 0 {
			order = append(order, k)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return h.size(order[a]) > h.size(order[b]) })
	verdicts := make([]porcupine.CheckResult, len(h.keys))
	first := make([]segment, len(h.keys))
	if minSeg <= 0 {
		minSeg = defaultMinSegment
	}
	jobs := make(chan int, 64)
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(order)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				if ctx.Err() != nil {
					verdicts[k] = porcupine.Unknown // do not even build it
					continue
				}
				verdicts[k] = porcupine.Ok
				for _, seg := range split(h.partition(k), minSeg) {
					if fastLinearize(ctx, seg.ops, fastSteps(len(seg.ops))) {
						continue // a verified linearization: no need to ask Porcupine
					}
					v := checkOne(ctx, model, seg.ops)
					if v == porcupine.Illegal {
						verdicts[k], first[k] = v, seg
						break
					}
					if v == porcupine.Unknown {
						verdicts[k] = v // a later segment may still prove a violation
					}
				}
			}
		}()
	}
	for _, k := range order {
		jobs <- k
	}
	close(jobs)
	wg.Wait()
	for k := range h.keys {
		if h.size(k) == 0 {
			verdicts[k] = porcupine.Ok
		}
	}
	return verdicts, first
}

// checkOne checks one segment until ctx is done.
func checkOne(ctx context.Context, model porcupine.Model, ops []porcupine.Operation) porcupine.CheckResult {
	if ctx.Err() != nil {
		return porcupine.Unknown
	}
	res := porcupine.CheckOperationsTimeout(model, ops, budget(ctx))
	if res != porcupine.Ok && ctx.Err() != nil {
		// The model fails every step once ctx is done, so Illegal is not
		// to be trusted then; Ok always is.
		return porcupine.Unknown
	}
	return res
}

// fastSteps bounds fastLinearize on a segment of n ops: past it, Porcupine
// decides. A step costs well under a microsecond, so a 5 000-op segment of
// 85 clients on one key gets a few seconds; the search's memo is bounded
// by maxFastMemo, so Porcupine keeps the heap guard's budget.
func fastSteps(n int) int { return 100_000 + 2000*n }

// maxFastMemo bounds the bytes fastLinearize spends memoizing explored
// (linearized set, state) pairs on one segment.
const maxFastMemo = 512 << 20

// budget is the time left before ctx's deadline in Porcupine's terms (0 is
// no limit, so an expired deadline becomes the smallest positive value).
func budget(ctx context.Context) time.Duration {
	d, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	return max(time.Until(d), 1)
}

// witness is the first operation of a key that cannot be linearized.
type witness struct {
	key    string
	op     *op
	state  *state // the key's state after the longest linearizable prefix
	last   *op    // the prefix's last op; nil for an empty prefix
	prefix int    // length of the longest linearizable prefix
	total  int    // ops on the key
}

// describeViolation searches witnesses for up to maxWitnesses violating
// keys (in key order, within a fresh budget of timeout) and describes the
// one that returns first. Without any witness it names the first key.
func describeViolation(ctx context.Context, h *history, bad []segment, timeout time.Duration) (key, detail string) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	model := newModel(ctx)
	var best *witness
	for _, p := range bad[:min(len(bad), maxWitnesses)] {
		w := findWitness(ctx, model, p)
		if w != nil && (best == nil || w.op.ret < best.op.ret) {
			best = w
		}
	}
	var b strings.Builder
	if best == nil {
		key = bad[0].key
		fmt.Fprintf(&b, "key %q: not linearizable (%d ops on the key; no witness within the time limit)",
			key, bad[0].total)
	} else {
		key = best.key
		fmt.Fprintf(&b, "key %q: client %d %v during [%s, %s] cannot be linearized; the key is %v after the longest linearizable prefix (%d of %d ops",
			key, best.op.client, best.op, fmtTime(best.op.call, h.end), fmtTime(best.op.ret, h.end),
			best.state, best.prefix, best.total)
		if best.last != nil {
			fmt.Fprintf(&b, ", last: client %d %v", best.last.client, best.last)
		}
		b.WriteString(")")
	}
	if len(bad) > 1 {
		others := make([]string, 0, 3)
		for _, p := range bad {
			if p.key != key && len(others) < 3 {
				others = append(others, fmt.Sprintf("%q", p.key))
			}
		}
		more := ""
		if len(bad)-1 > len(others) {
			more = ", ..."
		}
		fmt.Fprintf(&b, "; %d more %s: %s%s", len(bad)-1, map[bool]string{true: "key violates", false: "keys violate"}[len(bad) == 2],
			strings.Join(others, ", "), more)
	}
	return key, b.String()
}

// findWitness runs the verbose check of one violating segment and picks,
// among the ops outside its longest partial linearization, the one that
// returns first. It returns nil if the search did not finish.
func findWitness(ctx context.Context, model porcupine.Model, p segment) *witness {
	if ctx.Err() != nil {
		return nil
	}
	res, info := porcupine.CheckOperationsVerbose(model, p.ops, budget(ctx))
	if res != porcupine.Illegal || ctx.Err() != nil {
		return nil
	}
	partials := info.PartialLinearizations()
	if len(partials) != 1 {
		return nil
	}
	var longest []int
	for _, l := range partials[0] {
		if len(l) > len(longest) || len(l) == len(longest) && lessInts(l, longest) {
			longest = l
		}
	}
	w := &witness{key: p.key, state: absent, prefix: p.offset + len(longest) - p.carried(), total: p.total}
	in := make([]bool, len(p.ops))
	for _, id := range longest {
		in[id] = true
		o := p.ops[id].Input.(*op)
		_, w.state = step(w.state, o)
		if !o.carried {
			w.last = o
		}
	}
	for id, po := range p.ops {
		o := po.Input.(*op)
		if !in[id] && (w.op == nil || o.ret < w.op.ret) {
			w.op = o
		}
	}
	if w.op == nil {
		return nil
	}
	return w
}

func lessInts(a, b []int) bool {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// fmtTime prints a history time (ns since the run's start); end is +inf.
func fmtTime(ns, end int64) string {
	if ns >= end {
		return "∞"
	}
	return time.Duration(ns).String()
}

// plural formats n with noun, adding an s unless n is 1: "1 key", "5 keys".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
