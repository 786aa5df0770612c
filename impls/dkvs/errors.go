package dkvs

import (
	"errors"
	"fmt"
)

// Code is one of the original's error codes (error.h). The process exit
// status is 256 + Code, i.e. the code's low byte: I/O 129 ... threading 138.
type Code int

// The original's error codes, counting up from -128 (ERR_LAST).
const (
	ErrIO              Code = -127 + iota // I/O Error
	ErrRuntime                            // Runtime error
	ErrOutOfMemory                        // Out of memory
	ErrNetwork                            // Network error
	ErrInvalidConfig                      // Invalid config
	ErrInvalidCommand                     // Invalid command
	ErrInvalidArgument                    // Invalid argument (internal error)
	ErrInvalidAddress                     // Invalid address
	ErrNotFound                           // Not found
	ErrThreading                          // Threading error
)

var codeMessages = map[Code]string{
	ErrIO:              "I/O Error",
	ErrRuntime:         "Runtime error",
	ErrOutOfMemory:     "Out of memory",
	ErrNetwork:         "Network error",
	ErrInvalidConfig:   "Invalid config",
	ErrInvalidCommand:  "Invalid command",
	ErrInvalidArgument: "Invalid argument (internal error)",
	ErrInvalidAddress:  "Invalid address",
	ErrNotFound:        "Not found",
	ErrThreading:       "Threading error",
}

// Message is the text the original prints after "ERROR: ".
func (c Code) Message() string {
	if m, ok := codeMessages[c]; ok {
		return m
	}
	return fmt.Sprintf("unknown error %d", int(c))
}

// Error implements error, so a Code can be returned and matched with
// errors.Is(err, ErrNotFound).
func (c Code) Error() string { return c.Message() }

// ExitCode is the process exit status the original exits with: 256 + c.
func (c Code) ExitCode() int { return 256 + int(c) }

// ExitError is what Impl.Serve and Impl.Client return when the original
// would exit with a non-zero status. The command has already printed what
// the original prints (ERROR: line, help text); cmd/kvbench must exit with
// ExitCode() and print nothing more.
type ExitError struct {
	Code Code
	// Err is the underlying cause, for logs and errors.Is; may be nil.
	Err error
}

// Error describes the exit.
func (e *ExitError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("dkvs: %s (exit status %d): %v", e.Code.Message(), e.ExitCode(), e.Err)
	}
	return fmt.Sprintf("dkvs: %s (exit status %d)", e.Code.Message(), e.ExitCode())
}

// ExitCode is the process exit status.
func (e *ExitError) ExitCode() int { return e.Code.ExitCode() }

// Reported is true: dkvs's server and client have already written the
// original's exact stderr, so kvbench adds nothing to it.
func (e *ExitError) Reported() bool { return true }

// Unwrap returns the code and the cause, so errors.Is(err, ErrNotFound) works.
func (e *ExitError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Code, e.Err}
	}
	return []error{e.Code}
}

// codeOf returns the Code err carries, or ErrRuntime.
func codeOf(err error) Code {
	var c Code
	if errors.As(err, &c) {
		return c
	}
	return ErrRuntime
}
