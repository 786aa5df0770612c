package dkvs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// HelpText is the original client's help, printed on stdout by `help` and
// after every error.
const HelpText = `dkvs-client <COMMAND> [-r R] [-w W] [-n N] -- [ARGUMENTS]
where possible commands are:
  help: displays this help;
  get: get a value from a key, to be provided as extra argument (after "--");
  put: put a key-value pair, to be provided as extra arguments, key first, then value;
  cat: concatenate several values into a new key; the values are indicated by their key;
       for example: cat -- a b c, will concatenate the values of keys a and b into the value for key c;
  substr: extract a substring from a value and store the result under a new key;
          it requires 4 arguments: key to read from, index of substr, length of substr, and key where to put the result to;
  find: to search from a value into another; it requires two keys: which value to search into and what value to search;
        it returns the index of the searched value inside the reference value (starting from 0) or -1 if the value is not found.
`

// which quorum flags a command uses.
const (
	useN = 1 << iota
	useW
	useR
)

// command is one client command: the flags it uses, its argument count and
// what it does. run prints OK lines itself; a returned error makes the
// caller print FAIL (the command ran and failed), except for arity errors.
type command struct {
	flags          int
	minArg, maxArg int
	run            func(ctx context.Context, c *QuorumClient, args []string, stdout io.Writer) error
}

var commands = map[string]command{
	"get":    {useN | useR, 1, 1, cmdGet},
	"put":    {useN | useW, 2, 2, cmdPut},
	"cat":    {useN | useR | useW, 2, 1 << 30, cmdCat},
	"substr": {useN | useR | useW, 4, 4, cmdSubstr},
	"find":   {useN | useR, 2, 2, cmdFind},
}

// cliOptions are what tests change; the zero value is the original's
// behaviour.
type cliOptions struct {
	// servers is the default servers.txt path ("servers.txt", in the
	// current directory, as the original).
	servers string
	// timeout bounds one quorum operation and, for dump-ring, the silence
	// that ends a server's dump; 0 means DefaultTimeout.
	timeout time.Duration
}

// client is Impl.Client: `kvbench client dkvs <cmd> [-n N] [-w W] [-r R]
// [--servers FILE] -- args`, `kvbench client dkvs dump-ring [--servers
// FILE]`, and `kvbench client dkvs conform -- CLIENT...` (conform.go). Its stdout, stderr and exit status are the original's; a failure
// returns an *ExitError carrying the status.
func client(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return runCLI(ctx, cliOptions{}, args, stdout, stderr)
}

func runCLI(ctx context.Context, o cliOptions, args []string, stdout, stderr io.Writer) error {
	if o.servers == "" {
		o.servers = "servers.txt"
	}
	if len(args) > 0 && args[0] == "dump-ring" {
		return dumpRing(ctx, o, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "conform" {
		return conform(ctx, args[1:], stdout)
	}
	err := runCommand(ctx, o, args, stdout)
	if err == nil {
		return nil
	}
	c := codeOf(err)
	fmt.Fprintf(stderr, "ERROR: %s\n", c.Message())
	io.WriteString(stdout, HelpText)
	return &ExitError{Code: c, Err: err}
}

func runCommand(ctx context.Context, o cliOptions, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no command", ErrInvalidCommand)
	}
	name, args := args[0], args[1:]
	if name == "help" {
		io.WriteString(stdout, HelpText)
		return nil
	}
	cmd, ok := commands[name]
	if !ok {
		return fmt.Errorf("%w: unknown command %q", ErrInvalidCommand, name)
	}
	q, servers, rest, err := parseFlags(args, cmd.flags, o.servers)
	if err != nil {
		return err
	}
	ring, err := LoadServers(servers)
	if err != nil {
		return err
	}
	if len(rest) < cmd.minArg || len(rest) > cmd.maxArg {
		return fmt.Errorf("%w: %s takes %d..%d arguments, got %d", ErrInvalidCommand, name, cmd.minArg, cmd.maxArg, len(rest))
	}
	qc := &QuorumClient{Ring: ring, Q: q, Timeout: o.timeout}
	if err := cmd.run(ctx, qc, rest, stdout); err != nil {
		io.WriteString(stdout, "FAIL\n")
		return err
	}
	return nil
}

// parseFlags parses [-n N] [-w W] [-r R] [--servers FILE] up to "--". Every
// word before "--" must be one of those flags with a plain positive decimal
// value, else it is an invalid command. Flags the command does not use
// (uses) are checked and ignored. Then N, W and R get the original's
// defaults: N = max of the given W and R, or 3; W and R = min(N, 2).
func parseFlags(args []string, uses int, servers string) (q Quorum, file string, rest []string, err error) {
	file = servers
	var n, w, r uint64
	for len(args) > 0 {
		a := args[0]
		args = args[1:]
		if a == "--" {
			rest = args
			break
		}
		if v, ok := strings.CutPrefix(a, "--servers="); ok {
			file = v
			continue
		}
		if len(args) == 0 {
			return q, file, nil, fmt.Errorf("%w: %q needs a value", ErrInvalidCommand, a)
		}
		v := args[0]
		args = args[1:]
		var dst *uint64
		var bit int
		switch a {
		case "--servers":
			file = v
			continue
		case "-n":
			dst, bit = &n, useN
		case "-w":
			dst, bit = &w, useW
		case "-r":
			dst, bit = &r, useR
		default:
			return q, file, nil, fmt.Errorf("%w: unexpected %q before \"--\"", ErrInvalidCommand, a)
		}
		x, err := parsePositive(v, 1<<31-1)
		if err != nil {
			return q, file, nil, fmt.Errorf("%w: %s %q is not a positive decimal", ErrInvalidCommand, a, v)
		}
		if uses&bit != 0 {
			*dst = x
		}
	}
	q = quorumOf(int(n), int(w), int(r))
	if err := q.Validate(); err != nil {
		return q, file, nil, err
	}
	return q, file, rest, nil
}

func getValue(ctx context.Context, c *QuorumClient, key string) (string, error) {
	res, err := c.Get(ctx, key)
	if err != nil {
		return "", err
	}
	return res.Value, nil
}

func cmdGet(ctx context.Context, c *QuorumClient, args []string, stdout io.Writer) error {
	v, err := getValue(ctx, c, args[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "OK %s\n", v)
	return nil
}

func cmdPut(ctx context.Context, c *QuorumClient, args []string, stdout io.Writer) error {
	if err := c.Put(ctx, args[0], args[1]); err != nil {
		return err
	}
	io.WriteString(stdout, "OK\n")
	return nil
}

func cmdCat(ctx context.Context, c *QuorumClient, args []string, stdout io.Writer) error {
	var b strings.Builder
	for _, k := range args[:len(args)-1] {
		v, err := getValue(ctx, c, k)
		if err != nil {
			return err
		}
		b.WriteString(v)
	}
	return cmdPut(ctx, c, []string{args[len(args)-1], b.String()}, stdout)
}

// cmdSubstr: a negative position counts from the end (-1 is the last
// byte); a position or length that is not a decimal, a negative length, or
// a range outside the value is an invalid command (after FAIL).
func cmdSubstr(ctx context.Context, c *QuorumClient, args []string, stdout io.Writer) error {
	pos, err1 := strconv.ParseInt(args[1], 10, 64)
	n, err2 := strconv.ParseInt(args[2], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("%w: substr position %q, length %q: %w", ErrInvalidCommand, args[1], args[2], err)
	}
	if n < 0 {
		return fmt.Errorf("%w: substr of negative length %d", ErrInvalidCommand, n)
	}
	v, err := getValue(ctx, c, args[0])
	if err != nil {
		return err
	}
	size := int64(len(v))
	if pos < 0 {
		pos += size
	}
	if pos < 0 || pos > size || n > size-pos {
		return fmt.Errorf("%w: substr %s %s of a %d-byte value", ErrInvalidCommand, args[1], args[2], size)
	}
	return cmdPut(ctx, c, []string{args[3], v[pos : pos+n]}, stdout)
}

func cmdFind(ctx context.Context, c *QuorumClient, args []string, stdout io.Writer) error {
	hay, err := getValue(ctx, c, args[0])
	if err != nil {
		return err
	}
	needle, err := getValue(ctx, c, args[1])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "OK %d\n", strings.Index(hay, needle))
	return nil
}
