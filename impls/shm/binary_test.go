package shm

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/internal/kvbenchtest"
)

// TestBinary starts the real `kvbench serve shm` through Impl().Start, as
// `kvbench run` does, and drives it from several clients and windows, each
// goroutine checking its own keys against a model; then crashes and
// restarts the server.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts kvbench")
	}
	bin := kvbenchtest.Binary(t)
	im := Impl()
	for _, w := range []int{1, 2, 8} {
		t.Run(fmt.Sprintf("w=%d", w), func(t *testing.T) {
			const n = 3
			var log syncBuffer
			c, err := im.Start(context.Background(), impls.StartEnv{Exe: bin, Dir: t.TempDir(),
				Clients: n, Window: w, Flags: []string{"-n", "2", "-s", "10"}, Log: &log})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for id := range n {
				cl := mustClient(t, c, id)
				for g := range w {
					wg.Add(1)
					go func() {
						defer wg.Done()
						checkModel(t, cl, strconv.Itoa((id*w+g)*1000000), 3000/w)
					}()
				}
			}
			wg.Wait()
			p := c.Nodes()[0].Proc
			if err := p.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := p.Restart(context.Background()); err != nil {
				t.Fatal(err)
			}
			cl := mustClient(t, c, 0)
			checkGet(t, cl, "0", "")
			checkModel(t, cl, "0", 100)
			if err := c.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
			if s := log.String(); strings.Count(s, "shm server ready:") != 2 || !strings.Contains(s, "skipped 0 malformed") {
				t.Errorf("server log:\n%s", s)
			}
		})
	}
}

func TestClaims(t *testing.T) {
	im := Impl()
	if c := im.Claims(nil, impls.Faults{}); !c.Linearizable {
		t.Errorf("no faults: %+v", c)
	}
	if c := im.Claims(nil, impls.Faults{Pause: true}); !c.Linearizable {
		t.Errorf("pause: %+v", c)
	}
	if c := im.Claims(nil, impls.Faults{Crash: true}); c.Linearizable || c.Why == "" {
		t.Errorf("crash: %+v", c)
	}
	if !im.Supports(impls.Get) || !im.Supports(impls.Put) || im.Supports(impls.Delete) || im.MaxWindow != 1023 {
		t.Errorf("impl: %+v", im)
	}
}
