package shm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
)

// The benchmarks start the real server process (`kvbench serve shm`) and
// drive it through the adapter, as `kvbench run` does: n client threads,
// each one goroutine keeping w requests in flight through Send and Recv
// (w goroutines calling Do for w = 1 or a client that does not pipeline), a
// 50/50 PUT/GET mix over 100 000 numeric keys, closed loop. They report ops/s and p50/p99 latency in µs.
//
//	go test ./impls/shm -run '^$' -bench Matrix -benchtime 2s
//	go test ./impls/shm -run '^$' -bench Wait -benchtime 2s
//	go test ./impls/shm -run '^$' -bench Ceiling -benchtime 2s
//
// SHM_BENCH_N, SHM_BENCH_W, SHM_BENCH_S (comma lists) and SHM_BENCH_WAIT
// (';'-separated policies, see parseWaitPolicy) narrow or widen the sweeps.

func benchList(env string, def []int) []int {
	s := os.Getenv(env)
	if s == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(f)
		if err == nil {
			out = append(out, v)
		}
	}
	return out
}

// BenchmarkMatrix: clients 1..4 × windows 1,2,8,32 × server threads 1..2
// with the default wait policy.
func BenchmarkMatrix(b *testing.B) {
	for _, s := range benchList("SHM_BENCH_S", []int{1, 2}) {
		for _, n := range benchList("SHM_BENCH_N", []int{1, 2, 3, 4}) {
			for _, w := range benchList("SHM_BENCH_W", []int{1, 2, 8, 32}) {
				b.Run(fmt.Sprintf("srv=%d/n=%d/w=%d", s, n, w), func(b *testing.B) {
					benchShm(b, n, w, s, defaultWait())
				})
			}
		}
	}
}

// BenchmarkWait compares waiting policies on a few points of the matrix.
// For each point it runs every policy back to back, so that the policies
// of one point see the same background load (the machine is shared).
func BenchmarkWait(b *testing.B) {
	names := []string{"spin", "yield:spin=5us", "sleep:spin=5us,yield=50us,park=50us",
		"futex:spin=5us,yield=0s", "futex"}
	if s := os.Getenv("SHM_BENCH_WAIT"); s != "" {
		names = strings.Split(s, ";")
	}
	var policies []waitPolicy
	for _, ps := range names {
		p, err := parseWaitPolicy(ps)
		if err != nil {
			b.Fatal(err)
		}
		policies = append(policies, p)
	}
	for _, s := range benchList("SHM_BENCH_S", []int{1, 2}) {
		for _, n := range benchList("SHM_BENCH_N", []int{1, 4}) {
			for _, w := range benchList("SHM_BENCH_W", []int{1, 8}) {
				for i, p := range policies {
					b.Run(fmt.Sprintf("wait=%s/srv=%d/n=%d/w=%d", names[i], s, n, w), func(b *testing.B) {
						benchShm(b, n, w, s, p)
					})
				}
			}
		}
	}
}

// BenchmarkCeiling is an in-process Go map behind the same Client interface
// and key/value mapping: what the client side costs without shm. Like shm's
// client it pipelines (mapPipe) when w > 1.
func BenchmarkCeiling(b *testing.B) {
	for _, n := range benchList("SHM_BENCH_N", []int{1, 2, 3, 4}) {
		for _, w := range benchList("SHM_BENCH_W", []int{1, 2, 8, 32}) {
			b.Run(fmt.Sprintf("n=%d/w=%d", n, w), func(b *testing.B) {
				m := &mapClient{m: map[uint32]uint32{}}
				pipes := make([]impls.Client, n)
				for i := range pipes {
					pipes[i] = &mapPipe{mapClient: m, answers: make([]impls.Response, w)}
				}
				runLoad(b, n, w, func(i int) impls.Client { return pipes[i] })
			})
		}
	}
}

func benchShm(b *testing.B, n, w, srv int, p waitPolicy) {
	exe := serverExe(b)
	ctx := context.Background()
	cl, err := start(ctx, impls.StartEnv{Exe: exe, Dir: b.TempDir(), Clients: n, Window: w,
		Flags: []string{"-n", strconv.Itoa(srv), "-s", "1000", "--wait", p.String()}})
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	cl.(*cluster).setWait(p)
	clients := make([]impls.Client, n)
	for i := range clients {
		clients[i] = mustClient(b, cl, i)
	}
	runLoad(b, n, w, func(i int) impls.Client { return clients[i] })
}

// benchCap bounds the wall time of one runLoad.
const benchCap = 5 * time.Second

// runLoad runs b.N operations from n clients × w goroutines and reports
// throughput and latency percentiles.
func runLoad(b *testing.B, n, w int, client func(int) impls.Client) {
	g := n * w
	per := max(1, b.N/g)
	lat := make([][]time.Duration, g)
	var wg sync.WaitGroup
	// One cancellable context for every worker, as the driver has.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, pipelines := client(0).(impls.Pipeliner)
	pipelines = pipelines && w > 1
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range g {
		if pipelines {
			if i%w == 0 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					lat[i] = pipelineLoad(b, ctx, client(i/w).(impls.Pipeliner), w, per*w, start, uint64(i))
				}()
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := client(i / w)
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			l := make([]time.Duration, 0, per)
			for j := range per {
				if j&63 == 0 && time.Since(start) > benchCap {
					break // a collapsing configuration would run for ages
				}
				req := randomReq(rng)
				t0 := time.Now()
				if _, err := cl.Do(ctx, req); err != nil {
					b.Error(err)
					return
				}
				l = append(l, time.Since(t0))
			}
			lat[i] = l
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(len(all))/el.Seconds(), "ops/s")
	b.ReportMetric(float64(all[len(all)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(0, "ns/op")
}

// randomReq is a GET or a PUT (half each) of one of 100 000 keys.
func randomReq(rng *rand.Rand) impls.Request {
	k := strconv.Itoa(rng.IntN(100000))
	if rng.IntN(2) == 0 {
		return put(k, strconv.Itoa(1+rng.IntN(1<<30)))
	}
	return get(k)
}

// pipelineLoad is one client thread of runLoad when the client pipelines
// (as the driver runs it): ops requests, w in flight, each one's latency
// from its Send to its Recv.
func pipelineLoad(b *testing.B, ctx context.Context, p impls.Pipeliner, w, ops int, start time.Time, seed uint64) []time.Duration {
	rng := rand.New(rand.NewPCG(seed, 1))
	l := make([]time.Duration, 0, ops)
	sent := make([]time.Time, 0, ops)
	for {
		if len(sent)&63 == 0 && time.Since(start) > benchCap {
			ops = len(sent) // a collapsing configuration would run for ages
		}
		if len(sent) < ops && len(sent)-len(l) < w {
			sent = append(sent, time.Now())
			if err := p.Send(ctx, randomReq(rng)); err != nil {
				b.Error(err)
				return l
			}
			continue
		}
		if len(l) == len(sent) {
			return l
		}
		if _, err := p.Recv(ctx); err != nil {
			b.Error(err)
			return l
		}
		l = append(l, time.Since(sent[len(l)]))
	}
}

// mapClient is the ceiling: a mutex-protected Go map, same mapping.
type mapClient struct {
	mu sync.Mutex
	m  map[uint32]uint32
}

func (c *mapClient) Do(_ context.Context, req impls.Request) (impls.Response, error) {
	k := MapKey(req.Key)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch req.Kind {
	case impls.Put:
		c.m[k] = MapValue(req.Value)
		return impls.Response{}, nil
	case impls.Get:
		if v := c.m[k]; v != 0 {
			return impls.Response{Found: impls.Present, Value: strconv.FormatUint(uint64(v), 10)}, nil
		}
		return impls.Response{Found: impls.Absent}, nil
	}
	return impls.Response{}, impls.ErrUnsupported
}

func (c *mapClient) Close() error { return nil }

// mapPipe is the ceiling for pipelined runs: Send applies the request to
// the map, Recv hands the answers back in order (from a ring of w).
type mapPipe struct {
	*mapClient
	answers    []impls.Response
	sent, recv int
}

func (c *mapPipe) Send(ctx context.Context, req impls.Request) error {
	res, err := c.Do(ctx, req)
	if err != nil {
		return err
	}
	c.answers[c.sent%len(c.answers)] = res
	c.sent++
	return nil
}

func (c *mapPipe) Recv(context.Context) (impls.Response, error) {
	res := c.answers[c.recv%len(c.answers)]
	c.recv++
	return res, nil
}
