package locks

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// DefaultStuckAfter is how long a holder must sit idle before the verdict
// calls its lock stuck. Connect runs its migrations statement after
// statement; a pause of a minute between them is not normal.
const DefaultStuckAfter = time.Minute

// Match says how a lock relates to Connect's upgrade lock.
type Match string

const (
	// NotConnect: not Connect's upgrade lock, as far as connectdb can tell.
	NotConnect Match = ""
	// ConnectLock: the key is the lock ID given with --lock-id or
	// CONNECTDB_LOCK_ID.
	ConnectLock Match = "connect-upgrade-lock"
	// PossiblyConnect: no lock ID was given and the holder's role is
	// Connect's database user: it may be the upgrade lock, or any other
	// advisory lock taken by a program that uses the same role.
	PossiblyConnect Match = "possibly-connect-upgrade-lock"
)

// GuessNote explains why PossiblyConnect is only a guess.
const GuessNote = "without --lock-id (or CONNECTDB_LOCK_ID) connectdb does not know Connect's lock ID, " +
	"so it marks every advisory lock held by Connect's database user as possibly Connect's upgrade lock; " +
	"any other program using that role may also take advisory locks"

// Classify tells whether l is Connect's upgrade lock. id is the configured
// lock ID (nil when unknown); connectUser is the role Connect logs in as.
func Classify(l Lock, id *Key, connectUser string) Match {
	if id != nil {
		if l.Key == *id {
			return ConnectLock
		}
		return NotConnect
	}
	if l.Session != nil && connectUser != "" && l.Session.User == connectUser {
		return PossiblyConnect
	}
	return NotConnect
}

// Verdict kinds.
const (
	VerdictStuck    = "stuck"    // idle holder: safe to release
	VerdictBusy     = "busy"     // a statement is running: wait
	VerdictRecent   = "recent"   // idle only briefly: check again
	VerdictHidden   = "hidden"   // the role cannot see the holder's state
	VerdictPrepXact = "prepared" // held by a prepared transaction
	VerdictWaiting  = "waiting"  // nobody holds it; sessions wait
)

// Verdict is the one-line judgement on a held lock.
type Verdict struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// migrationApp matches application names of schema migration tools.
var migrationApp = regexp.MustCompile(`(?i)migrat|upgrade|flyway|liquibase|goose|alembic|sqitch|schema`)

// LooksLikeMigration reports whether an application_name suggests a running
// schema migration.
func LooksLikeMigration(app string) bool { return migrationApp.MatchString(app) }

// Assess judges the granted row l of snap. stuckAfter is the idle time after
// which a holder looks stuck (DefaultStuckAfter when 0).
func Assess(snap *Snapshot, l Lock, stuckAfter time.Duration) Verdict {
	if stuckAfter <= 0 {
		stuckAfter = DefaultStuckAfter
	}
	if !l.Granted {
		return Verdict{VerdictWaiting, fmt.Sprintf("pid %d waits for this lock", l.PID)}
	}
	if l.PID == 0 {
		return Verdict{VerdictPrepXact, fmt.Sprintf("held by a prepared transaction (%s), not by a session: "+
			"find it in pg_prepared_xacts and finish it with COMMIT PREPARED or ROLLBACK PREPARED", l.VirtualXact)}
	}
	s := l.Session
	if s == nil {
		return Verdict{VerdictHidden, fmt.Sprintf("held by pid %d, which pg_stat_activity does not show", l.PID)}
	}
	who := Describe(s)
	if !s.Visible {
		return Verdict{VerdictHidden, fmt.Sprintf("held by pid %d (%s, user %s); role %s cannot see its state: "+
			"grant pg_read_all_stats to %s to tell a stuck lock from a running migration", l.PID, appName(s.Application), s.User, snap.User, snap.User)}
	}
	conn := Age(snap.Now, s.BackendStart)
	idle := Age(snap.Now, s.StateChange)
	switch {
	case s.State == "active":
		return Verdict{VerdictBusy, fmt.Sprintf("held by an active session (pid %d, %s) running %s for %s: a migration is probably running — wait",
			l.PID, who, quoteQuery(s.Query, 60), FormatAge(Age(snap.Now, s.QueryStart)))}
	case LooksLikeMigration(s.Application):
		return Verdict{VerdictBusy, fmt.Sprintf("held by pid %d (%s), %s for %s; its application name looks like a migration tool — make sure it has finished before releasing",
			l.PID, who, s.State, FormatAge(idle))}
	}
	if sib := ActiveSibling(snap, s); sib != nil {
		return Verdict{VerdictBusy, fmt.Sprintf("held by pid %d (%s), %s for %s, but pid %d of the same role and client is running %s for %s: a migration may be running on another connection — wait",
			l.PID, who, s.State, FormatAge(idle), sib.PID, quoteQuery(sib.Query, 60), FormatAge(Age(snap.Now, sib.QueryStart)))}
	}
	if s.StateChange != nil && snap.Now.Sub(*s.StateChange) < stuckAfter {
		return Verdict{VerdictRecent, fmt.Sprintf("held by pid %d (%s), %s for only %s: it may be between migration steps — check again in a minute",
			l.PID, who, s.State, FormatAge(idle))}
	}
	return Verdict{VerdictStuck, fmt.Sprintf("held by pid %d (%s) for %s, %s for %s: looks stuck",
		l.PID, who, FormatAge(conn), s.State, FormatAge(idle))}
}

// ActiveSibling returns another active session of s's role from the same
// client address and application, or nil.
func ActiveSibling(snap *Snapshot, s *Session) *Session {
	for i := range snap.Active {
		a := &snap.Active[i]
		if a.PID != s.PID && a.User == s.User && a.ClientAddr == s.ClientAddr && a.Application == s.Application && a.Database == s.Database {
			return a
		}
	}
	return nil
}

// Describe names a session by application and client: "rstudio-connect,
// 10.0.0.5".
func Describe(s *Session) string {
	host := s.ClientAddr
	if host == "" {
		host = "local socket"
		if !s.Visible {
			host = "client hidden"
		}
	}
	return appName(s.Application) + ", " + host
}

func appName(a string) string {
	if a == "" {
		return "no application_name"
	}
	return a
}

// quoteQuery returns q on one line, cut to n runes, in quotes.
func quoteQuery(q string, n int) string {
	return `"` + OneLine(q, n) + `"`
}

// OneLine collapses whitespace in q and cuts it to n runes (n <= 0: no cut),
// marking a cut with "…".
func OneLine(q string, n int) string {
	q = strings.Join(strings.Fields(q), " ")
	r := []rune(q)
	if n > 0 && len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return q
}

// FormatAge prints a duration the way an operator reads it: 40s, 17m,
// 2h05m, 3d4h.
func FormatAge(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
