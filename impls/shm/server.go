package shm

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// usage is the server's help text; its first line is the course's.
const usage = `Usage: server [-n num_threads] [-s init_table_size]
       [--file PATH] (the shared file, created by the client; default shmem_file) [-v] [-h]
`

// ServerOptions configure a server.
type ServerOptions struct {
	// Threads is the number of server threads consuming the ring (-n).
	Threads int
	// TableSize is the hash table's initial number of buckets (-s).
	TableSize int
	// File is the shared file; it must exist (the client creates it).
	File string
	// Verbose prints each malformed descriptor (the first few) and a summary.
	Verbose bool
	wait    waitPolicy
}

// MaxTableSize bounds -s: the initial buckets are allocated at start (4
// bytes each, so 64 MiB at this bound); the table grows past it as needed.
const MaxTableSize = 1 << 24

// errHelp is returned by parseServerFlags for -h.
var errHelp = errors.New("help requested")

// parseServerFlags parses the server's command line. It accepts the
// course's single-dash short flags and the double-dash spelling alike.
func parseServerFlags(args []string) (ServerOptions, error) {
	o := ServerOptions{Threads: 1, TableSize: 1000, File: "shmem_file", wait: defaultWait()}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.IntVar(&o.Threads, "n", o.Threads, "server threads")
	fs.IntVar(&o.TableSize, "s", o.TableSize, "initial hash table size")
	fs.StringVar(&o.File, "file", o.File, "shared file")
	fs.BoolVar(&o.Verbose, "v", false, "verbose")
	help := fs.Bool("h", false, "help")
	wait := fs.String("wait", "", "wait policy (measurements only)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, errHelp
		}
		return o, err
	}
	if *help {
		return o, errHelp
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.Threads < 1 || o.Threads > 1024 {
		return o, fmt.Errorf("-n %d: the number of threads must be in [1, 1024]", o.Threads)
	}
	if o.TableSize < 1 || o.TableSize > MaxTableSize {
		return o, fmt.Errorf("-s %d: the initial table size must be in [1, %d] (the table grows as keys arrive)",
			o.TableSize, MaxTableSize)
	}
	if *wait != "" {
		p, err := parseWaitPolicy(*wait)
		if err != nil {
			return o, err
		}
		o.wait = p
	}
	return o, nil
}

// serve is Impl.Serve: `kvbench serve shm ARGS`.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseServerFlags(args)
	if errors.Is(err, errHelp) {
		_, err := io.WriteString(stdout, usage)
		return err
	}
	if err != nil {
		_, _ = io.WriteString(stderr, usage)
		return fmt.Errorf("shm server: %w", err)
	}
	// Each server thread gets a P of its own, as a C server's pthreads each
	// get a kernel thread, and parks without telling the runtime (RawPark,
	// see doc.go): a parked thread keeps its P, so one P more is left for
	// the process's other goroutines (the one that waits for SIGTERM).
	// Only here, where the server owns the process: a client in the same
	// process (RunServer in the tests) would wait for the Ps the parked
	// threads hold (the package's tests ran 3.5x longer).
	o.wait.RawPark = true
	if runtime.GOMAXPROCS(0) < o.Threads+1 {
		runtime.GOMAXPROCS(o.Threads + 1)
	}
	return RunServer(ctx, o, stdout, stderr)
}

// RunServer maps o.File and serves its ring with o.Threads threads until
// ctx is cancelled (which is not an error). It prints one line to stdout
// once it serves ("shm server ready: ..."), and a summary to stderr on exit.
//
// It survives what others do to the file (see fix): indices that something
// other than the protocol wrote are detected at every step and repaired or
// waited out, and a file truncated under the mapping (the client's to
// create, truncate and remove) is waited for and mapped again instead of
// killing the process with SIGBUS.
func RunServer(ctx context.Context, o ServerOptions, stdout, stderr io.Writer) error {
	if o.wait == (waitPolicy{}) {
		o.wait = defaultWait()
	}
	o.wait = forBusy(o.wait, o.Threads)
	o.wait.YieldAtOnce = true // see waitPolicy.YieldAtOnce
	r, err := mapFile(o.File)
	if err != nil {
		return fmt.Errorf("shm server: %w", err)
	}
	if !r.indicesValid() {
		r.unmap()
		return fmt.Errorf("shm server: %s: ring indices out of [0, %d): not a shm region", o.File, RingSize)
	}
	s := &server{r: r, o: o, release: releaseWait(o.wait), table: NewTable(o.TableSize), log: stderr, gates: make([]gate, o.Threads)}
	defer func() { s.r.unmap() }()
	if err := s.guarded(s.start); err != nil {
		return fmt.Errorf("shm server: %s: %w", o.File, err)
	}
	fmt.Fprintf(stdout, "shm server ready: file=%s size=%d slots=%d threads=%d table=%d epoch=%d\n",
		o.File, r.size(), r.slots(), o.Threads, o.TableSize, s.epoch)

	var wg sync.WaitGroup
	for i := range o.Threads {
		wg.Add(1)
		go func() { defer wg.Done(); s.loop(i) }()
	}
	<-ctx.Done()
	s.stop.Store(true)
	wg.Wait()
	var served uint64
	for i := range s.gates {
		served += s.gates[i].served
	}
	fmt.Fprintf(stderr, "shm server: served %d requests, skipped %d malformed descriptors", served, s.bad.Load())
	if n := s.repairs.Load(); n > 0 {
		fmt.Fprintf(stderr, ", repaired %d corrupt ring states", n)
	}
	if n := s.remaps.Load(); n > 0 {
		fmt.Fprintf(stderr, ", mapped the file again %d times after it was truncated", n)
	}
	fmt.Fprintln(stderr)
	return nil
}

// server is one running server.
type server struct {
	r *region // r.mem changes only in fix, with every gate held
	o ServerOptions
	// release is releaseWait(o.wait).
	release waitPolicy
	table   *Table
	log     io.Writer

	stop atomic.Bool
	// gates[i] is held by thread i while it touches the ring (a step); fix
	// holds all of them, so it has the consumer side and the mapping to
	// itself. fixing asks the threads to leave their steps; fixMu is held
	// for the whole fix, so they wait for it there.
	gates  []gate
	fixing atomic.Bool
	fixMu  sync.Mutex

	released atomic.Uint64 // descriptors released from the ring, in ring order
	tail     atomic.Uint32 // the last c_tail this server stored (consumer.tail)
	epoch    uint32
	initial  uint64       // ordinals below this were in the ring when the server (re)started
	pending  atomic.Int64 // of those, not yet answered
	bad      atomic.Uint64
	repairs  atomic.Uint64 // corrupt ring states repaired (see fix)
	remaps   atomic.Uint64 // times the file was mapped again after a truncation
	logMu    sync.Mutex
	logged   int // repair lines written (under logMu)
}

// gate is a thread's lock and its statistics, alone in a cache line.
type gate struct {
	sync.Mutex
	served uint64 // requests this thread answered (written under the lock)
	_      [64 - 16]byte
	buf    [serverBatch]Desc // the thread's claimed descriptors
}

// start repairs the consumer indices, takes the next epoch and notes the
// requests already in the ring (see offDrained). The epoch is stored before
// p_tail is read: a client that publishes a request and then reads the
// epoch either sees this epoch, or published before this server looked at
// p_tail, so its request is among those this server drains first. It runs
// before the threads start, or in fix with every gate held.
func (s *server) start() {
	r := s.r
	r.repair()
	store(r.word(offAwake), uint32(len(s.gates))) // a dead server's count is stale
	// A file that grew back after a truncation is zeroed: its epoch word
	// would start again from 0, below epochs clients read before (see
	// thread.reclaim). Epochs go on from this server's own.
	if e := load(r.word(offEpoch)); e < s.epoch {
		atomic.CompareAndSwapUint32(r.word(offEpoch), e, s.epoch)
	}
	s.epoch = atomic.AddUint32(r.word(offEpoch), 1)
	pt, ct := load(r.pTail()), load(r.cTail())
	s.tail.Store(ct)
	n := uint64(dist(ct, pt))
	s.initial = s.released.Load() + n
	s.pending.Store(int64(n))
	if n == 0 {
		store(r.word(offDrained), s.epoch)
	}
}

// loop is server thread i.
func (s *server) loop(i int) {
	// A fault on the mapping (the file was truncated under it) panics
	// instead of killing the process; step recovers it.
	debug.SetPanicOnFault(true)
	for !s.stop.Load() {
		if s.fixing.Load() {
			s.fixMu.Lock()
			//lint:ignore SA2001 taking the lock was the wait for the fix under way
			s.fixMu.Unlock()
			continue
		}
		gen := s.remaps.Load()
		switch s.step(i) {
		case halted:
			// stopping, or another thread is fixing: the loop sees which
		case corrupt:
			s.fix(false, gen)
		case faulted:
			s.fix(true, gen)
		}
	}
}

// faulted is step's result when the mapping faulted.
const faulted = corrupt + 1

// step takes one descriptor and handles it, holding the thread's gate.
func (s *server) step(i int) (res consumeResult) {
	g := &s.gates[i]
	g.Lock()
	defer g.Unlock()
	defer func() {
		if e := recover(); e != nil {
			if !isFault(e) {
				panic(e)
			}
			res = faulted
		}
	}()
	buf := g.buf[:]
	n, ord, res := s.r.consumeBatch(consumer{quit: s.quit, threads: uint32(len(s.gates)), wait: &s.o.wait,
		released: &s.released, tail: &s.tail, release: &s.release, batch: serverBatch}, buf)
	if res != consumed {
		return res
	}
	for i, d := range buf[:n] {
		if s.handle(d) {
			g.served++
		}
		if ord+uint64(i) < s.initial && s.pending.Add(-1) == 0 {
			store(s.r.word(offDrained), s.epoch)
		}
	}
	return consumed
}

// serverBatch is the most ring entries a server thread claims at once
// (see consumeBatch).
const serverBatch = 16

// quit tells a waiting consume to give up: the server stops, or a fix
// wants the gates.
func (s *server) quit() bool { return s.stop.Load() || s.fixing.Load() }

// handle validates d, applies it and answers; it returns false for a
// malformed descriptor, which it counts and skips without writing anything.
func (s *server) handle(d Desc) bool {
	switch {
	case d.Type != TypePut && d.Type != TypeGet:
		s.skip(d, "unknown req_type")
		return false
	case !ValidResOff(d.ResOff, s.r.size()):
		s.skip(d, "res_off outside the status board or not slot-aligned")
		return false
	}
	if d.Type == TypePut {
		s.table.Put(d.Key, d.Value)
	} else {
		d.Value = s.table.Get(d.Key)
	}
	s.r.answer(d)
	return true
}

// maxBadLogged bounds the -v lines about malformed descriptors.
const maxBadLogged = 16

func (s *server) skip(d Desc, why string) {
	n := s.bad.Add(1)
	atomic.AddUint32(s.r.word(offBad), 1)
	if s.o.Verbose && n <= maxBadLogged {
		more := ""
		if n == maxBadLogged {
			more = " (further ones are only counted)"
		}
		s.logMu.Lock()
		fmt.Fprintf(s.log, "shm server: skipped descriptor {req_type=%d k=%d v=%d res_off=%d}: %s%s\n",
			d.Type, d.Key, d.Value, d.ResOff, why, more)
		s.logMu.Unlock()
	}
}
