// Package checker owns linearizability checking of recorded histories: it
// turns results.Events into Porcupine operations over a per-key KV model
// (Get/Put/Delete/Swap, and Scan projected into one read per key), decides a
// verdict (ok, violation, expected, unknown) under a time limit, names the
// first offending key with a short witness, and writes Porcupine's HTML
// visualization of the violating keys annotated with the run's fault
// windows (check.html). It also re-checks a saved run directory (CheckDir),
// recording the verdict in run.json.
//
// Encoding of a history (the contract the tests pin down):
//   - Partitioning is by key; each key starts absent.
//   - An op with outcome "fail" is dropped: a definite failure left the store
//     unchanged.
//   - An op with outcome "unknown" is dropped if it is a read (Get, Scan);
//     a write (Put, Delete, Swap) returns at +infinity (after every other op
//     in the history) and its output is not compared, so it may take effect
//     at any point after its call, or never as far as any observer can tell.
//   - A Scan [Key, End] becomes one read per key of the key universe inside
//     the range: present with the returned value if the key is in Pairs,
//     absent otherwise. The key universe is every Req.Key of a non-scan op;
//     scanned keys outside it are foreign data and are ignored. Each
//     projected read is checked on its own key only: a scan need not be
//     atomic across keys.
//   - Response fields the protocol does not reveal (impls.Unknown) are not
//     compared.
//
// How it stays fast: each key is checked on its own, GOMAXPROCS keys at a
// time, and its operations are built only while it is checked; a key's
// history is further cut at quiescent points where its state is determined
// (see segment), which keeps Porcupine's memory roughly linear in the
// history's length. Each segment first goes to a fast search (fast.go:
// Wing-Gong-Lowe with sound cuts: matching reads placed at once; a prefix
// abandoned once it overwrote a value an op left still has to read, or
// made the key present (absent) while an op left that needs it absent
// (present) returns before any delete (write) left is called), whose
// answer counts only when an independent replay accepts its
// linearization; otherwise Porcupine decides, and is the authority for
// every violation. The search memoizes its linearized set as a window
// around the first op not placed, so memory per step follows the
// concurrency, not the segment's length (a history on one key with an
// unknown-outcome write is one segment of every op).
//
// What can be decided (kvbench check, 2-core machine at load 5-9, real
// memkv fuzz histories, MadKV mix with unique random values, 500 ops per
// client): 50, 60, 70 and 85 clients on 5 shared keys in 0.1-0.5 s and
// under 80 MB RSS; 85 clients with a crash (214 unknown-outcome writes,
// 7 766 failed ops) in 0.2 s; 85 clients on ONE key (42 500 ops, one
// segment) in 0.5-0.9 s and about 100 MB; YCSB A and F on 1 000 records
// with 85 clients in 0.1 s. Before these cuts the 5-key histories took
// 2.4 s / 0.5 GB (50), 7 s / 1.4 GB (60), 15 s / 2.9 GB (70) and gave up
// at the 4 GiB heap limit (85, and 85 on one key).
//
// What cannot: the search stays exponential in the ops concurrent on one
// key that the cuts cannot tell apart: reads of absent and Puts or Deletes
// that only say whether the key existed (absent is no unique value, so
// which delete serves which read is a matching problem), writes of values
// nobody reads, and unknown-outcome writes (each may or may not have taken
// effect). Histories whose op windows each span most of the other
// clients' ops on the same key, as genHistory's jittered ones with 85
// clients on one key (about 85 ops in flight on the key, every window
// yielding the processor twice, some reads' windows 400 times the others'),
// can exceed the fast search's budget (fastSteps: 100 000 + 2 000 steps
// per op; maxFastMemo: 512 MiB) and then Porcupine's 4 GiB or 60 s: on
// saved ones, 85x60 on one key was proved for 4 of 4 seeds, 85x200 for 2
// of 4, 85x60 with 1% unknown-outcome and 3% failed ops for 1 of 4; the
// others end unknown, never ok.
//
// Violations are Porcupine's to prove, and it must exhaust the violating
// segment. An unknown-outcome write keeps its key from being cut after its
// call, so one lost update late in a faulty run can leave thousands of
// ops in one segment: 5 clients × 5 000 ops on 5 keys with 1% unknown and
// 2% failed ops and one corrupted read ends unknown after 30 s (as before
// the fast search's cuts); 20 clients × 1 000 such ops: violation in 1 s
// (3.8 s before); 50 clients × 500 ops, no faults: violation in 16 s
// (42 s before). The fast search does not report violations: its cuts
// would make an exhausted search a proof, but the witness and the
// authority stay Porcupine's. A check is bounded by Options.Timeout and Options.MaxHeap
// and then says unknown, never ok.
package checker
