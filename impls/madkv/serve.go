package madkv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// MaxServers is the most servers a manager's list may name (the course's limit).
const MaxServers = 50

// ErrUsage: the command line does not match any stage's form.
var ErrUsage = errors.New("usage")

const usage = `Usage:
  kvbench serve madkv server LISTEN_ADDR                               stage 1: one server, in memory
  kvbench serve madkv manager MAN_PORT IP:PORT,IP:PORT,...             stage 2: the manager and the server list
  kvbench serve madkv server ID MANAGER_ADDR API_PORT BACKER_PATH      stage 2: server ID, durable under BACKER_PATH

A bare port binds 127.0.0.1. Examples:
  kvbench serve madkv server 127.0.0.1:3777
  kvbench serve madkv manager 3666 127.0.0.1:3777,127.0.0.1:3778,127.0.0.1:3779
  kvbench serve madkv server 0 127.0.0.1:3666 3777 ./backer.s0
`

// serveConfig is a parsed `kvbench serve madkv` command line.
type serveConfig struct {
	role    string // "server" or "manager"
	stage   int
	listen  string // address to bind
	id      int
	manager string
	backer  string
	servers []string
}

// parseServeArgs parses the system's own command line.
func parseServeArgs(args []string) (serveConfig, error) {
	bad := func(format string, a ...any) (serveConfig, error) {
		return serveConfig{}, fmt.Errorf("%w: %s\n%s", ErrUsage, fmt.Sprintf(format, a...), usage)
	}
	switch {
	case len(args) == 2 && args[0] == "server":
		if _, _, err := net.SplitHostPort(args[1]); err != nil {
			return bad("listen address %q: %v", args[1], err)
		}
		return serveConfig{role: "server", stage: 1, listen: args[1]}, nil
	case len(args) == 3 && args[0] == "manager":
		port, err := parsePort(args[1])
		if err != nil {
			return bad("manager port: %v", err)
		}
		servers := strings.Split(args[2], ",")
		if len(servers) > MaxServers {
			return bad("%d servers: at most %d", len(servers), MaxServers)
		}
		for _, s := range servers {
			if _, p, err := net.SplitHostPort(s); err != nil || p == "" {
				return bad("server address %q: want ip:port", s)
			}
		}
		return serveConfig{role: "manager", stage: 2, listen: net.JoinHostPort("127.0.0.1", port), servers: servers}, nil
	case len(args) == 5 && args[0] == "server":
		id, err := strconv.Atoi(args[1])
		if err != nil || id < 0 || id >= MaxServers {
			return bad("server id %q: want 0..%d", args[1], MaxServers-1)
		}
		if _, _, err := net.SplitHostPort(args[2]); err != nil {
			return bad("manager address %q: %v", args[2], err)
		}
		port, err := parsePort(args[3])
		if err != nil {
			return bad("api port: %v", err)
		}
		if args[4] == "" {
			return bad("empty backer path")
		}
		return serveConfig{role: "server", stage: 2, id: id, manager: args[2], listen: net.JoinHostPort("127.0.0.1", port), backer: args[4]}, nil
	}
	return bad("%d arguments", len(args))
}

func parsePort(s string) (string, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q is not a port", s)
	}
	return s, nil
}

// serve is `kvbench serve madkv ...`.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cfg, err := parseServeArgs(args)
	if err != nil {
		return fmt.Errorf("madkv: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("madkv: %w", err)
	}
	if cfg.role == "manager" {
		fmt.Fprintf(stderr, "madkv manager listening on %s, %d servers: %s\n", ln.Addr(), len(cfg.servers), strings.Join(cfg.servers, ","))
		return newListener(newManager(cfg.servers), stderr).serve(ctx, ln)
	}
	ds := &dataServer{id: cfg.id, stage: cfg.stage}
	if cfg.stage == 1 {
		ds.st = newMemStore()
		ds.ready.Store(true)
		fmt.Fprintf(stderr, "madkv server (stage 1, in memory) listening on %s\n", ln.Addr())
	} else {
		bs, err := openDurable(cfg.backer, stderr)
		if err != nil {
			ln.Close()
			return err
		}
		ds.st = bs
		fmt.Fprintf(stderr, "madkv server %d (stage 2, backer %s) listening on %s, manager %s\n", cfg.id, cfg.backer, ln.Addr(), cfg.manager)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	regDone := make(chan struct{})
	if cfg.stage == 2 {
		_, port, _ := net.SplitHostPort(cfg.listen)
		go func() {
			defer close(regDone)
			if err := register(ctx, ds, cfg.manager, port, stderr); err != nil {
				cancel(err)
			}
		}()
	} else {
		close(regDone)
	}
	serveErr := newListener(ds, stderr).serve(ctx, ln)
	cancel(nil)
	<-regDone // it may be writing the backer's identity: wait before closing the store
	commits, writes := ds.st.stats()
	if cfg.stage == 2 {
		fmt.Fprintf(stderr, "madkv server %d: %d writes in %d commits\n", cfg.id, writes, commits)
	}
	cerr := ds.st.close()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return errors.Join(serveErr, cerr)
}

// heartbeat is how often a stage 2 server re-registers, so a restarted
// manager learns of it again.
const heartbeat = time.Second

// register registers ds with the manager and keeps re-registering. The first
// success makes ds ready. A refusal (wrong id or port, a backer of another
// configuration) is fatal.
func register(ctx context.Context, ds *dataServer, manager, port string, log io.Writer) error {
	mgr := &peer{addr: manager}
	defer mgr.close()
	bs, _ := ds.st.(interface{ claim(id, parts int) error })
	for {
		resp, err := retry(ctx, mgr, &request{op: opRegister, client: uint64(ds.id), key: port})
		if errors.Is(err, ErrRefused) {
			return fmt.Errorf("madkv server %d: manager %s: %w", ds.id, manager, err)
		}
		if err == nil && !ds.ready.Load() {
			parts, perr := strconv.Atoi(pairMap(resp.pairs)["partitions"])
			if perr != nil || parts < 1 || ds.id >= parts {
				return fmt.Errorf("madkv server %d: manager %s answered partitions %q", ds.id, manager, pairMap(resp.pairs)["partitions"])
			}
			if bs != nil {
				if err := bs.claim(ds.id, parts); err != nil {
					return err
				}
			}
			ds.parts.Store(int64(parts))
			ds.ready.Store(true)
			fmt.Fprintf(log, "madkv server %d: registered with manager %s (%d partitions); serving\n", ds.id, manager, parts)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(heartbeat):
		}
	}
}

// openDurable opens stage 2's store under backer.
func openDurable(backer string, log io.Writer) (store, error) {
	return openPebbleStore(backer, log)
}
