package workload

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkReadTrace reads a 200 000-op CS537 stream (50% put), the size
// of make bench's shm trials.
func BenchmarkReadTrace(b *testing.B) {
	var buf bytes.Buffer
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		if r.IntN(2) == 0 {
			fmt.Fprintf(&buf, "put %d %d\n", r.IntN(1000), r.Uint32())
		} else {
			fmt.Fprintf(&buf, "get %d\n", r.IntN(1000))
		}
	}
	in := buf.Bytes()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		t, err := ReadTrace(bytes.NewReader(in))
		if err != nil || len(t.Ops) != 200_000 {
			b.Fatal(err, len(t.Ops))
		}
	}
}
