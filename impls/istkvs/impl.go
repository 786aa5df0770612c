package istkvs

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/kvbench/kvbench/impls"
)

// Impl describes istkvs for the registry.
func Impl() *impls.Impl {
	return &impls.Impl{
		Name:      "istkvs",
		Summary:   "IST-KVS: job files, COW backups, FIFO sessions with subscriptions (seed 001)",
		Kinds:     []impls.Kind{impls.Get, impls.Put, impls.Delete, impls.Scan},
		Canonical: Canonical,
		MaxWindow: 1,
		Claims:    claims,
		Serve:     serve,
		Start:     start,
		Client:    clientMain,
		Batch:     batch,
	}
}

// claims: each command applies under the table's lock; the table lives in
// memory only.
func claims(_ []string, f impls.Faults) impls.Claim {
	if f.Crash {
		return impls.Claim{Why: "istkvs keeps its table in memory (backups are snapshots, not a log); a crash loses every write"}
	}
	return impls.Claim{Linearizable: true,
		Why: "each command applies under the table's readers-writer lock, between the job file's appearance and its .out"}
}

// serveOptions are `kvbench serve istkvs`'s flags, beside the course's
// positional arguments.
type serveOptions struct {
	threads, backups, sessions int
	fifo                       string
	watch                      bool
}

func newServeFlags(o *serveOptions, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("istkvs", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&o.threads, "threads", 0, "max_threads, instead of the positional argument")
	fs.IntVar(&o.backups, "backups", 0, "max_backups, instead of the positional argument")
	fs.StringVar(&o.fifo, "fifo", "", "register fifo (part 2), instead of the positional argument")
	fs.IntVar(&o.sessions, "sessions", 8, "S: sessions served at once")
	fs.BoolVar(&o.watch, "watch", false, "part 1: keep running and run every .job file that appears (part 2 always does)")
	fs.Usage = func() {
		fmt.Fprint(out, `Usage:
  kvbench serve istkvs [flags] JOBS_DIR MAX_BACKUPS MAX_THREADS                  (part 1)
  kvbench serve istkvs [flags] JOBS_DIR MAX_THREADS MAX_BACKUPS REGISTER_FIFO    (part 2)
  kvbench serve istkvs [flags] --threads T --backups B [--fifo F] JOBS_DIR

IST-KVS runs every .job file of JOBS_DIR on MAX_THREADS threads against one
table, writing <job>.out and <job>-<n>.bck. Part 1 exits when every job and
backup is done; part 2 keeps running, runs new .job files as they appear and
serves client sessions on REGISTER_FIFO. Note the argument order: part 1
takes backups then threads, part 2 threads then backups (as the course's
material does).
Example: kvbench serve istkvs ./jobs 2 4
         kvbench serve istkvs ./jobs 4 2 /tmp/register_fifo

Flags:
`)
		fs.PrintDefaults()
	}
	return fs
}

// parseServe turns `kvbench serve istkvs ARGS` into a Config.
func parseServe(args []string, out io.Writer) (Config, error) {
	var o serveOptions
	fs := newServeFlags(&o, out)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	pos := fs.Args()
	cfg := Config{Sessions: o.sessions, Watch: o.watch}
	num := func(name, s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%s must be a positive integer, not %q", name, s)
		}
		return n, nil
	}
	var err1, err2 error
	switch len(pos) {
	case 1:
		cfg.Dir, cfg.Threads, cfg.Backups, cfg.RegisterFifo = pos[0], o.threads, o.backups, o.fifo
		if cfg.Threads == 0 {
			cfg.Threads = 4
		}
		if cfg.Backups == 0 {
			cfg.Backups = 2
		}
	case 3:
		cfg.Dir = pos[0]
		cfg.Backups, err1 = num("max_backups", pos[1])
		cfg.Threads, err2 = num("max_threads", pos[2])
	case 4:
		cfg.Dir = pos[0]
		cfg.Threads, err1 = num("max_threads", pos[1])
		cfg.Backups, err2 = num("max_backups", pos[2])
		cfg.RegisterFifo = pos[3]
	default:
		return Config{}, errors.New("want JOBS_DIR MAX_BACKUPS MAX_THREADS (part 1) or JOBS_DIR MAX_THREADS MAX_BACKUPS REGISTER_FIFO (part 2)")
	}
	if err := errors.Join(err1, err2); err != nil {
		return Config{}, err
	}
	if len(pos) > 1 && (o.threads != 0 || o.backups != 0 || o.fifo != "") {
		return Config{}, errors.New("--threads, --backups and --fifo replace the positional arguments; give one or the other")
	}
	if cfg.Threads < 1 || cfg.Backups < 1 || cfg.Sessions < 1 {
		return Config{}, errors.New("--threads, --backups and --sessions must be at least 1")
	}
	return cfg, nil
}

// serve is `kvbench serve istkvs ...`.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseServe(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("istkvs: %w (see kvbench serve istkvs -h)", err)
	}
	cfg.Stdout, cfg.Stderr = stdout, stderr
	s, err := NewServer(cfg)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// Canonical is Impl.Canonical: a value istkvs can store is kept; any other
// (too long, empty, with spaces or the syntax's ",()[]", reserved) becomes
// the 40 hex digits of its SHA-1, which is one.
func Canonical(v string) string {
	if ValidString(v) {
		return v
	}
	return sha1Hex(v)
}
