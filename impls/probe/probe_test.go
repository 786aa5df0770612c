package probe_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/probe"
)

// fakeStore is an in-memory "durable" store that acknowledges every write
// at once but keeps only what was written more than lag writes before a
// crash: Kill undoes the last lag writes (lag 0 is a correct store). The
// loss does not depend on when the kill lands, so the test cannot pass by
// luck of timing.
type fakeStore struct {
	mu   sync.Mutex
	live map[string]string
	lag  int
	undo []undoRec // the last lag writes, oldest first
	down bool
}

// undoRec restores a key to what it held before one write.
type undoRec struct {
	key, prev string
	had       bool
}

func (s *fakeStore) subject() probe.Subject {
	return probe.Subject{
		Kill: func() error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.down = true
			for i := len(s.undo) - 1; i >= 0; i-- {
				u := s.undo[i]
				if u.had {
					s.live[u.key] = u.prev
				} else {
					delete(s.live, u.key)
				}
			}
			s.undo = s.undo[:0]
			return nil
		},
		Restart: func(context.Context) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.down = false
			return nil
		},
		NewClient: func(context.Context) (impls.Client, error) { return fakeClient{s}, nil },
	}
}

type fakeClient struct{ s *fakeStore }

var _ impls.Client = fakeClient{}

func (c fakeClient) Do(_ context.Context, r impls.Request) (impls.Response, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return impls.Response{}, fmt.Errorf("down: %w", impls.ErrUnknownOutcome)
	}
	switch r.Kind {
	case impls.Put:
		if s.lag > 0 {
			prev, had := s.live[r.Key]
			if len(s.undo) == s.lag {
				s.undo = append(s.undo[:0], s.undo[1:]...)
			}
			s.undo = append(s.undo, undoRec{r.Key, prev, had})
		}
		s.live[r.Key] = r.Value
		return impls.Response{}, nil
	case impls.Get:
		v, ok := s.live[r.Key]
		return impls.Response{Found: impls.FoundOf(ok), Value: v}, nil
	}
	return impls.Response{}, impls.ErrUnsupported
}

func (fakeClient) Close() error { return nil }

func TestCrashCycles(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lag      int
		wantLost bool
	}{
		{"durable before the ack", 0, false},
		{"acks before it is durable", 50, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &fakeStore{live: map[string]string{}, lag: tc.lag}
			res, err := probe.CrashCycles(context.Background(), s.subject(), probe.CrashConfig{Cycles: 3, Seed: 1, MaxRun: 60e6})
			if err != nil {
				t.Fatal(err)
			}
			t.Log(res)
			if res.Cycles != 3 || res.Acked == 0 || res.Checked == 0 {
				t.Errorf("did not run: %v", res)
			}
			if (res.Lost > 0) != tc.wantLost {
				t.Errorf("lost %d, want lost: %v (%v)", res.Lost, tc.wantLost, res.Examples)
			}
		})
	}
}

// A log of records "u32 length | payload" without a checksum: recovery
// stops at a short record, so cuts are found, but a changed byte is not.
func plainLog(checkLen bool) probe.LogSubject {
	payload := func(i int) []byte { return []byte(fmt.Sprintf("record %d %s", i, bytes.Repeat([]byte("x"), i%17))) }
	return probe.LogSubject{
		Write: func(dir string, n int) (string, []int64, error) {
			path := filepath.Join(dir, "log")
			f, err := os.Create(path)
			if err != nil {
				return "", nil, err
			}
			defer f.Close()
			var ends []int64
			var off int64
			for i := 0; i < n; i++ {
				p := payload(i)
				var h [4]byte
				binary.LittleEndian.PutUint32(h[:], uint32(len(p)))
				f.Write(h[:])
				f.Write(p)
				off += int64(4 + len(p))
				ends = append(ends, off)
			}
			return path, ends, nil
		},
		Recover: func(dir string, n int) (int, error) {
			b, err := os.ReadFile(filepath.Join(dir, "log"))
			if err != nil {
				return 0, err
			}
			br := bufio.NewReader(bytes.NewReader(b))
			k := 0
			for ; k < n; k++ {
				var h [4]byte
				if _, err := io.ReadFull(br, h[:]); err != nil {
					break
				}
				p := make([]byte, binary.LittleEndian.Uint32(h[:]))
				if _, err := io.ReadFull(br, p); err != nil {
					break
				}
				if checkLen && !bytes.Equal(p, payload(k)) {
					break // stands in for a checksum
				}
			}
			return k, nil
		},
	}
}

func TestTornTail(t *testing.T) {
	for _, tc := range []struct {
		name      string
		checksums bool
	}{{"with checksums", true}, {"without checksums", false}} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := probe.TornTail(context.Background(), t.TempDir(), plainLog(tc.checksums), probe.TornConfig{Trials: 40, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			t.Log(res)
			if res.Trials != 40 || (res.Exact == res.Trials) != tc.checksums {
				t.Errorf("%v; failures: %v", res, res.Failures)
			}
		})
	}
}

// lineServer answers every input line with answer.
func lineServer(t *testing.T, answer string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return // a partial line is not answered
					}
					if line == "hold\n" {
						select {} // a request the server never finishes reading
					}
					io.WriteString(nc, answer)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestCompare(t *testing.T) {
	a, b, a2 := lineServer(t, "ERROR\r\n"), lineServer(t, "OK\r\n"), lineServer(t, "ERROR\r\n")
	cases := []probe.Case{{"one line", []byte("x\n")}, {"no line", []byte("x")}}
	diffs, err := probe.Compare(context.Background(), a, b, cases, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 1 || diffs[0].Case != "one line" || string(diffs[0].A) != "ERROR\r\n" || string(diffs[0].B) != "OK\r\n" {
		t.Errorf("diffs %+v", diffs)
	}
	if diffs, err := probe.Compare(context.Background(), a, a2, cases, []byte("reset\n"), nil); err != nil || len(diffs) != 0 {
		t.Errorf("same servers: %+v %v", diffs, err)
	}
	if n := len(probe.MemcachedInputs(1)); n < 60 {
		t.Errorf("MemcachedInputs has %d cases, want at least 60", n)
	}
}

func TestFlood(t *testing.T) {
	addr := lineServer(t, "")
	res, err := probe.Flood(context.Background(), addr, os.Getpid(), probe.FloodConfig{
		Conns: 20, Payload: func(i int) []byte { return []byte("hold\n") }, Settle: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Opened != 20 || res.Refused != 0 || res.RSSDuring <= 0 || res.RSSPeak < res.RSSDuring {
		t.Errorf("%+v", res)
	}
	if got := probe.SetPrefix("k", 10, 12); string(got) != "set k 0 0 10" {
		t.Errorf("SetPrefix: %q", got)
	}
	if got := probe.MultiGetPrefix(30, 30); !bytes.HasPrefix(got, []byte("get k000000 k000001")) || bytes.ContainsAny(got, "\r\n") {
		t.Errorf("MultiGetPrefix: %q", got)
	}
}
