package shm

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/madkvline"
)

const clientUsage = `Usage: kvbench client shm [--file shmem_file] [--id N] [-w W] [--op-timeout D]
       kvbench client shm --create -n N [-w W] [--file shmem_file] < /dev/null

A MadKV stdin/stdout client for a shm server (kvbench serve shm, or a course
C server): it maps an existing shared file and acts as client thread --id,
owning that thread's -w status slots; each request line (GET k, PUT k v, STOP)
becomes one ring request. Keys and values are mapped to u32s as kvbench's shm
adapter does (a decimal u32 is itself, anything else its FNV-1a hash), so a
GET answers the stored number; 0 reads as null. PUT answers "PUT k unknown"
(the ring does not say whether the key existed); SWAP, DELETE and SCAN are
answered "ERROR unsupported ...".

The client creates the file and the server maps it, so the file must exist
before the server starts: create it first with --create, sized for -n client
threads of -w slots, then start the server, then the clients, each with its
own --id (default $KVBENCH_CLIENT_ID, which exec: sets, else 0):

  kvbench client shm --file /tmp/shm --create -n 4 < /dev/null
  kvbench serve shm --file /tmp/shm -n 2 &
  kvbench run --target exec:'kvbench client shm --file /tmp/shm' -n 4 --workload c

Limitation: a request's answer goes to a slot, not to a process. When a
client process dies with a request in flight (exec: kills a client that
times out) and a new process takes over the same --id, a late answer to the
old request can be taken for the new one's: kvbench's server echoes the
request into the slot, so a different key or kind is caught (an unknown
outcome), but the same key and kind are not; a course server echoes nothing.
For runs with crash or pause faults, drive shm with --impl shm or shm:FILE,
whose client keeps every slot's history in one process.

Flags:
`

// runClient is Impl.Client: `kvbench client shm ...`.
func runClient(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("shm client", flag.ContinueOnError)
	fset.SetOutput(stderr)
	file := fset.String("file", FileName, "the shared file")
	defID := 0
	if s := os.Getenv("KVBENCH_CLIENT_ID"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return madkvline.UsageError(fmt.Errorf("shm client: KVBENCH_CLIENT_ID=%q is not a client number", s))
		}
		defID = v
	}
	id := fset.Int("id", defID, "client thread number: its status slots are id*w .. id*w+w-1 (default $KVBENCH_CLIENT_ID, else 0)")
	w := fset.Int("w", 1, "status slots (requests in flight) per client thread, as the file was created")
	n := fset.Int("n", 0, "with --create: client threads the file has slots for")
	create := fset.Bool("create", false, "create the file for -n threads of -w slots (0600; an existing file of that size is kept)")
	timeout := fset.Duration("op-timeout", 0, "give up on a request after this long (answered ERROR unknown); 0 waits as long as it takes")
	fset.Usage = func() {
		fmt.Fprint(stderr, clientUsage)
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return madkvline.UsageError(fmt.Errorf("shm client: %w", err))
	}
	switch {
	case fset.NArg() > 0:
		return madkvline.UsageError(fmt.Errorf("shm client: unexpected argument %q", fset.Arg(0)))
	case *w < 1 || *w > RingSize-1:
		return madkvline.UsageError(fmt.Errorf("shm client: -w %d: want 1..%d", *w, RingSize-1))
	case *create && (*n < 1 || *n > (1<<20) / *w):
		return madkvline.UsageError(fmt.Errorf("shm client: --create needs -n in 1..%d for -w %d", (1<<20) / *w, *w))
	case !*create && *n != 0:
		return madkvline.UsageError(errors.New("shm client: -n sizes a file for --create; to attach, give --id"))
	case *id < 0:
		return madkvline.UsageError(fmt.Errorf("shm client: --id %d is negative", *id))
	}
	if *create {
		err := createFile(*file, *n, *w)
		if errors.Is(err, fs.ErrExist) {
			st, serr := os.Stat(*file)
			if serr != nil || st.Size() != int64(RegionSize(*n, *w)) {
				return fmt.Errorf("shm client: --create: %s exists with another size (want %d bytes for -n %d -w %d)",
					*file, RegionSize(*n, *w), *n, *w)
			}
			err = nil
		}
		if err != nil {
			return fmt.Errorf("shm client: --create: %w", err)
		}
	}
	c, cl, err := attach(*file, *id, *w)
	if err != nil {
		return fmt.Errorf("shm client: %w", err)
	}
	defer c.detach()
	var kv impls.Client = cl
	if *timeout > 0 {
		kv = timeoutClient{kv, *timeout}
	}
	return madkvline.ServeLog(ctx, kv, stdin, stdout, stderr)
}

// attach maps the existing file at path and returns a one-thread cluster
// and the client of thread id with w slots.
func attach(path string, id, w int) (*cluster, impls.Client, error) {
	r, err := mapFile(path)
	if err != nil {
		return nil, nil, err
	}
	if slots := r.slots(); (id+1)*w > slots {
		r.unmap()
		return nil, nil, fmt.Errorf("%s has %d status slots; --id %d -w %d needs slots %d..%d",
			path, slots, id, w, id*w, (id+1)*w-1)
	}
	c := &cluster{r: r, wait: defaultWait(), closing: make(chan struct{})}
	c.poller = newPoller(r, &c.wait)
	t := newThread(r, c.wait, c.poller, newRingLock(1), id, 1, w)
	// An answer left in a slot by a previous process of this id, or the
	// mark of its poller, is no answer to anything of ours.
	for s := range w {
		store(r.ready(t.base+s*DescSize), 0)
	}
	return c, &client{c: c, t: t}, nil
}

// detach stops the poller and unmaps the file. Call it once no Do runs.
func (c *cluster) detach() {
	close(c.closing)
	c.poller.idle()
	_ = c.r.unmap()
}

// timeoutClient bounds each request; a request that times out has an
// unknown outcome (it may still be served).
type timeoutClient struct {
	impls.Client
	d time.Duration
}

// Do runs req under a deadline of d.
func (c timeoutClient) Do(ctx context.Context, req impls.Request) (impls.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.d)
	defer cancel()
	return c.Client.Do(ctx, req) // a deadline is an unknown outcome (impls.IsUnknown)
}
