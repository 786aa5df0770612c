//go:build !amd64

package shm

// storeRelease stores v at p with at least release ordering; off amd64 it
// is the sequentially consistent store (see storerel_amd64.go).
func storeRelease(p *uint32, v uint32) { store(p, v) }
