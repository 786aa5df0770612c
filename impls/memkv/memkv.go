// Package memkv is seed 004: a memcached-text-protocol TCP server, durable,
// plus the memcached adapter that drives it and any real memcached.
package memkv

import "github.com/kvbench/kvbench/impls"

// Impl describes memkv for the registry.
func Impl() *impls.Impl {
	return &impls.Impl{Name: "memkv", Summary: "memcached text protocol over TCP, durable (seed 004)"}
}
