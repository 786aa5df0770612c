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
// history's length. What remains exponential is concurrency on one key:
// tens of clients hammering a handful of keys can outgrow any budget, so a
// check is bounded by Options.Timeout and Options.MaxHeap and then says
// unknown, never ok.
package checker
