// Package driver owns the measured phase of a run: Clients*Window worker
// goroutines drawing requests from workload streams and sending them through
// impls.Clients, closed or open loop, with one timing wrapper per request
// that feeds both the HdrHistograms (striped: workers share at most
// 2*GOMAXPROCS sets, so memory does not grow with clients; merged by one
// goroutine each interval, outside the stripes' locks) and, when recording,
// the history.
//
// It knows nothing about which store it drives or what faults are injected:
// scenarios.Bench and scenarios.Fuzz set it up, the nemesis runs beside it.
package driver
