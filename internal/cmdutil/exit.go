// Package cmdutil holds what every connectdb command shares: the global
// flags, the exit-code convention and the errors that carry an exit code.
package cmdutil

import (
	"errors"
	"fmt"
)

// Exit codes, documented in docs/exit-codes.md. Scripts depend on them: never
// renumber.
const (
	ExitOK          = 0 // everything passed
	ExitFindings    = 1 // a check failed, a lock is still held, a migration rolled back
	ExitUsage       = 2 // bad flags, arguments or unreadable input (config, key file)
	ExitUnreachable = 3 // no database could be reached
	// ExitInterrupted is 128+SIGINT, as shells report Ctrl-C.
	ExitInterrupted = 130
)

// ExitError is an error that decides the process exit code. Its message is
// printed as one line on stderr, prefixed with "connectdb: ".
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// UsageError wraps err so that it exits with ExitUsage.
func UsageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// Usagef formats a usage error: the message must name the flag or file and the fix.
func Usagef(format string, a ...any) error { return UsageError(fmt.Errorf(format, a...)) }

// Unreachable wraps err so that it exits with ExitUnreachable.
func Unreachable(err error) error { return &ExitError{Code: ExitUnreachable, Err: err} }

// ErrSilent reports failure (exit 1) when the command has already printed
// everything the user needs; nothing more is printed.
var ErrSilent = &ExitError{Code: ExitFindings, Err: errors.New("")}

// Findings returns an exit-1 error whose message is printed.
func Findings(format string, a ...any) error {
	return &ExitError{Code: ExitFindings, Err: fmt.Errorf(format, a...)}
}

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFindings
}
