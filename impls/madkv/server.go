package madkv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
)

// handler answers requests on a connection. handle calls reply exactly
// once, now or later from another goroutine; reply does not block.
type handler interface {
	handle(r *request, reply func(response))
}

// maxInflight bounds the requests one connection may have unanswered; the
// server stops reading from a connection that reaches it.
const maxInflight = 256

// listener serves connections with one handler until ctx is done.
type listener struct {
	h   handler
	log io.Writer

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newListener(h handler, log io.Writer) *listener {
	return &listener{h: h, log: log, conns: map[net.Conn]struct{}{}}
}

// serve accepts on ln until ctx is done, then closes every connection and
// waits for them.
func (l *listener) serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var err error
	for {
		nc, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("madkv: accept: %w", aerr)
			}
			break
		}
		l.mu.Lock()
		l.conns[nc] = struct{}{}
		l.mu.Unlock()
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.serveConn(nc)
			l.mu.Lock()
			delete(l.conns, nc)
			l.mu.Unlock()
		}()
	}
	ln.Close()
	l.mu.Lock()
	for nc := range l.conns {
		nc.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return err
}

// serveConn reads request frames and hands them to the handler; a writer
// goroutine sends the responses, flushing when no more are queued. A frame
// that does not decode is a protocol error: it is logged and the
// connection closed.
func (l *listener) serveConn(nc net.Conn) {
	out := make(chan []byte, maxInflight)
	sem := make(chan struct{}, maxInflight)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		bw := bufio.NewWriterSize(nc, 64<<10)
		var werr error
		// Write every queued response, flush once the queue is empty. A
		// write error (the peer is gone) drops the rest; the loop still
		// drains out so that no reply ever blocks.
		for b := range out {
			if werr == nil {
				_, werr = bw.Write(b)
			}
			<-sem
			if len(out) == 0 && werr == nil {
				werr = bw.Flush()
			}
		}
	}()
	var pending sync.WaitGroup
	br := bufio.NewReaderSize(nc, 64<<10)
	var buf []byte
	for {
		var err error
		buf, err = readFrame(br, buf, MaxRequestFrame)
		if err == nil {
			var r request
			r, err = decodeRequest(buf)
			if err == nil {
				sem <- struct{}{}
				pending.Add(1)
				tag := r.tag
				var once atomic.Bool
				l.h.handle(&r, func(resp response) {
					if once.Swap(true) {
						return
					}
					resp.tag = tag
					out <- appendResponse(nil, &resp)
					pending.Done()
				})
				continue
			}
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			fmt.Fprintf(l.log, "madkv: connection from %s: %v; closing it\n", nc.RemoteAddr(), err)
		}
		break
	}
	pending.Wait()
	close(out)
	<-writerDone
	nc.Close()
}

// dataServer answers GET/PUT/SWAP/DELETE/SCAN for one partition (stage 2)
// or the whole key space (stage 1, parts 0), and HELLO.
type dataServer struct {
	st    store
	id    int
	parts atomic.Int64 // 0: stage 1; else the partition count once registered
	stage int
	ready atomic.Bool
}

var _ handler = (*dataServer)(nil)

func (s *dataServer) handle(r *request, reply func(response)) {
	switch r.op {
	case opHello:
		commits, writes := s.st.stats()
		reply(response{status: stOK, pairs: []pair{
			{"role", "server"}, {"stage", strconv.Itoa(s.stage)}, {"id", strconv.Itoa(s.id)},
			{"partitions", strconv.FormatInt(s.parts.Load(), 10)}, {"ready", strconv.FormatBool(s.ready.Load())},
			{"commits", itoa(commits)}, {"writes", itoa(writes)},
		}})
		return
	case opGet, opPut, opSwap, opDelete, opScan:
	default:
		reply(response{status: stBadRequest, val: fmt.Sprintf("a madkv server does not answer %s", r.op)})
		return
	}
	if !s.ready.Load() {
		reply(response{status: stNotReady, val: "server not registered with the manager yet"})
		return
	}
	if err := validate(r); err != nil {
		reply(response{status: stBadRequest, val: err.Error()})
		return
	}
	if p := int(s.parts.Load()); r.op != opScan && p > 1 && partitionOf(r.key, p) != s.id {
		reply(response{status: stWrongPartition, val: fmt.Sprintf("key belongs to partition %d, this is server %d", partitionOf(r.key, p), s.id)})
		return
	}
	if r.op.mutates() {
		s.st.mutate(r, reply)
		return
	}
	reply(s.st.read(r))
}

// manager knows the fixed server list and hands out the partition map once
// every server has registered.
type manager struct {
	servers []string

	mu         sync.Mutex
	registered []bool
}

var _ handler = (*manager)(nil)

func newManager(servers []string) *manager {
	return &manager{servers: servers, registered: make([]bool, len(servers))}
}

func (m *manager) missing() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int
	for i, ok := range m.registered {
		if !ok {
			out = append(out, i)
		}
	}
	return out
}

func (m *manager) handle(r *request, reply func(response)) {
	parts := strconv.Itoa(len(m.servers))
	switch r.op {
	case opHello:
		reply(response{status: stOK, pairs: []pair{
			{"role", "manager"}, {"stage", "2"}, {"partitions", parts},
			{"ready", strconv.FormatBool(len(m.missing()) == 0)},
		}})
	case opRegister:
		id := r.client
		if id >= uint64(len(m.servers)) {
			reply(response{status: stBadRequest, val: fmt.Sprintf("server id %d: the manager knows servers 0..%d", id, len(m.servers)-1)})
			return
		}
		_, port, err := net.SplitHostPort(m.servers[id])
		if err != nil || port != r.key {
			reply(response{status: stBadRequest, val: fmt.Sprintf("server %d listens on port %s but the manager's server list says %s", id, r.key, m.servers[id])})
			return
		}
		m.mu.Lock()
		m.registered[id] = true
		m.mu.Unlock()
		reply(response{status: stOK, pairs: []pair{{"partitions", parts}}})
	case opMap:
		if miss := m.missing(); len(miss) > 0 {
			reply(response{status: stNotReady, val: fmt.Sprintf("waiting for servers %v to register", miss)})
			return
		}
		pairs := make([]pair, len(m.servers))
		for i, a := range m.servers {
			pairs[i] = pair{strconv.Itoa(i), a}
		}
		reply(response{status: stOK, pairs: pairs})
	default:
		reply(response{status: stBadRequest, val: fmt.Sprintf("the manager does not answer %s; ask it for the partition map", r.op)})
	}
}
