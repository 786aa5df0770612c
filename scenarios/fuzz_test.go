package scenarios

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/memkv"
	"github.com/kvbench/kvbench/results"
)

// staleServer is a deliberately buggy memcached-protocol server: each
// connection caches the values it has read or written and serves later
// gets from that cache, never seeing other clients' writes. With several
// clients on shared keys its histories are not linearizable.
type staleServer struct {
	mu   sync.Mutex
	data map[string]string
	cas  map[string]uint64
	next uint64
}

func startStaleServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &staleServer{data: map[string]string{}, cas: map[string]uint64{}}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return l.Addr().String()
}

func (s *staleServer) serve(c net.Conn) {
	defer c.Close()
	cache := map[string]string{} // the bug
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		s.mu.Lock()
		switch f[0] {
		case "get", "gets":
			v, ok := cache[f[1]]
			if !ok || f[0] == "gets" {
				if v, ok = s.data[f[1]]; ok {
					cache[f[1]] = v
				}
			}
			if ok {
				if f[0] == "gets" {
					fmt.Fprintf(w, "VALUE %s 0 %d %d\r\n%s\r\n", f[1], len(v), s.cas[f[1]], v)
				} else {
					fmt.Fprintf(w, "VALUE %s 0 %d\r\n%s\r\n", f[1], len(v), v)
				}
			}
			io.WriteString(w, "END\r\n")
		case "set", "add", "cas":
			n, _ := strconv.Atoi(f[4])
			buf := make([]byte, n+2)
			s.mu.Unlock()
			io.ReadFull(r, buf)
			s.mu.Lock()
			v := string(buf[:n])
			_, exists := s.data[f[1]]
			switch {
			case f[0] == "add" && exists:
				io.WriteString(w, "NOT_STORED\r\n")
			case f[0] == "cas" && !exists:
				io.WriteString(w, "NOT_FOUND\r\n")
			case f[0] == "cas" && f[5] != strconv.FormatUint(s.cas[f[1]], 10):
				io.WriteString(w, "EXISTS\r\n")
			default:
				s.next++
				s.data[f[1]], s.cas[f[1]], cache[f[1]] = v, s.next, v
				io.WriteString(w, "STORED\r\n")
			}
		case "delete":
			if _, ok := s.data[f[1]]; ok {
				delete(s.data, f[1])
				io.WriteString(w, "DELETED\r\n")
			} else {
				io.WriteString(w, "NOT_FOUND\r\n")
			}
			delete(cache, f[1])
		default:
			io.WriteString(w, "ERROR\r\n")
		}
		s.mu.Unlock()
		w.Flush()
	}
}

func TestFuzzFindsStaleReadsInABuggyServer(t *testing.T) {
	addr := startStaleServer(t)
	dir, run, err := Fuzz(context.Background(), FuzzOptions{
		Target:  Target{URL: "memcached://" + addr},
		Clients: 3, Keys: 2, OpsPerClient: 300, Conflict: true, Seed: 1,
		Output: Output{Dir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if run.Check.Verdict != results.VerdictViolation {
		t.Fatalf("verdict %q (%s), want violation", run.Check.Verdict, run.Check.Detail)
	}
	if run.Check.HTML == "" {
		t.Errorf("no check.html for the violation in %s", dir)
	}
	// The same server is linearizable for one client: no false alarm.
	_, run, err = Fuzz(context.Background(), FuzzOptions{
		Target:  Target{URL: "memcached://" + addr},
		Clients: 1, Keys: 2, OpsPerClient: 300, Seed: 1, Output: Output{Dir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if run.Check.Verdict != results.VerdictOK {
		t.Fatalf("single client: verdict %q (%s), want ok", run.Check.Verdict, run.Check.Detail)
	}
}

// TestFuzzLeavesForeignDataAlone fuzzes a correct server that already holds
// someone else's data under the very keys the MadKV fuzzer uses
// (key00000..): the fuzz must pass and leave that data as it was.
func TestFuzzLeavesForeignDataAlone(t *testing.T) {
	srv, err := memkv.NewServer(memkv.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, ln)
	defer srv.Close()
	addr := ln.Addr().String()

	c, err := memkv.Dial(ctx, addr, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	foreign := map[string]string{}
	for i := 0; i < 5; i++ {
		k := fmt.Sprintf("key%05d", i)
		foreign[k] = "someoneelses" + k
		if _, err := c.Do(ctx, impls.Request{Kind: impls.Put, Key: k, Value: foreign[k]}); err != nil {
			t.Fatal(err)
		}
	}
	for rep := 0; rep < 2; rep++ { // a second run also meets the first run's keys
		_, run, err := Fuzz(ctx, FuzzOptions{
			Target:  Target{URL: "memcached://" + addr},
			Clients: 3, Keys: 5, OpsPerClient: 300, Conflict: true, Seed: 1, Output: Output{Dir: t.TempDir()},
		})
		if err != nil {
			t.Fatal(err)
		}
		if run.Check.Verdict != results.VerdictOK {
			t.Fatalf("run %d: verdict %q (%s), want ok", rep, run.Check.Verdict, run.Check.Detail)
		}
	}
	for k, want := range foreign {
		r, err := c.Do(ctx, impls.Request{Kind: impls.Get, Key: k})
		if err != nil || r.Found != impls.Present || r.Value != want {
			t.Errorf("foreign key %s: %+v, %v; want %q untouched", k, r, err, want)
		}
	}
}

func TestFuzzWithYCSBWorkloads(t *testing.T) {
	addr := startStaleServer(t)
	for _, c := range []struct {
		workload string
		clients  int
		verdict  string
	}{
		{"a", 3, results.VerdictViolation}, // reads and updates race on shared records
		{"f", 3, results.VerdictViolation},
		{"a", 1, results.VerdictOK}, // one client cannot observe the stale cache
		{"c", 3, results.VerdictOK}, // read-only after the load: nothing goes stale
	} {
		t.Run(fmt.Sprintf("%s-%d", c.workload, c.clients), func(t *testing.T) {
			_, run, err := Fuzz(context.Background(), FuzzOptions{
				Target: Target{URL: "memcached://" + addr}, Workload: c.workload,
				Clients: c.clients, Keys: 3, OpsPerClient: 400, Seed: 2, Output: Output{Dir: t.TempDir()},
			})
			if err != nil {
				t.Fatal(err)
			}
			if run.Workload != c.workload || run.Check.Verdict != c.verdict {
				t.Fatalf("workload %q verdict %q (%s), want %q", run.Workload, run.Check.Verdict, run.Check.Detail, c.verdict)
			}
		})
	}
}
