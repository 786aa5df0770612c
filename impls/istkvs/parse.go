package istkvs

import (
	"bytes"
	"errors"
	"strconv"
)

// Limits of IST-KVS's job syntax and protocol.
const (
	// MaxString is the longest key or value: the protocol's fields are 41
	// bytes with the terminating NUL.
	MaxString = 40
	// MaxPairs is the most pairs (WRITE) or keys (READ, DELETE) in one command.
	MaxPairs = 255
	// MaxJobPath is the longest job file path the server accepts.
	MaxJobPath = 256
)

// The reserved strings: never a key or a value.
const (
	ReadMissing   = "KVSERROR"   // a READ of a missing key
	DeleteMissing = "KVSMISSING" // a DELETE of a missing key
	Deleted       = "DELETED"    // a notification's value for a deleted key
)

// InvalidMessage is what the server prints to stderr for a line it rejects.
const InvalidMessage = "Invalid command. See HELP for usage"

// ErrInvalid is returned by ParseLine for a line that is not a command;
// its text is the spec's message.
var ErrInvalid = errors.New(InvalidMessage) //lint:ignore ST1005 the course's exact message

// Op is a job command.
type Op uint8

// The job commands. OpNone is a comment or an empty line.
const (
	OpNone Op = iota
	OpWrite
	OpRead
	OpDelete
	OpShow
	OpWait
	OpBackup
	OpHelp
)

var opNames = [...]string{"NONE", "WRITE", "READ", "DELETE", "SHOW", "WAIT", "BACKUP", "HELP"}

// String returns the command's keyword.
func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// Pair is one key and value of a WRITE.
type Pair struct{ Key, Value string }

// Command is one parsed job line.
type Command struct {
	Op    Op
	Pairs []Pair   // WRITE, in command order
	Keys  []string // READ, DELETE, in command order
	Delay uint32   // WAIT, milliseconds
}

// HelpText is what HELP prints to stdout.
const HelpText = `Available commands:
  WRITE [(key,value)(key2,value2),...]
  READ [key,key2,...]
  DELETE [key,key2,...]
  SHOW
  WAIT <delay_ms>
  BACKUP
  HELP
`

// ParseLine parses one job line, without its '\n'. A comment (a line
// starting with '#') or an empty line is OpNone. Anything not exactly in the
// spec's syntax returns ErrInvalid: spaces inside a command, a trailing '\r'
// (CRLF files), an empty, reserved or over-long key or value, more than
// MaxPairs pairs, anything after ']'.
func ParseLine(line []byte) (Command, error) {
	if len(line) == 0 || line[0] == '#' {
		return Command{}, nil
	}
	switch {
	case string(line) == "SHOW":
		return Command{Op: OpShow}, nil
	case string(line) == "BACKUP":
		return Command{Op: OpBackup}, nil
	case string(line) == "HELP":
		return Command{Op: OpHelp}, nil
	case bytes.HasPrefix(line, []byte("WAIT ")):
		return parseWait(line[len("WAIT "):])
	case bytes.HasPrefix(line, []byte("WRITE [")):
		pairs, ok := parsePairs(line[len("WRITE ["):])
		if !ok {
			return Command{}, ErrInvalid
		}
		return Command{Op: OpWrite, Pairs: pairs}, nil
	case bytes.HasPrefix(line, []byte("READ [")):
		keys, ok := parseKeys(line[len("READ ["):])
		if !ok {
			return Command{}, ErrInvalid
		}
		return Command{Op: OpRead, Keys: keys}, nil
	case bytes.HasPrefix(line, []byte("DELETE [")):
		keys, ok := parseKeys(line[len("DELETE ["):])
		if !ok {
			return Command{}, ErrInvalid
		}
		return Command{Op: OpDelete, Keys: keys}, nil
	}
	return Command{}, ErrInvalid
}

func parseWait(b []byte) (Command, error) {
	if len(b) == 0 || len(b) > 10 {
		return Command{}, ErrInvalid
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return Command{}, ErrInvalid
		}
	}
	n, err := strconv.ParseUint(string(b), 10, 32)
	if err != nil {
		return Command{}, ErrInvalid
	}
	return Command{Op: OpWait, Delay: uint32(n)}, nil
}

// tokenByte reports whether c may appear in a key or value: no spaces or
// control characters, none of the syntax's ",()[]".
func tokenByte(c byte) bool {
	switch c {
	case ',', '(', ')', '[', ']', 0x7f:
		return false
	}
	return c > ' '
}

// token returns the longest prefix of b made of token bytes.
func token(b []byte) ([]byte, []byte) {
	i := 0
	for i < len(b) && tokenByte(b[i]) {
		i++
	}
	return b[:i], b[i:]
}

// ValidString reports whether s may be a key or a value: 1..MaxString
// token bytes, not reserved.
func ValidString(s string) bool {
	if len(s) == 0 || len(s) > MaxString || s == ReadMissing || s == DeleteMissing || s == Deleted {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte(s[i]) {
			return false
		}
	}
	return true
}

func validToken(t []byte) bool {
	if len(t) == 0 || len(t) > MaxString {
		return false
	}
	s := string(t)
	return s != ReadMissing && s != DeleteMissing && s != Deleted
}

// parsePairs parses "(k,v)(k,v)...]" to the end of b.
func parsePairs(b []byte) ([]Pair, bool) {
	var pairs []Pair
	for {
		if len(b) == 1 && b[0] == ']' && len(pairs) > 0 {
			return pairs, true
		}
		if len(b) == 0 || b[0] != '(' || len(pairs) == MaxPairs {
			return nil, false
		}
		var k, v []byte
		k, b = token(b[1:])
		if len(b) == 0 || b[0] != ',' || !validToken(k) {
			return nil, false
		}
		v, b = token(b[1:])
		if len(b) == 0 || b[0] != ')' || !validToken(v) {
			return nil, false
		}
		b = b[1:]
		pairs = append(pairs, Pair{Key: string(k), Value: string(v)})
	}
}

// parseKeys parses "k1,k2,...]" to the end of b.
func parseKeys(b []byte) ([]string, bool) {
	var keys []string
	for {
		if len(keys) == MaxPairs {
			return nil, false
		}
		var k []byte
		k, b = token(b)
		if !validToken(k) || len(b) == 0 {
			return nil, false
		}
		keys = append(keys, string(k))
		switch {
		case len(b) == 1 && b[0] == ']':
			return keys, true
		case b[0] == ',':
			b = b[1:]
		default:
			return nil, false
		}
	}
}
