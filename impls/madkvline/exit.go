package madkvline

// ExitError is an error a `kvbench client NAME` implementation returns to
// choose its exit code (2 for a command-line mistake, as flag packages do).
// The command prints Err and exits with Code.
type ExitError struct {
	Code int
	Err  error
}

// Error returns Err's message.
func (e *ExitError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode returns Code.
func (e *ExitError) ExitCode() int { return e.Code }

// UsageError wraps a command-line mistake with exit code 2.
func UsageError(err error) error { return &ExitError{Code: 2, Err: err} }
