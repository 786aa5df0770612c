package madkv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Stage 3's consensus layer: hashicorp/raft with its log and stable store in
// a bbolt file (raft-boltdb/v2) and snapshots in a FileSnapshotStore, both
// under the backer path. Every replica of a group bootstraps the same
// configuration: voters "0".."rf-1" with synthetic addresses "replica-ID"
// (identical on every replica, so the bootstrap entries agree). Where a
// replica really dials a peer is its own business: the transport's
// ServerAddressProvider maps a peer's ID to the address on this replica's
// command line, which under kvbench is this replica's private proxy to that
// peer, so a network fault can cut one directed link.

// Raft timing. Shorter than the library's defaults (1 s) so a failover
// costs about a second; an election caused by a slow, shared machine is
// safe, only slower.
const (
	raftHeartbeat   = 500 * time.Millisecond
	raftElection    = 500 * time.Millisecond
	raftLease       = 250 * time.Millisecond
	raftCommit      = 20 * time.Millisecond
	raftRPCTimeout  = 2 * time.Second
	raftSnapEntries = 8192
	raftSnapCheck   = 5 * time.Second // how often raft looks whether raftSnapEntries accumulated
)

// peerProvider resolves a peer's raft ID to the address this replica dials.
type peerProvider map[raft.ServerID]raft.ServerAddress

func (p peerProvider) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	if a, ok := p[id]; ok {
		return a, nil
	}
	return "", fmt.Errorf("madkv raft: no address for replica %q", id)
}

// peerIDs maps a peer list (excluding self, sorted by replica id, as the
// spec orders it) to replica ids: the k-th peer is k below self, k+1 above.
func peerIDs(self int, peers []string) peerProvider {
	m := peerProvider{}
	for k, a := range peers {
		id := k
		if k >= self {
			id = k + 1
		}
		m[raft.ServerID(strconv.Itoa(id))] = raft.ServerAddress(a)
	}
	return m
}

// raftNode is one replica's raft instance and what it must close.
type raftNode struct {
	r     *raft.Raft
	logs  raft.LogStore
	store *raftboltdb.BoltStore
	trans *raft.NetworkTransport
}

// openRaft starts replica self of a group of len(peers)+1 under dir,
// listening for peers on bind, bootstrapping the group on first start.
func openRaft(dir string, self int, bind string, peers []string, fsm raft.FSM, logw io.Writer) (*raftNode, error) {
	rdir := filepath.Join(dir, "raft")
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		return nil, fmt.Errorf("madkv raft: %w", err)
	}
	level := hclog.Warn
	if os.Getenv("MADKV_RAFT_LOG") != "" { // e.g. debug, info
		level = hclog.LevelFromString(os.Getenv("MADKV_RAFT_LOG"))
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: fmt.Sprintf("raft-%d", self), Level: level, Output: logw})
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(rdir, "log.bolt")})
	if err != nil {
		return nil, fmt.Errorf("madkv raft log %s: %w", rdir, err)
	}
	fail := func(err error) (*raftNode, error) {
		store.Close()
		return nil, err
	}
	logs, err := raft.NewLogCache(512, store)
	if err != nil {
		return fail(err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(rdir, 2, logger)
	if err != nil {
		return fail(fmt.Errorf("madkv raft snapshots: %w", err))
	}
	provider := peerIDs(self, peers)
	provider[raft.ServerID(strconv.Itoa(self))] = raft.ServerAddress(bind) // raft encodes its own address too
	trans, err := raft.NewTCPTransportWithConfig(bind, nil, &raft.NetworkTransportConfig{
		ServerAddressProvider: provider,
		MaxPool:               4,
		Timeout:               raftRPCTimeout,
		Logger:                logger,
	})
	if err != nil {
		return fail(fmt.Errorf("madkv raft transport on %s: %w", bind, err))
	}
	cfg := raft.DefaultConfig()
	cfg.LocalID = raft.ServerID(strconv.Itoa(self))
	cfg.Logger = logger
	cfg.HeartbeatTimeout = raftHeartbeat
	cfg.ElectionTimeout = raftElection
	cfg.LeaderLeaseTimeout = raftLease
	cfg.CommitTimeout = raftCommit
	cfg.BatchApplyCh = true
	cfg.MaxAppendEntries = 256
	cfg.SnapshotThreshold = raftSnapEntries
	cfg.SnapshotInterval = raftSnapCheck
	cfg.TrailingLogs = raftSnapEntries
	cfg.NoSnapshotRestoreOnStart = false
	has, err := raft.HasExistingState(logs, store, snaps)
	if err != nil {
		trans.Close()
		return fail(err)
	}
	if !has {
		var conf raft.Configuration
		for id := 0; id <= len(peers); id++ {
			sid := raft.ServerID(strconv.Itoa(id))
			conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: sid, Address: raft.ServerAddress("replica-" + string(sid))})
		}
		if err := raft.BootstrapCluster(cfg, logs, store, snaps, trans, conf); err != nil {
			trans.Close()
			return fail(fmt.Errorf("madkv raft bootstrap: %w", err))
		}
	}
	r, err := raft.NewRaft(cfg, fsm, logs, store, snaps, trans)
	if err != nil {
		trans.Close()
		return fail(fmt.Errorf("madkv raft: %w", err))
	}
	return &raftNode{r: r, logs: logs, store: store, trans: trans}, nil
}

func (n *raftNode) close() error {
	err := n.r.Shutdown().Error()
	return errors.Join(err, n.trans.Close(), n.store.Close())
}

// leaderID is the group's leader as this replica believes, or -1.
func (n *raftNode) leaderID() int {
	_, id := n.r.LeaderWithID()
	if id == "" {
		return -1
	}
	i, err := strconv.Atoi(string(id))
	if err != nil {
		return -1
	}
	return i
}

// dataFSM is a partition's replicated state machine: stage 1's memStore
// (the B-tree and the per-client deduplication table), fed the same
// mutations in log order. A log entry is an encoded request frame.
type dataFSM struct {
	st      *memStore
	applied chan struct{} // closed and replaced after each apply
	index   uint64        // last applied log index (under st.mu)
}

var _ raft.FSM = (*dataFSM)(nil)

func newDataFSM() *dataFSM {
	return &dataFSM{st: newMemStore(), applied: make(chan struct{})}
}

// Apply executes one logged mutation and returns its response.
func (f *dataFSM) Apply(l *raft.Log) any {
	var resp response
	r, err := decodeLogged(l.Data)
	if err != nil {
		resp = response{status: stFailed, val: err.Error()}
	} else {
		f.st.mutate(&r, func(rr response) { resp = rr })
	}
	f.st.mu.Lock()
	f.index = l.Index
	ch := f.applied
	f.applied = make(chan struct{})
	f.st.mu.Unlock()
	close(ch)
	return resp
}

// appliedIndex returns the last applied index and a channel closed at the
// next apply.
func (f *dataFSM) appliedIndex() (uint64, <-chan struct{}) {
	f.st.mu.RLock()
	defer f.st.mu.RUnlock()
	return f.index, f.applied
}

// decodeLogged decodes a log entry: one request frame.
func decodeLogged(b []byte) (request, error) {
	if len(b) < 4 || int(binary.BigEndian.Uint32(b)) != len(b)-4 {
		return request{}, fmt.Errorf("%w: log entry", ErrMalformed)
	}
	return decodeRequest(b[4:])
}

// Snapshot format: "MKV3" | index u64 | npairs u64 | (key bytes | val bytes)*
// | nsessions u64 | (client u64 | last unix ns u64 | nresults u64 |
// (seq u64 | found u8 | val bytes)*)*.
const snapMagic = "MKV3"

type dataSnapshot struct {
	index    uint64
	pairs    []pair
	sessions map[uint64]*session
}

// Snapshot copies the state under the lock (raft calls it between applies).
func (f *dataFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.st.mu.RLock()
	defer f.st.mu.RUnlock()
	s := &dataSnapshot{index: f.index, pairs: make([]pair, 0, f.st.t.Len()), sessions: make(map[uint64]*session, len(f.st.sessions))}
	f.st.t.Ascend(func(p pair) bool { s.pairs = append(s.pairs, p); return true })
	for id, ss := range f.st.sessions {
		cp := &session{results: make(map[uint64]result, len(ss.results)), last: ss.last}
		for k, v := range ss.results {
			cp.results[k] = v
		}
		s.sessions[id] = cp
	}
	return s, nil
}

func (s *dataSnapshot) Persist(sink raft.SnapshotSink) error {
	w := bufio.NewWriterSize(sink, 1<<20)
	u64 := func(v uint64) { w.Write(binary.BigEndian.AppendUint64(nil, v)) }
	str := func(v string) { w.Write(binary.BigEndian.AppendUint32(nil, uint32(len(v)))); w.WriteString(v) }
	w.WriteString(snapMagic)
	u64(s.index)
	u64(uint64(len(s.pairs)))
	for _, p := range s.pairs {
		str(p.k)
		str(p.v)
	}
	ids := make([]uint64, 0, len(s.sessions))
	for id := range s.sessions {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	u64(uint64(len(ids)))
	for _, id := range ids {
		ss := s.sessions[id]
		u64(id)
		u64(uint64(ss.last.UnixNano()))
		u64(uint64(len(ss.results)))
		for seq, r := range ss.results {
			u64(seq)
			if r.found {
				w.WriteByte(1)
			} else {
				w.WriteByte(0)
			}
			str(r.val)
		}
	}
	if err := w.Flush(); err != nil {
		sink.Cancel()
		return fmt.Errorf("madkv snapshot: %w", err)
	}
	return sink.Close()
}

func (s *dataSnapshot) Release() {}

// Restore replaces the state with a snapshot's.
func (f *dataFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 1<<20)
	var rerr error
	u64 := func() uint64 {
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil && rerr == nil {
			rerr = err
		}
		return binary.BigEndian.Uint64(b[:])
	}
	str := func() string {
		var b [4]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			rerr = cmpErr(rerr, err)
			return ""
		}
		n := binary.BigEndian.Uint32(b[:])
		if n > MaxValue+MaxKey {
			rerr = cmpErr(rerr, fmt.Errorf("%w: snapshot string of %d bytes", ErrMalformed, n))
			return ""
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(br, buf); err != nil {
			rerr = cmpErr(rerr, err)
		}
		return string(buf)
	}
	magic := make([]byte, len(snapMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != snapMagic {
		return fmt.Errorf("%w: not a madkv snapshot", ErrMalformed)
	}
	st := newMemStore()
	index := u64()
	for n := u64(); n > 0 && rerr == nil; n-- {
		k := str()
		st.t.ReplaceOrInsert(pair{k, str()})
	}
	for n := u64(); n > 0 && rerr == nil; n-- {
		id := u64()
		ss := &session{results: map[uint64]result{}, last: time.Unix(0, int64(u64()))}
		for m := u64(); m > 0 && rerr == nil; m-- {
			seq := u64()
			fb, err := br.ReadByte()
			rerr = cmpErr(rerr, err)
			ss.results[seq] = result{found: fb == 1, val: str()}
		}
		st.sessions[id] = ss
	}
	if rerr != nil {
		return fmt.Errorf("madkv snapshot restore: %w", rerr)
	}
	f.st.mu.Lock()
	f.st.t, f.st.sessions, f.index = st.t, st.sessions, index
	ch := f.applied
	f.applied = make(chan struct{})
	f.st.mu.Unlock()
	close(ch)
	return nil
}

func cmpErr(old, err error) error {
	if old != nil {
		return old
	}
	return err
}

// noCommandsAfter reports whether the entries from+1..to of this replica's
// log hold no command (only the no-op a new leader appends, configuration
// or barrier entries): the state machine, having applied every command up
// to from, then reflects every command up to to. It looks from the top, so
// a pending command is found at once; an entry it cannot read counts as a
// command.
func (n *raftNode) noCommandsAfter(from, to uint64) bool {
	for i := to; i > from; i-- {
		var l raft.Log
		if err := n.logs.GetLog(i, &l); err != nil || l.Type == raft.LogCommand {
			return false
		}
	}
	return true
}
