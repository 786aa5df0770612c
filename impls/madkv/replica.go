package madkv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// Stage 3 command lines (the spec's exact forms):
//
//	manager <rep_id> <man_port> <p2p_port> <peers|none> <server_rf> <servers> <backer_path>
//	server  <part_id> <rep_id> <managers> <api_port> <p2p_port> <peers|none> <backer_path>
const usage3 = `Stage 3 (Raft replica groups):
  kvbench serve madkv manager REP_ID MAN_PORT P2P_PORT PEERS|none SERVER_RF SERVERS BACKER_PATH
  kvbench serve madkv server PART_ID REP_ID MANAGERS API_PORT P2P_PORT PEERS|none BACKER_PATH
Peer lists exclude self, sorted by replica id; SERVERS is partition-major (index = part*rf + replica).
Examples:
  kvbench serve madkv manager 0 3666 3606 none 3 127.0.0.1:3777,127.0.0.1:3778,127.0.0.1:3779 ./backer.m.0
  kvbench serve madkv server 0 1 127.0.0.1:3666 3778 3708 127.0.0.1:3707,127.0.0.1:3709 ./backer.s0.1
`

// envUnsafeReads, set to 1 in a stage 3 server's environment, makes it
// answer GET and SCAN from local state on any replica, without confirming
// leadership: a deliberately broken read path for tests (stale reads from
// a deposed leader or a lagging follower), never for real use.
const envUnsafeReads = "MADKV_UNSAFE_LOCAL_READS"

// config3 is a parsed stage 3 command line.
type config3 struct {
	role      string
	part, rep int
	listen    string // client API (manager: man_port)
	p2p       string // raft bind address
	peers     []string
	rf        int      // manager: server rf
	servers   []string // manager: every server's API address
	managers  []string // server: every manager's address
	backer    string
}

func isStage3(args []string) bool {
	return len(args) == 8 && (args[0] == "manager" || args[0] == "server")
}

func parseServe3(args []string) (config3, error) {
	bad := func(format string, a ...any) (config3, error) {
		return config3{}, fmt.Errorf("%w: %s\n%s", ErrUsage, fmt.Sprintf(format, a...), usage3)
	}
	if !isStage3(args) {
		return bad("%d arguments", len(args))
	}
	id := func(s, what string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n >= MaxServers {
			return 0, fmt.Errorf("%s %q: want 0..%d", what, s, MaxServers-1)
		}
		return n, nil
	}
	addrs := func(s, what string) ([]string, error) {
		if s == "none" {
			return nil, nil
		}
		out := strings.Split(s, ",")
		for _, a := range out {
			if _, p, err := net.SplitHostPort(a); err != nil || p == "" {
				return nil, fmt.Errorf("%s address %q: want ip:port", what, a)
			}
		}
		return out, nil
	}
	var c config3
	var err error
	c.role = args[0]
	portArg := func(i int, what string) (string, error) {
		p, err := parsePort(args[i])
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		return net.JoinHostPort("127.0.0.1", p), nil
	}
	if c.role == "manager" {
		if c.rep, err = id(args[1], "replica id"); err != nil {
			return bad("%v", err)
		}
		if c.listen, err = portArg(2, "manager port"); err != nil {
			return bad("%v", err)
		}
		if c.p2p, err = portArg(3, "p2p port"); err != nil {
			return bad("%v", err)
		}
		if c.peers, err = addrs(args[4], "peer"); err != nil {
			return bad("%v", err)
		}
		if c.rf, err = strconv.Atoi(args[5]); err != nil || c.rf < 1 {
			return bad("server rf %q: want a positive number", args[5])
		}
		if c.servers, err = addrs(args[6], "server"); err != nil || len(c.servers) == 0 {
			return bad("servers %q: want ip:port,... (%v)", args[6], err)
		}
		if len(c.servers)%c.rf != 0 || len(c.servers) > MaxServers*9 {
			return bad("%d servers is not a whole number of partitions of rf %d", len(c.servers), c.rf)
		}
		c.backer = args[7]
	} else {
		if c.part, err = id(args[1], "partition id"); err != nil {
			return bad("%v", err)
		}
		if c.rep, err = id(args[2], "replica id"); err != nil {
			return bad("%v", err)
		}
		if c.managers, err = addrs(args[3], "manager"); err != nil || len(c.managers) == 0 {
			return bad("managers %q: want ip:port,... (%v)", args[3], err)
		}
		if c.listen, err = portArg(4, "api port"); err != nil {
			return bad("%v", err)
		}
		if c.p2p, err = portArg(5, "p2p port"); err != nil {
			return bad("%v", err)
		}
		if c.peers, err = addrs(args[6], "peer"); err != nil {
			return bad("%v", err)
		}
		c.backer = args[7]
	}
	if c.rep > len(c.peers) {
		return bad("replica id %d but only %d peers: ids run 0..%d", c.rep, len(c.peers), len(c.peers))
	}
	if c.backer == "" {
		return bad("empty backer path")
	}
	return c, nil
}

// serveAny is Impl.Serve: stage 3's eight-argument forms here, the others
// in serve.
func serveAny(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if !isStage3(args) {
		if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(stdout, usage, "\n", usage3)
			return nil
		}
		return serve(ctx, args, stdout, stderr)
	}
	cfg, err := parseServe3(args)
	if err != nil {
		return fmt.Errorf("madkv: %w", err)
	}
	if err := os.MkdirAll(cfg.backer, 0o755); err != nil {
		return fmt.Errorf("madkv: backer: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("madkv: %w", err)
	}
	var h handler
	var node *raftNode
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	if cfg.role == "manager" {
		fsm := newManagerFSM(len(cfg.servers))
		if node, err = openRaft(cfg.backer, cfg.rep, cfg.p2p, cfg.peers, fsm, stderr); err != nil {
			ln.Close()
			return err
		}
		h = &managerReplica{cfg: cfg, node: node, fsm: fsm}
		close(done)
		fmt.Fprintf(stderr, "madkv manager replica %d (stage 3) on %s, raft %s, peers %v, %d servers rf %d\n",
			cfg.rep, ln.Addr(), cfg.p2p, cfg.peers, len(cfg.servers), cfg.rf)
	} else {
		fsm := newDataFSM()
		if node, err = openRaft(cfg.backer, cfg.rep, cfg.p2p, cfg.peers, fsm, stderr); err != nil {
			ln.Close()
			return err
		}
		rs := &replicaServer{cfg: cfg, node: node, fsm: fsm, unsafeReads: os.Getenv(envUnsafeReads) == "1"}
		rs.loadMembership()
		h = rs
		go func() {
			defer close(done)
			if err := rs.register(ctx, stderr); err != nil {
				cancel(err)
			}
		}()
		fmt.Fprintf(stderr, "madkv server p%d/r%d (stage 3) on %s, raft %s, peers %v, managers %v, unsafe reads %v\n",
			cfg.part, cfg.rep, ln.Addr(), cfg.p2p, cfg.peers, cfg.managers, rs.unsafeReads)
	}
	// Shut raft down as soon as ctx ends, not after the listener: the
	// listener waits for every pending reply, and an Apply or VerifyLeader
	// in flight answers only when raft does (ErrRaftShutdown at the latest).
	closed := make(chan error, 1)
	go func() {
		<-ctx.Done()
		closed <- node.close()
	}()
	serveErr := newListener(h, stderr).serve(ctx, ln)
	cancel(nil)
	<-done
	cerr := <-closed
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return errors.Join(serveErr, cerr)
}

// raftPairs describes a replica's raft state for HELLO.
func raftPairs(n *raftNode) []pair {
	return []pair{
		{"raft_state", n.r.State().String()}, {"term", itoa(n.r.CurrentTerm())},
		{"leader_id", strconv.Itoa(n.leaderID())}, {"applied", itoa(n.r.AppliedIndex())},
		{"last_snapshot_index", n.r.Stats()["last_snapshot_index"]},
	}
}

// membership is what a server learns from the manager at registration,
// kept in BACKER/membership.json so a restarted replica serves without one.
type membership struct {
	Partitions int      `json:"partitions"`
	RF         int      `json:"rf"`
	Servers    []string `json:"servers"`
}

// replicaServer is one replica of a partition: it answers clients when it
// leads (and redirects them when it does not) and registers with the
// manager to learn the partition count and every replica's address.
type replicaServer struct {
	cfg         config3
	node        *raftNode
	fsm         *dataFSM
	unsafeReads bool
	mem         atomic.Pointer[membership]
	// readyTerm is the term in which this replica, leading, committed an
	// entry of its own (a barrier): from then on its commit index is
	// authoritative. barrierTerm is the term a barrier was last started in.
	readyTerm, barrierTerm atomic.Uint64
}

var _ handler = (*replicaServer)(nil)

func (s *replicaServer) membershipPath() string {
	return filepath.Join(s.cfg.backer, "membership.json")
}

func (s *replicaServer) loadMembership() {
	b, err := os.ReadFile(s.membershipPath())
	if err != nil {
		return
	}
	var m membership
	if json.Unmarshal(b, &m) == nil && m.Partitions > 0 && m.RF == len(s.cfg.peers)+1 {
		s.mem.Store(&m)
	}
}

// register asks the managers (any order; a follower says "try another")
// until one answers, then keeps re-registering every heartbeat.
func (s *replicaServer) register(ctx context.Context, log io.Writer) error {
	_, port, _ := net.SplitHostPort(s.cfg.listen)
	rf := len(s.cfg.peers) + 1
	g := newGroup(s.cfg.managers)
	defer g.close()
	for {
		req := &request{op: opRegister, client: uint64(s.cfg.part*rf + s.cfg.rep), key: port, val: strconv.Itoa(rf)}
		resp, err := g.do(ctx, req, false)
		if errors.Is(err, ErrRefused) {
			return fmt.Errorf("madkv server p%d/r%d: %w", s.cfg.part, s.cfg.rep, err)
		}
		if err == nil && s.mem.Load() == nil {
			info := pairMap(resp.pairs)
			m := membership{Servers: strings.Split(info["servers"], ",")}
			m.Partitions, _ = strconv.Atoi(info["partitions"])
			m.RF, _ = strconv.Atoi(info["rf"])
			if m.Partitions < 1 || m.RF != rf || s.cfg.part >= m.Partitions || len(m.Servers) != m.Partitions*m.RF {
				return fmt.Errorf("madkv server p%d/r%d: manager answered partitions %q rf %q", s.cfg.part, s.cfg.rep, info["partitions"], info["rf"])
			}
			if b, err := json.Marshal(m); err == nil {
				tmp := s.membershipPath() + ".tmp"
				if os.WriteFile(tmp, b, 0o644) == nil {
					os.Rename(tmp, s.membershipPath())
				}
			}
			s.mem.Store(&m)
			fmt.Fprintf(log, "madkv server p%d/r%d: registered (%d partitions, rf %d); serving\n", s.cfg.part, s.cfg.rep, m.Partitions, m.RF)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(heartbeat):
		}
	}
}

// redirect answers "not the leader": val is the leader's API address if
// this replica knows it, else empty (try another replica).
func (s *replicaServer) redirect(why string) response {
	m := s.mem.Load()
	if id := s.node.leaderID(); m != nil && id >= 0 && id != s.cfg.rep {
		if i := s.cfg.part*m.RF + id; i < len(m.Servers) {
			return response{status: stRedirect, val: m.Servers[i]}
		}
	}
	return response{status: stRedirect, val: ""}
}

func (s *replicaServer) handle(r *request, reply func(response)) {
	m := s.mem.Load()
	switch r.op {
	case opHello:
		pairs := []pair{{"role", "server"}, {"stage", "3"}, {"id", strconv.Itoa(s.cfg.rep)},
			{"part", strconv.Itoa(s.cfg.part)}, {"ready", strconv.FormatBool(m != nil)}}
		if m != nil {
			pairs = append(pairs, pair{"partitions", strconv.Itoa(m.Partitions)})
		}
		reply(response{status: stOK, pairs: append(pairs, raftPairs(s.node)...)})
		return
	case opGet, opPut, opSwap, opDelete, opScan:
	default:
		reply(response{status: stBadRequest, val: fmt.Sprintf("a madkv server does not answer %s", r.op)})
		return
	}
	if m == nil {
		reply(response{status: stNotReady, val: "replica not registered with a manager yet"})
		return
	}
	if err := validate(r); err != nil {
		reply(response{status: stBadRequest, val: err.Error()})
		return
	}
	if r.op != opScan && m.Partitions > 1 && partitionOf(r.key, m.Partitions) != s.cfg.part {
		reply(response{status: stWrongPartition, val: fmt.Sprintf("key belongs to partition %d, this is partition %d", partitionOf(r.key, m.Partitions), s.cfg.part)})
		return
	}
	if !r.op.mutates() && s.unsafeReads {
		reply(s.fsm.st.read(r)) // the deliberately broken path: no leader check
		return
	}
	if s.node.r.State() != raft.Leader {
		reply(s.redirect("not the leader"))
		return
	}
	if r.op.mutates() {
		entry := appendRequest(nil, &request{op: r.op, client: r.client, seq: r.seq, acked: r.acked, key: r.key, val: r.val})
		go func() {
			f := s.node.r.Apply(entry, 0)
			if err := f.Error(); err != nil {
				// Not leader any more, or leadership lost after
				// the append: the entry may still commit. The
				// client retries with the same (client, seq) and
				// the deduplication table answers it once.
				reply(s.redirect(err.Error()))
				return
			}
			reply(f.Response().(response))
		}()
		return
	}
	go func() { reply(s.linearRead(r)) }()
}

// readWait bounds how long a read waits for its index to apply.
const readWait = 2 * time.Second

// linearRead answers a GET or SCAN linearizably without a log entry (a
// read index): with this replica leader in term T, take L = its commit
// index, confirm leadership with a quorum (VerifyLeader) and that the term
// is still T, wait until the state machine has applied L, read. A leader
// new in its term may not know the true commit index until an entry of
// its own term commits: until its barrier has (readIndex), L is the last
// log index instead, safe because a leader's log holds every committed
// entry (leader completeness), so every write acknowledged before the
// read began is at or below it. The FSM sees only commands
// (hashicorp/raft applies the leader's no-op and configuration entries
// itself, and its AppliedIndex runs ahead of the FSM), so "applied L"
// means: the FSM applied every command up to L (noCommandsAfter).
func (s *replicaServer) linearRead(r *request) response {
	n := s.node.r
	term := n.CurrentTerm()
	if n.State() != raft.Leader {
		return s.redirect("not the leader")
	}
	last := s.readIndex(term)
	if err := n.VerifyLeader().Error(); err != nil || n.CurrentTerm() != term {
		return s.redirect("leadership not confirmed")
	}
	deadline := time.NewTimer(readWait)
	defer deadline.Stop()
	for {
		idx, ch := s.fsm.appliedIndex()
		if idx >= last || s.node.noCommandsAfter(idx, last) {
			return s.fsm.st.read(r)
		}
		select {
		case <-ch:
		case <-time.After(5 * time.Millisecond): // a non-command entry (no-op) is never applied to the FSM
		case <-deadline.C:
			return s.redirect("read index not applied in time")
		}
	}
}

// readIndex is the index a read in term term must wait for: the commit
// index once this leader committed an entry of term (a barrier it starts
// at its first read of the term), the last log index before.
func (s *replicaServer) readIndex(term uint64) uint64 {
	n := s.node.r
	if s.readyTerm.Load() == term {
		return n.CommitIndex()
	}
	if s.barrierTerm.Swap(term) != term {
		go func() {
			// Success with the term unchanged: the barrier was
			// appended and committed by this leader in term.
			if n.Barrier(0).Error() == nil && n.CurrentTerm() == term {
				s.readyTerm.Store(term)
			}
		}()
	}
	return n.LastIndex()
}

// managerFSM is the manager's replicated state: which servers have
// registered (the map is handed out once all have).
type managerFSM struct {
	mu         sync.Mutex
	registered []bool
}

func newManagerFSM(n int) *managerFSM {
	return &managerFSM{registered: make([]bool, n)}
}

func (f *managerFSM) Apply(l *raft.Log) any {
	r, err := decodeLogged(l.Data)
	if err != nil || r.op != opRegister {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.client < uint64(len(f.registered)) {
		f.registered[r.client] = true
	}
	return nil
}

// state returns which servers registered and whether all have.
func (f *managerFSM) state() (regs []bool, all bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	all = true
	for _, ok := range f.registered {
		all = all && ok
	}
	return append([]bool(nil), f.registered...), all
}

type managerSnapshot []bool

func (f *managerFSM) Snapshot() (raft.FSMSnapshot, error) {
	regs, _ := f.state()
	return managerSnapshot(regs), nil
}

func (s managerSnapshot) Persist(sink raft.SnapshotSink) error {
	b, _ := json.Marshal([]bool(s))
	if _, err := sink.Write(b); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (managerSnapshot) Release() {}

func (f *managerFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var regs []bool
	if err := json.NewDecoder(rc).Decode(&regs); err != nil {
		return fmt.Errorf("madkv manager snapshot: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	copy(f.registered, regs)
	return nil
}

// managerReplica is one replica of the manager.
type managerReplica struct {
	cfg  config3
	node *raftNode
	fsm  *managerFSM
}

var _ handler = (*managerReplica)(nil)

func (m *managerReplica) handle(r *request, reply func(response)) {
	parts := strconv.Itoa(len(m.cfg.servers) / m.cfg.rf)
	regs, all := m.fsm.state()
	switch r.op {
	case opHello:
		pairs := []pair{{"role", "manager"}, {"stage", "3"}, {"partitions", parts}, {"rf", strconv.Itoa(m.cfg.rf)},
			{"ready", strconv.FormatBool(all)}, {"id", strconv.Itoa(m.cfg.rep)}}
		reply(response{status: stOK, pairs: append(pairs, raftPairs(m.node)...)})
	case opRegister:
		id := r.client
		if id >= uint64(len(m.cfg.servers)) {
			reply(response{status: stBadRequest, val: fmt.Sprintf("server index %d: the manager knows servers 0..%d", id, len(m.cfg.servers)-1)})
			return
		}
		if _, port, err := net.SplitHostPort(m.cfg.servers[id]); err != nil || port != r.key || r.val != strconv.Itoa(m.cfg.rf) {
			reply(response{status: stBadRequest, val: fmt.Sprintf("server %d listens on port %s with rf %s but the manager says %s, rf %d",
				id, r.key, r.val, m.cfg.servers[id], m.cfg.rf)})
			return
		}
		ok := response{status: stOK, pairs: []pair{{"partitions", parts}, {"rf", strconv.Itoa(m.cfg.rf)}, {"servers", strings.Join(m.cfg.servers, ",")}}}
		if regs[id] { // a replicated fact: never undone
			reply(ok)
			return
		}
		if m.node.r.State() != raft.Leader {
			reply(response{status: stRedirect}) // managers do not know each other's client ports
			return
		}
		entry := appendRequest(nil, &request{op: opRegister, client: id})
		go func() {
			if err := m.node.r.Apply(entry, 0).Error(); err != nil {
				reply(response{status: stRedirect})
				return
			}
			reply(ok)
		}()
	case opMap:
		if !all { // once true on any replica, true forever: no leader needed
			var miss []int
			for i, ok := range regs {
				if !ok {
					miss = append(miss, i)
				}
			}
			reply(response{status: stNotReady, val: fmt.Sprintf("waiting for servers %v to register", miss)})
			return
		}
		pairs := make([]pair, len(m.cfg.servers))
		for i, a := range m.cfg.servers {
			pairs[i] = pair{strconv.Itoa(i), a}
		}
		reply(response{status: stOK, pairs: pairs})
	default:
		reply(response{status: stBadRequest, val: fmt.Sprintf("the manager does not answer %s; ask it for the partition map", r.op)})
	}
}
