package root

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/iostreams"
)

// TestInterruptedExitCodes runs a command that waits for its context and
// cancels that context the way SignalContext does: SIGINT is exit 130 and
// SIGTERM 143 whatever the command returns, with one line that says so.
func TestInterruptedExitCodes(t *testing.T) {
	for _, tt := range []struct {
		sig     syscall.Signal
		code    int
		cmdErr  error
		want    string
		notWant string
	}{
		{syscall.SIGTERM, 143, context.Canceled, "connectdb: interrupted by SIGTERM before connectdb wait finished", "context canceled"},
		{syscall.SIGINT, 130, context.Canceled, "connectdb: interrupted by SIGINT (Ctrl-C) before connectdb wait finished", "context canceled"},
		{syscall.SIGTERM, 143, nil, "interrupted by SIGTERM before", ""},
		{syscall.SIGTERM, 143, cmdutil.Findings("interrupted: the migration was rolled back and nothing was committed; run it again when ready (%v)", context.Canceled),
			"connectdb: interrupted by SIGTERM: the migration was rolled back and nothing was committed; run it again when ready\n", "context canceled"},
		{syscall.SIGINT, 130, cmdutil.Unreachable(errors.New("cannot connect: context canceled")), "interrupted by SIGINT (Ctrl-C): cannot connect", ""},
	} {
		io, _, _, errOut := iostreams.Test()
		f := cmdutil.NewFactory(io)
		f.Getenv = func(string) string { return "" }
		ctx, cancel := context.WithCancelCause(context.Background())
		cmd := NewCmdRoot(f)
		cmd.AddCommand(&cobra.Command{Use: "wait", RunE: func(c *cobra.Command, _ []string) error {
			cancel(&Interrupted{Signal: tt.sig})
			<-c.Context().Done()
			return tt.cmdErr
		}})
		code := execute(ctx, f, cmd, []string{"wait"})
		e := errOut.String()
		if code != tt.code || !strings.Contains(e, tt.want) || strings.Count(e, "\n") != 1 || tt.notWant != "" && strings.Contains(e, tt.notWant) {
			t.Errorf("%v, %v: exit %d, stderr %q; want %d and %q", tt.sig, tt.cmdErr, code, e, tt.code, tt.want)
		}
	}
}

// TestSignalContext sends this process a real SIGTERM and checks that the
// context is cancelled with the cause Run reports.
func TestSignalContext(t *testing.T) {
	ctx, stop := SignalContext(context.Background())
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute): // a bound on a hang, not a timing assertion
		t.Fatal("SIGTERM did not cancel the context")
	}
	in := interruption(ctx)
	if in == nil || in.Signal != syscall.SIGTERM || in.ExitCode() != 143 {
		t.Fatalf("cause = %v, want SIGTERM / 143", context.Cause(ctx))
	}
}
