// Package scenarios owns running things: the driver (load workers, closed and
// open loop, per-worker histograms, history recording), the nemesis (crash and
// pause faults), Bench and Fuzz (one complete run: start the store, drive it,
// write the results dir), and scenario files (*.yaml) describing sweeps.
package scenarios
