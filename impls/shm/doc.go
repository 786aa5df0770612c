// Package shm is seed 000: the CS537 shared-memory ring-buffer KV server and
// the multi-threaded client adapter that drives it.
//
// TODO: measurements.
package shm
