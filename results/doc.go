// Package results owns what a run writes to disk and reads back: run.json
// (the run's description and per-op summary), latency.hlog (an HdrHistogram
// interval log, one tag per op type), history.jsonl (one Event per operation,
// when recorded) and the fault timeline. Every file is written atomically
// (temp file + rename); `kvbench check` and `kvbench report` read only these.
package results
