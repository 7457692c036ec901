package showlocks

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	engine "github.com/connectdb/connectdb/internal/check"
	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/locks"
)

// Default thresholds of --output nagios: how long the holder of Connect's
// upgrade lock may sit idle (looking stuck) before WARNING and CRITICAL.
const (
	DefaultNagiosWarning  = 2 * time.Minute
	DefaultNagiosCritical = 10 * time.Minute
)

// addNagiosFlags adds the thresholds of --output nagios.
func addNagiosFlags(cmd *cobra.Command, opts *ShowLocksOptions) {
	fl := cmd.Flags()
	fl.DurationVar(&opts.Warning, "warning", DefaultNagiosWarning, "with --output nagios: WARNING when Connect's lock has looked stuck this long")
	fl.DurationVar(&opts.Critical, "critical", DefaultNagiosCritical, "with --output nagios: CRITICAL when Connect's lock has looked stuck this long")
}

// checkNagiosOptions validates the flags of --output nagios and returns the
// idle time after which a holder looks stuck: the WARNING threshold.
func checkNagiosOptions(opts *ShowLocksOptions) error {
	switch {
	case opts.Watch > 0:
		return cmdutil.Usagef("--watch cannot be used with --output nagios; the monitoring system runs show-locks on its own schedule")
	case opts.Warning <= 0 || opts.Critical <= 0:
		return cmdutil.Usagef("--warning and --critical must be positive durations, such as 2m and 10m")
	case opts.Warning > opts.Critical:
		return cmdutil.Usagef("--warning %s is longer than --critical %s; WARNING must come first", opts.Warning, opts.Critical)
	}
	return nil
}

// writeNagios prints Connect's upgrade lock as a monitoring plugin does and
// returns the plugin state as the exit:
//
//   - OK: the lock is free, held by a session that is working (a migration
//     runs), or idle for less than --warning;
//   - WARNING: its holder has been idle (looks stuck) for --warning or more,
//     or a prepared transaction holds it;
//   - CRITICAL: its holder has been idle for --critical or more;
//   - UNKNOWN: connectdb cannot tell: the lock ID is not known, or the role
//     may not see the holder's state.
func writeNagios(w io.Writer, rep *locks.Report, opts *ShowLocksOptions) error {
	state, summary := engine.NagiosOK, ""
	raise := func(s int, text string) {
		if s > state || summary == "" {
			state, summary = max(state, s), text
		}
	}
	var idleMax, waitMax time.Duration
	holders, waiters := 0, 0
	if rep.LockID == nil {
		raise(engine.NagiosUnknown, "Connect's upgrade lock ID is not known; pass --lock-id or set CONNECTDB_LOCK_ID")
	}
	for _, l := range rep.Locks {
		if rep.LockID == nil || l.Key != *rep.LockID {
			continue
		}
		if !l.Granted {
			waiters++
			if l.Session != nil {
				waitMax = max(waitMax, locks.Age(rep.ServerTime, l.Session.QueryStart))
			}
			continue
		}
		holders++
		v := l.Verdict
		if v == nil {
			continue
		}
		switch v.Kind {
		case locks.VerdictStuck:
			idle := locks.Age(rep.ServerTime, l.Session.StateChange)
			idleMax = max(idleMax, idle)
			s := engine.NagiosWarning
			if idle >= opts.Critical {
				s = engine.NagiosCritical
			}
			raise(s, fmt.Sprintf("upgrade lock %s %s", rep.LockID, v.Text))
		case locks.VerdictPrepXact:
			raise(engine.NagiosWarning, fmt.Sprintf("upgrade lock %s %s", rep.LockID, v.Text))
		case locks.VerdictHidden:
			raise(engine.NagiosUnknown, fmt.Sprintf("upgrade lock %s is %s", rep.LockID, v.Text))
		default: // busy, recent
			if l.Session != nil && l.Session.StateChange != nil && v.Kind == locks.VerdictRecent {
				idleMax = max(idleMax, locks.Age(rep.ServerTime, l.Session.StateChange))
			}
			raise(engine.NagiosOK, fmt.Sprintf("upgrade lock %s %s", rep.LockID, v.Text))
		}
	}
	if summary == "" {
		summary = fmt.Sprintf("upgrade lock %s is free", rep.LockID)
		if waiters > 0 {
			summary = fmt.Sprintf("upgrade lock %s is free; %d session(s) about to take it", rep.LockID, waiters)
		}
	}
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
	perf := []string{
		fmt.Sprintf("lock_idle=%ss;%s;%s;0;", secs(idleMax), secs(opts.Warning), secs(opts.Critical)),
		fmt.Sprintf("lock_wait=%ss;;;0;", secs(waitMax)),
		fmt.Sprintf("holders=%d;;;0;", holders),
		fmt.Sprintf("waiters=%d;;;0;", waiters),
	}
	text := strings.NewReplacer("|", "/", "\n", " ", "\r", " ").Replace(summary)
	if _, err := fmt.Fprintf(w, "CONNECTDB %s - %s | %s\n", engine.NagiosStateName(state), text, strings.Join(perf, " ")); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return &cmdutil.NagiosExit{State: state}
}
