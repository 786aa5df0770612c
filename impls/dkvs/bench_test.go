package dkvs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// BenchmarkYCSBA drives a started cluster (S=3 server processes, each
// behind its proxy; N=3) with 4 clients doing 50% GET / 50% PUT on 1000
// zipf-chosen keys, and reports ops/s and the p99 latency per (W,R).
//
//	go test -run XXX -bench YCSBA -benchtime 3000x ./impls/dkvs/
func BenchmarkYCSBA(b *testing.B) {
	for _, wr := range [][2]int{{1, 1}, {2, 2}, {3, 3}} {
		b.Run(fmt.Sprintf("W=%d,R=%d", wr[0], wr[1]), func(b *testing.B) {
			c, _ := startCluster(b, fmt.Sprintf("--servers 3 --nodes 3 -n 3 -w %d -r %d", wr[0], wr[1]))
			const clients, records = 4, 1000
			value := strings.Repeat("v", 100)
			ctx := context.Background()
			load, _ := c.NewClient(ctx, 0)
			for i := 0; i < records; i++ {
				if _, err := load.Do(ctx, impls.Request{Kind: impls.Put, Key: fmt.Sprintf("user%d", i), Value: value}); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([][]time.Duration, clients)
			var errs [clients]int
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := 0; w < clients; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					cl, _ := c.NewClient(ctx, w)
					r := rand.New(rand.NewPCG(uint64(w), 1))
					z := rand.NewZipf(r, 1.1, 1, records-1)
					for i := w; i < b.N; i += clients {
						req := impls.Request{Kind: impls.Get, Key: fmt.Sprintf("user%d", z.Uint64())}
						if r.IntN(2) == 0 {
							req.Kind, req.Value = impls.Put, value
						}
						t0 := time.Now()
						_, err := cl.Do(ctx, req)
						lat[w] = append(lat[w], time.Since(t0))
						if err != nil {
							errs[w]++
						}
					}
				}(w)
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			n := 0
			for _, e := range errs {
				n += e
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(n), "errors")
		})
	}
}

// BenchmarkQuorumClientCost measures what the quorum client adds to one
// UDP round trip: Raw is a fresh socket, one GET datagram and its reply to
// an in-process server; Quorum is the same GET through QuorumClient with
// N=R=1 (ring lookup, reply bookkeeping). The difference is the client's
// own cost per operation.
func BenchmarkQuorumClientCost(b *testing.B) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go NewServer("k", "value").Serve(ctx, conn)
	addr := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	b.Run("Raw", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 1<<16)
		for i := 0; i < b.N; i++ {
			c, err := net.ListenUDP("udp4", nil)
			if err != nil {
				b.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(time.Second))
			c.WriteToUDPAddrPort([]byte("k"), addr)
			if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
	b.Run("Quorum", func(b *testing.B) {
		b.ReportAllocs()
		ring, err := ParseServers(strings.NewReader(fmt.Sprintf("127.0.0.1 %d 3\n", addr.Port())))
		if err != nil {
			b.Fatal(err)
		}
		qc := &QuorumClient{Ring: ring, Q: Quorum{N: 1, W: 1, R: 1}}
		for i := 0; i < b.N; i++ {
			if _, err := qc.Get(ctx, "k"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RingOnly", func(b *testing.B) {
		b.ReportAllocs()
		ring, _ := ParseServers(strings.NewReader("127.0.0.1 1 3\n127.0.0.1 2 3\n127.0.0.1 3 3\n"))
		for i := 0; i < b.N; i++ {
			ring.Replicas("user123", 3)
		}
	})
}
