// Package releaselocks implements `connectdb release-locks`: free an
// advisory lock, such as Connect's upgrade lock, by ending the session that
// holds it, safely and only after a dry run.
package releaselocks

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/locks"
	"github.com/connectdb/connectdb/internal/target"
)

// ReleaseLocksOptions holds the flags of release-locks.
type ReleaseLocksOptions struct {
	F            *cmdutil.Factory
	PID          int32
	ConnectLock  bool
	IdleFor      time.Duration
	AllDatabases bool
	Force        bool
	StuckAfter   time.Duration
	Yes          bool
	Grace        time.Duration
	Wait         time.Duration
}

// NewCmdReleaseLocks returns the release-locks command.
func NewCmdReleaseLocks(f *cmdutil.Factory) *cobra.Command {
	opts := &ReleaseLocksOptions{F: f}
	cmd := &cobra.Command{
		Use:   "release-locks (--lock-id ID | --connect-lock | --pid PID | --idle-for DURATION) [--yes]",
		Short: "Free an advisory lock by ending the session that holds it (dry run unless --yes)",
		Long: `release-locks frees an advisory lock, such as Connect's upgrade lock left behind by a
crashed or hung upgrade, by ending the session that holds it: an idle holder is
terminated (pg_terminate_backend); a running holder, only with --force, is first
cancelled (pg_cancel_backend) so it can let go itself, then terminated. It then reads
pg_locks again and reports the lock as released, or exits 1.

Without --yes it is a dry run that prints which sessions it would end and why (on a
terminal it asks y/N instead). It ends only holders that show-locks calls "looks
stuck" (the same rule: idle for at least --stuck-after, 1m by default, or at least
1m when idle in a transaction, not running a statement, no migration-like
application, no busy session of the same client); it refuses every other holder,
with show-locks' verdict and the time left before it would look stuck, unless
--force. It never ends its own session or a session of another database (unless
--all-databases), and re-checks pid, backend start, state and the lock in the same
statement that ends the session.

SELECT pg_advisory_unlock_all() from psql does not do this: it only releases locks
held by the session that runs it.`,
		Example: `  connectdb release-locks --lock-id 4242
  connectdb release-locks --connect-lock --yes            # ID from CONNECTDB_LOCK_ID
  connectdb release-locks --lock-id 10,20 --idle-for 10m --yes
  connectdb release-locks --pid 4711 --force --yes --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, c := range []struct {
				r locks.DurationRange
				d time.Duration
			}{{locks.StuckAfterRange, opts.StuckAfter}, {locks.GraceRange, opts.Grace}, {locks.WaitRange, opts.Wait}} {
				if err := c.r.Check(c.d); err != nil {
					return cmdutil.UsageError(err)
				}
			}
			return runReleaseLocks(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Globals.LockID, "lock-id", "", "release this lock: a bigint or two integers a,b; with --connect-lock, Connect's lock ID (env CONNECTDB_LOCK_ID)")
	fl.BoolVar(&opts.ConnectLock, "connect-lock", false, "release Connect's upgrade lock (its ID from --lock-id or CONNECTDB_LOCK_ID)")
	fl.Int32Var(&opts.PID, "pid", 0, "only the session with this backend pid")
	fl.DurationVar(&opts.IdleFor, "idle-for", 0, "only holders idle for at least DURATION, such as 10m")
	fl.BoolVar(&opts.AllDatabases, "all-databases", false, "also end holders connected to other databases of the cluster")
	fl.BoolVar(&opts.Force, "force", false, "also end holders that show-locks does not call stuck: running, migration-like, or idle only briefly")
	fl.DurationVar(&opts.StuckAfter, "stuck-after", locks.DefaultStuckAfter, "idle time after which a holder looks stuck, as in show-locks ("+locks.StuckAfterRange.String()+"; idle in a transaction: at least "+locks.FormatAge(locks.MinTransactionIdle)+")")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "act without asking; without it release-locks is a dry run")
	fl.DurationVar(&opts.Grace, "grace", 5*time.Second, "how long a cancelled holder has to release its lock before it is terminated ("+locks.GraceRange.String()+")")
	fl.DurationVar(&opts.Wait, "wait", 10*time.Second, "how long to wait for the lock to disappear after ending its holder ("+locks.WaitRange.String()+")")
	return cmd
}

// Report is the JSON output of release-locks.
type Report struct {
	Target     string            `json:"target"`
	Database   string            `json:"database"`
	User       string            `json:"connected_as"`
	Selection  string            `json:"selection"`
	DryRun     bool              `json:"dry_run"`
	Candidates []locks.Candidate `json:"candidates"`
	Notes      []string          `json:"notes"`
	Result     *locks.Result     `json:"result"`
	Released   bool              `json:"released"`
}

func runReleaseLocks(ctx context.Context, opts *ReleaseLocksOptions) error {
	f := opts.F
	if err := f.CheckOutput("text", "json"); err != nil {
		return err
	}
	sel, desc, err := selection(opts)
	if err != nil {
		return err
	}
	set, err := target.Resolve(ctx, f)
	if err != nil {
		return err
	}
	t := set.Primary
	conn, err := t.Connect(ctx, f.Globals.Timeout)
	if err != nil {
		return cmdutil.Unreachable(err)
	}
	defer conn.Close(context.Background())

	qctx, cancel := context.WithTimeout(ctx, f.Globals.Timeout)
	snap, err := locks.Read(qctx, conn, locks.ListOptions{AllDatabases: true})
	cancel()
	if err != nil {
		return fmt.Errorf("listing advisory locks in %s: %w", t.Redacted, err)
	}
	plan := locks.MakePlan(snap, sel)
	rep := &Report{Target: t.Redacted, Database: snap.Database, User: snap.User, Selection: desc,
		DryRun: true, Candidates: plan.Candidates, Notes: plan.Notes}
	if rep.Candidates == nil {
		rep.Candidates = []locks.Candidate{}
	}
	rep.Notes = append(rep.Notes, t.Connection().Notes()...)
	if rep.Notes == nil {
		rep.Notes = []string{}
	}
	actionable, refused := plan.Actionable(), plan.Refused()

	out := bufio.NewWriter(f.IO.Out)
	defer out.Flush()
	cs := f.IO.ColorScheme()
	if !f.JSON() {
		writePlan(out, cs, rep)
	}

	act := opts.Yes && len(actionable) > 0
	if !opts.Yes && len(actionable) > 0 && !f.JSON() && f.IO.IsStdinTTY() && f.IO.IsStdoutTTY() {
		fmt.Fprintf(out, "\nEnd %s? [y/N] ", sessions(actionable))
		out.Flush()
		line, _ := bufio.NewReader(f.IO.In).ReadString('\n')
		act = strings.EqualFold(strings.TrimSpace(line), "y") || strings.EqualFold(strings.TrimSpace(line), "yes")
	}

	if act {
		rep.DryRun = false
		if f.IO.IsStderrTTY() {
			fmt.Fprintf(f.IO.ErrOut, "Ending %s; waiting up to %s for the locks to go…\n", sessions(actionable), opts.Wait)
		}
		res, err := locks.Execute(ctx, conn, plan, sel, locks.ExecOptions{Grace: opts.Grace, Wait: opts.Wait})
		rep.Result = res
		if err != nil {
			if f.JSON() {
				_ = cmdutil.WriteJSON(out, rep)
			}
			return err
		}
		rep.Released = res.OK() && len(refused) == 0
		if !f.JSON() {
			writeResult(out, cs, rep)
		}
	}

	if f.JSON() {
		if err := cmdutil.WriteJSON(out, rep); err != nil {
			return err
		}
	} else if !act {
		switch {
		case len(actionable) == 0 && len(refused) == 0:
			fmt.Fprintf(out, "\nNothing to release.\n")
		case len(actionable) == 0:
			fmt.Fprintf(out, "\nNothing will be ended: every selected holder was refused (see above).\n")
		default:
			fmt.Fprintf(out, "\nDry run: nothing was ended. Run again with --yes to end %s.\n", sessions(actionable))
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	switch {
	case len(refused) > 0:
		return cmdutil.ErrSilent
	case act && !rep.Released:
		return cmdutil.ErrSilent
	}
	return nil
}

// selection turns the flags into a locks.Selection and a description.
func selection(opts *ReleaseLocksOptions) (locks.Selection, string, error) {
	f := opts.F
	sel := locks.Selection{PID: opts.PID, IdleFor: opts.IdleFor, AllDatabases: opts.AllDatabases, Force: opts.Force, StuckAfter: opts.StuckAfter}
	getenv := f.Getenv
	if !opts.ConnectLock {
		getenv = nil // CONNECTDB_LOCK_ID names Connect's lock; use it only for --connect-lock
	}
	id, err := locks.LockIDFromFlagOrEnv(f.Globals.LockID, getenv)
	if err != nil {
		return sel, "", cmdutil.Usagef("%v", err)
	}
	if opts.ConnectLock && id == nil {
		return sel, "", cmdutil.Usagef("--connect-lock needs Connect's lock ID: pass --lock-id ID or set %s; run 'connectdb show-locks' to see the candidate locks", locks.EnvLockID)
	}
	if opts.PID < 0 {
		return sel, "", cmdutil.Usagef("--pid must be a positive backend pid")
	}
	if opts.IdleFor < 0 {
		return sel, "", cmdutil.Usagef("--idle-for must be positive, such as 10m")
	}
	if id == nil && opts.PID == 0 && opts.IdleFor == 0 {
		return sel, "", cmdutil.Usagef("choose what to release with --lock-id ID, --connect-lock, --pid PID or --idle-for DURATION; run 'connectdb show-locks' first")
	}
	sel.Key = id
	var parts []string
	if id != nil {
		name := "lock " + id.String()
		if opts.ConnectLock {
			name = "Connect's upgrade lock " + id.String()
		}
		parts = append(parts, name)
	} else {
		parts = append(parts, "every advisory lock")
	}
	if opts.PID != 0 {
		parts = append(parts, fmt.Sprintf("held by pid %d", opts.PID))
	}
	if opts.IdleFor > 0 {
		parts = append(parts, fmt.Sprintf("whose holder is idle for at least %s", opts.IdleFor))
	}
	if opts.AllDatabases {
		parts = append(parts, "in any database")
	}
	if opts.Force {
		parts = append(parts, "(--force)")
	}
	return sel, strings.Join(parts, " "), nil
}

func sessions(cs []locks.Candidate) string {
	pids := make([]string, len(cs))
	for i, c := range cs {
		pids[i] = fmt.Sprint(c.PID)
	}
	noun := "session"
	if len(cs) > 1 {
		noun = "sessions"
	}
	return fmt.Sprintf("%d %s (pid %s)", len(cs), noun, strings.Join(pids, ", "))
}

func keys(ks []locks.Key) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = k.String()
	}
	return strings.Join(s, ", ")
}

func writePlan(w io.Writer, cs *iostreams.ColorScheme, rep *Report) {
	fmt.Fprintf(w, "Release %s\nin database %s (%s, as %s)\n", rep.Selection, rep.Database, rep.Target, rep.User)
	if len(rep.Candidates) == 0 {
		fmt.Fprintf(w, "\nNo session holds a matching advisory lock.\n")
	}
	for _, c := range rep.Candidates {
		switch {
		case c.Action != "":
			fmt.Fprintf(w, "\n%s pid %d: %s\n", cs.Bold("end"), c.PID, c.Action)
		case c.Refused != "":
			fmt.Fprintf(w, "\n%s pid %d: %s\n", cs.Red("refuse"), c.PID, c.Refused)
		default:
			fmt.Fprintf(w, "\n%s pid %d: %s\n", cs.Gray("skip"), c.PID, c.Skipped)
		}
		fmt.Fprintf(w, "  holds %s in database %s", keys(c.Keys), c.Database)
		if c.Why != "" {
			fmt.Fprintf(w, "; %s", c.Why)
		}
		fmt.Fprintln(w)
		if c.Action != "" && c.Verdict != nil {
			fmt.Fprintf(w, "  verdict: %s\n", c.Verdict.Text)
		}
		if c.Session != nil && c.Session.Visible && c.Session.Query != "" {
			label := "last query"
			if c.Session.State == "active" {
				label = "running"
			}
			fmt.Fprintf(w, "  %s: %s\n", label, locks.OneLine(c.Session.Query, 80))
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "%s %s\n", cs.Gray("note:"), n)
	}
}

func writeResult(w io.Writer, cs *iostreams.ColorScheme, rep *Report) {
	fmt.Fprintln(w)
	for _, o := range rep.Result.Outcomes {
		line := fmt.Sprintf("pid %d: %s", o.PID, o.Done)
		if o.Detail != "" {
			line += ": " + o.Detail
		}
		if o.Done == "not ended" || o.Detail != "" {
			line = cs.Red(line)
		}
		fmt.Fprintln(w, line)
	}
	for _, k := range rep.Result.Keys {
		switch {
		case !k.Released:
			fmt.Fprintf(w, "lock %s in database %s: %s\n", k.Key, k.Database, cs.Red("still held by pid "+pidList(k.HeldBy)))
		case len(k.HeldBy) > 0 && k.TakenByWaiter:
			fmt.Fprintf(w, "lock %s in database %s: released; now held by pid %s, a session that was waiting for it\n", k.Key, k.Database, pidList(k.HeldBy))
		case len(k.HeldBy) > 0:
			fmt.Fprintf(w, "lock %s in database %s: released by the ended session; still held by pid %s\n", k.Key, k.Database, pidList(k.HeldBy))
		default:
			fmt.Fprintf(w, "lock %s in database %s: released; nobody holds it now\n", k.Key, k.Database)
		}
	}
	if rep.Released {
		fmt.Fprintln(w, cs.Green("Released."))
	} else {
		fmt.Fprintln(w, cs.Red("Not released: see above."))
	}
}

func pidList(p []int32) string {
	s := make([]string, len(p))
	for i, x := range p {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}
