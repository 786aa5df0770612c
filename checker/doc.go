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
// Wing-Gong-Lowe with two sound cuts, matching reads placed at once and
// prefixes that overwrote a value still to be read abandoned), whose answer
// counts only when an independent replay accepts its linearization;
// otherwise Porcupine decides, and is the authority for every violation.
//
// What can be decided (measured on a 2-core machine under load ~5, fuzz
// mix with unique random values, 500 ops per client): 50, 60, 70 and 85
// clients on 5 shared keys in 0.05-0.2 s and under 100 MB RSS (kvbench
// check); 85 clients on 5 keys with a crash (214 unknown-outcome writes,
// 7 766 failed ops) in 0.2 s. Before the second cut the same histories took
// 2.4 s / 0.5 GB (50), 7 s / 1.4 GB (60), 15 s / 2.9 GB (70) and gave up at
// the 4 GiB heap limit (85).
//
// What cannot: the search is still exponential in the number of ops
// concurrent on one key when they are interchangeable for the cut: writes
// of a value nobody reads, deletes (absent is not a unique value, so a read
// of absent never makes a delete's placement dead), and Puts whose answer
// only says the key existed. 85 clients on ONE key (every op on it, about
// 85 in flight at once, 10% deletes) exceed the fast search's budget
// (fastSteps, maxFastMemo: ~10^7 steps, 512 MiB) and Porcupine's 60 s: the
// verdict is unknown (BenchmarkCheck/85x60/1keys: 60 s, 4.5 GB allocated),
// never ok. A violating history with tens of clients per key is reported
// as a violation only if Porcupine finds it within the limits; otherwise
// unknown. So a check is bounded by Options.Timeout and Options.MaxHeap
// and then says unknown, never ok.
package checker
