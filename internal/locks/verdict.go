package locks

import (
	"fmt"
	"strconv"
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

// MinTransactionIdle is the shortest idle time after which a holder that is
// idle *in a transaction* can look stuck, whatever --stuck-after says: a
// migration that runs in one transaction sits idle in it between two
// statements while the application works, so a transaction with fresh
// activity is never judged stuck (only --force ends it).
const MinTransactionIdle = time.Minute

// Verdict is the one-line judgement on a held lock.
type Verdict struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
	// StuckIn, for a recent verdict, is how much longer the holder must
	// stay idle before the verdict calls it stuck.
	StuckIn time.Duration `json:"-"`
	// StuckInSeconds is StuckIn for JSON.
	StuckInSeconds float64 `json:"stuck_in_seconds,omitempty"`
}

// migrationWords are the parts of application names of schema migration
// tools, in lower case.
var migrationWords = []string{"migrat", "upgrade", "flyway", "liquibase", "goose", "alembic", "sqitch", "schema"}

// LooksLikeMigration reports whether an application_name suggests a running
// schema migration (case-insensitive).
func LooksLikeMigration(app string) bool {
	if app == "" {
		return false
	}
	low := strings.ToLower(app)
	for _, w := range migrationWords {
		if strings.Contains(low, w) {
			return true
		}
	}
	return false
}

// InTransaction reports whether state is one of the idle-in-transaction
// states.
func InTransaction(state string) bool {
	return strings.HasPrefix(state, "idle in transaction")
}

// Running reports whether state means the backend is executing something.
func Running(state string) bool {
	return state == "active" || state == "fastpath function call"
}

// StuckThreshold is how long a holder in state must be idle before it looks
// stuck: stuckAfter (DefaultStuckAfter when <= 0), but never less than
// MinTransactionIdle for a holder idle in a transaction.
func StuckThreshold(state string, stuckAfter time.Duration) time.Duration {
	if stuckAfter <= 0 {
		stuckAfter = DefaultStuckAfter
	}
	if InTransaction(state) && stuckAfter < MinTransactionIdle {
		return MinTransactionIdle
	}
	return stuckAfter
}

// Assess judges the row l of snap: Judge for a granted row held by a
// session, the facts otherwise.
func Assess(snap *Snapshot, l Lock, stuckAfter time.Duration) Verdict {
	if !l.Granted {
		return Verdict{Kind: VerdictWaiting, Text: "pid " + itoa(l.PID) + " waits for this lock"}
	}
	if l.PID == 0 {
		return Verdict{Kind: VerdictPrepXact, Text: fmt.Sprintf("held by a prepared transaction (%s), not by a session: "+
			"find it in pg_prepared_xacts and finish it with COMMIT PREPARED or ROLLBACK PREPARED", l.VirtualXact)}
	}
	if l.Session == nil {
		return Verdict{Kind: VerdictHidden, Text: fmt.Sprintf("held by pid %d, which pg_stat_activity does not show", l.PID)}
	}
	return Judge(snap, l.Session, stuckAfter)
}

// Judge is the one rule that show-locks prints and release-locks obeys: it
// judges the session s, which holds advisory locks, from snap. Only a
// VerdictStuck holder may be ended without --force. stuckAfter is the idle
// time after which a holder looks stuck (DefaultStuckAfter when <= 0; see
// StuckThreshold for holders idle in a transaction).
//
// A holder is stuck only when all of these hold: the connecting role can
// see its state; it is not running a statement; its application name does
// not look like a migration tool; no other session of the same role,
// client, application and database is running a statement; and it has been
// idle for at least its threshold.
func Judge(snap *Snapshot, s *Session, stuckAfter time.Duration) Verdict {
	if !s.Visible {
		return Verdict{Kind: VerdictHidden, Text: fmt.Sprintf("held by pid %d (%s, user %s); role %s cannot see its state: "+
			"grant pg_read_all_stats to %s to tell a stuck lock from a running migration", s.PID, appName(s.Application), s.User, snap.User, snap.User)}
	}
	who := Describe(s)
	if s.StateChange == nil || s.State == "" || s.State == "disabled" {
		return Verdict{Kind: VerdictHidden, Text: fmt.Sprintf("held by pid %d (%s); pg_stat_activity shows no state or state change time for it "+
			"(is track_activities off?), so connectdb cannot tell a stuck lock from a running migration", s.PID, who)}
	}
	idle := snap.Now.Sub(*s.StateChange)
	switch {
	case Running(s.State):
		return Verdict{Kind: VerdictBusy, Text: fmt.Sprintf("held by an active session (pid %d, %s) running %s for %s: a migration is probably running — wait",
			s.PID, who, quoteQuery(s.Query, 60), FormatAge(Age(snap.Now, s.QueryStart)))}
	case LooksLikeMigration(s.Application):
		return Verdict{Kind: VerdictBusy, Text: fmt.Sprintf("held by pid %d (%s), %s for %s; its application name looks like a migration tool — make sure it has finished before releasing",
			s.PID, who, s.State, FormatAge(idle))}
	}
	if sib := ActiveSibling(snap, s); sib != nil {
		return Verdict{Kind: VerdictBusy, Text: fmt.Sprintf("held by pid %d (%s), %s for %s, but pid %d of the same role and client is running %s for %s: a migration may be running on another connection — wait",
			s.PID, who, s.State, FormatAge(idle), sib.PID, quoteQuery(sib.Query, 60), FormatAge(Age(snap.Now, sib.QueryStart)))}
	}
	if th := StuckThreshold(s.State, stuckAfter); idle < th {
		left := th - idle
		return Verdict{Kind: VerdictRecent, StuckIn: left, StuckInSeconds: left.Round(100 * time.Millisecond).Seconds(), Text: fmt.Sprintf("held by pid %d (%s), %s for only %s: it may be between migration steps — it would look stuck in %s; check again then",
			s.PID, who, s.State, formatIdle(idle), FormatAge(ceilSecond(left)))}
	}
	return Verdict{Kind: VerdictStuck, Text: fmt.Sprintf("held by pid %d (%s) for %s, %s for %s: looks stuck",
		s.PID, who, FormatAge(Age(snap.Now, s.BackendStart)), s.State, FormatAge(idle))}
}

// formatIdle prints a short idle time with a tenth of a second (0.8s), a
// longer one like FormatAge.
func formatIdle(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < 10*time.Second {
		return strconv.FormatFloat(d.Round(100*time.Millisecond).Seconds(), 'f', 1, 64) + "s"
	}
	return FormatAge(d)
}

// ceilSecond rounds d up to a whole second, so that "check again in 59s"
// is never too early.
func ceilSecond(d time.Duration) time.Duration {
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return d
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
