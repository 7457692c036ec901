package root

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Interrupted is the cause of a context that SignalContext cancelled.
type Interrupted struct {
	Signal syscall.Signal
}

func (e *Interrupted) Error() string { return "interrupted by " + e.name() }

func (e *Interrupted) name() string {
	switch e.Signal {
	case syscall.SIGINT:
		return "SIGINT (Ctrl-C)"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return e.Signal.String()
}

// ExitCode is the shell's code for a process ended by the signal: 128 plus
// its number, so 130 for SIGINT and 143 for SIGTERM.
func (e *Interrupted) ExitCode() int { return 128 + int(e.Signal) }

// SignalContext returns a context that is cancelled, with an *Interrupted
// cause, by the first SIGINT or SIGTERM. Commands see an ordinary
// cancellation and stop (rolling back what they started); Run then reports
// the interruption the same way for every command. A second signal ends
// the process at once. stop unregisters the handler.
func SignalContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			// A second signal takes the default action and ends the
			// process at once, should a command not heed the first (a
			// blocking read of stdin, say).
			signal.Stop(ch)
			sig, _ := s.(syscall.Signal)
			cancel(&Interrupted{Signal: sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// interruption returns how ctx was interrupted by a signal, or nil.
func interruption(ctx context.Context) *Interrupted {
	var in *Interrupted
	if errors.As(context.Cause(ctx), &in) {
		return in
	}
	return nil
}

// interruptedMessage is the one line Run prints for a command that a
// signal interrupted: what interrupted it, then what the command said about
// the state it left, without the driver's "context canceled".
func interruptedMessage(in *Interrupted, cmdPath string, err error) string {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	for _, noise := range []string{" (context canceled)", ": context canceled", "context canceled"} {
		msg = strings.ReplaceAll(msg, noise, "")
	}
	msg = strings.TrimSpace(msg)
	msg = strings.TrimPrefix(msg, "interrupted: ")
	msg = strings.TrimPrefix(msg, "interrupted")
	msg = strings.TrimLeft(msg, ":; ")
	if msg == "" {
		return fmt.Sprintf("%s before %s finished; what it did not finish was not done: run it again", in, cmdPath)
	}
	return fmt.Sprintf("%s: %s", in, msg)
}
