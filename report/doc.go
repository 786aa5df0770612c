// Package report turns result directories into a markdown report with
// figures (gonum/plot, PNG or SVG): the environment, a summary table per
// store × workload, throughput and p99 against clients, stores compared per
// YCSB workload, latency percentile spectra, throughput and p99 over time with
// fault windows shaded, and a consistency matrix of fuzz verdicts.
//
// It reads only what package results writes (run.json, latency.hlog) and
// owns the report's layout: which figures exist, how runs are grouped (by
// store, workload, clients, window and rate; repetitions of one configuration
// merge), and how spread across repetitions is shown. Percentiles come from
// HdrHistograms merged losslessly across clients, intervals and repetitions.
// Output is deterministic for the same runs, so it can be golden-tested.
package report
