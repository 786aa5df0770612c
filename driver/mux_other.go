//go:build !linux

package driver

import (
	"context"
	"sync"

	"github.com/kvbench/kvbench/impls"
)

// startMux: the event loops need epoll (mux_linux.go); elsewhere every
// client keeps its goroutine.
func startMux(context.Context, *sync.WaitGroup, loop, []*worker, []impls.Client, OpenClient) bool {
	return false
}
