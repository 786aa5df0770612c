// Package shm is seed 000: the CS537 shared-memory ring-buffer KV server and
// its multi-threaded client.
package shm

import "github.com/kvbench/kvbench/impls"

// Impl describes shm for the registry.
func Impl() *impls.Impl {
	return &impls.Impl{Name: "shm", Summary: "shared-memory ring buffer + status board, u32 keys (seed 000)"}
}
