package locks

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Selection says which holders release-locks should end.
type Selection struct {
	Key          *Key          // only holders of this key
	PID          int32         // only this backend (0: any)
	IdleFor      time.Duration // only holders idle at least this long (0: any)
	AllDatabases bool          // also sessions of other databases
	Force        bool          // also holders whose verdict is not stuck
	// StuckAfter is show-locks' --stuck-after: the idle time after which a
	// holder looks stuck (DefaultStuckAfter when 0). Only holders whose
	// verdict (Judge) is stuck are ended without Force.
	StuckAfter time.Duration
}

// Actions a plan can take on a holder.
const (
	ActionTerminate       = "terminate"
	ActionCancelTerminate = "cancel, then terminate"
)

// Candidate is one session that holds selected locks.
type Candidate struct {
	PID          int32      `json:"pid"`
	BackendStart *time.Time `json:"backend_start,omitempty"`
	Database     string     `json:"database"`
	Session      *Session   `json:"session,omitempty"`
	Keys         []Key      `json:"keys"`
	Action       string     `json:"action,omitempty"`  // ActionTerminate or ActionCancelTerminate; "" when refused or skipped
	Why          string     `json:"why"`               // why it was selected and what it looks like
	Verdict      *Verdict   `json:"verdict,omitempty"` // show-locks' verdict on the holder (Judge)
	Refused      string     `json:"refused,omitempty"` // why it will not be ended, with the fix
	Skipped      string     `json:"skipped,omitempty"` // why it is outside the selection
}

// Plan is what release-locks would do.
type Plan struct {
	Snapshot   *Snapshot   `json:"-"`
	Candidates []Candidate `json:"candidates"`
	// Notes are facts worth telling: waiters, a --pid that only waits.
	Notes []string `json:"notes,omitempty"`
}

// Actionable returns the candidates the plan would end.
func (p *Plan) Actionable() []Candidate {
	var out []Candidate
	for _, c := range p.Candidates {
		if c.Action != "" {
			out = append(out, c)
		}
	}
	return out
}

// Refused returns the selected holders the plan refuses to end.
func (p *Plan) Refused() []Candidate {
	var out []Candidate
	for _, c := range p.Candidates {
		if c.Refused != "" {
			out = append(out, c)
		}
	}
	return out
}

// MakePlan decides, from a snapshot read with AllDatabases, which holders
// to end and why, and which it refuses to end.
func MakePlan(snap *Snapshot, sel Selection) *Plan {
	plan := &Plan{Snapshot: snap}
	byPID := map[int32]*Candidate{}
	var order []int32
	for _, l := range snap.Locks {
		if sel.Key != nil && l.Key != *sel.Key || sel.PID != 0 && l.PID != sel.PID {
			continue
		}
		if !l.Granted {
			if sel.PID != 0 {
				plan.Notes = append(plan.Notes, fmt.Sprintf("pid %d only waits for lock %s (blocked by %s); it holds nothing to release", l.PID, l.Key, pidList(l.BlockedBy)))
			}
			continue
		}
		c, ok := byPID[l.PID]
		if !ok {
			c = &Candidate{PID: l.PID, Database: l.Database, Session: l.Session}
			if l.Session != nil {
				c.BackendStart = l.Session.BackendStart
			}
			byPID[l.PID] = c
			order = append(order, l.PID)
		}
		c.Keys = append(c.Keys, l.Key)
	}
	for _, pid := range order {
		c := byPID[pid]
		decide(snap, sel, c)
		plan.Candidates = append(plan.Candidates, *c)
	}
	sort.SliceStable(plan.Candidates, func(i, j int) bool {
		a, b := plan.Candidates[i], plan.Candidates[j]
		if (a.Skipped == "") != (b.Skipped == "") {
			return a.Skipped == ""
		}
		return a.PID < b.PID
	})
	if sel.PID != 0 && len(order) == 0 && len(plan.Notes) == 0 {
		plan.Notes = append(plan.Notes, fmt.Sprintf("pid %d holds no advisory lock%s", sel.PID, keySuffix(sel.Key)))
	}
	return plan
}

func keySuffix(k *Key) string {
	if k == nil {
		return ""
	}
	return " " + k.String()
}

// decide fills c's Action, Why, Refused or Skipped.
func decide(snap *Snapshot, sel Selection, c *Candidate) {
	s := c.Session
	if c.PID == 0 {
		c.Why = "held by a prepared transaction"
		c.Refused = "there is no session to end; find the transaction in pg_prepared_xacts and run ROLLBACK PREPARED (or COMMIT PREPARED) for it"
		return
	}
	if c.PID == snap.OwnPID {
		c.Skipped = "this is connectdb's own session"
		return
	}
	if c.Database != snap.Database && !sel.AllDatabases {
		c.Skipped = fmt.Sprintf("it is in database %s, not %s; add --all-databases to include it", c.Database, snap.Database)
		return
	}
	if s == nil {
		c.Refused = "pg_stat_activity does not show this backend, so connectdb cannot check that it is safe to end"
		return
	}
	idle := Age(snap.Now, s.StateChange)
	if s.Visible {
		c.Why = fmt.Sprintf("%s, connected %s ago, %s for %s", Describe(s), FormatAge(Age(snap.Now, s.BackendStart)), s.State, FormatAge(idle))
	} else {
		c.Why = fmt.Sprintf("user %s, %s", s.User, appName(s.Application))
	}
	if sel.IdleFor > 0 && s.Visible {
		if s.State == "active" {
			c.Skipped = fmt.Sprintf("it is running a statement, not idle (--idle-for %s)", sel.IdleFor)
			return
		}
		if idle < sel.IdleFor {
			c.Skipped = fmt.Sprintf("it has been %s for only %s (--idle-for %s)", s.State, FormatAge(idle), sel.IdleFor)
			return
		}
	}
	v := Judge(snap, s, sel.StuckAfter)
	c.Verdict = &v
	if !s.Visible || s.BackendStart == nil {
		c.Refused = fmt.Sprintf("role %s cannot see this session's state and start time, so it cannot tell a stuck lock from a running migration "+
			"or check that the session has not changed; run GRANT pg_read_all_stats TO %s (or use a superuser)", snap.User, snap.User)
		return
	}
	if !sel.Force && v.Kind != VerdictStuck {
		c.Refused = refusal(s, v, sel.StuckAfter)
		return
	}
	if !s.CanSignal {
		c.Refused = signalAdvice(snap, s)
		return
	}
	c.Action = ActionTerminate
	if Running(s.State) {
		c.Action = ActionCancelTerminate
	}
}

// refusal explains why a holder whose verdict v is not stuck is not ended,
// and what would change that.
func refusal(s *Session, v Verdict, stuckAfter time.Duration) string {
	why := "show-locks' verdict is not \"looks stuck\": " + v.Text
	switch {
	case v.Kind == VerdictRecent && InTransaction(s.State):
		return fmt.Sprintf("%s. A holder idle in a transaction whose last statement ended less than %s ago may be a migration between two steps, "+
			"so it is never ended without --force: wait and run again, or add --force", why, FormatAge(MinTransactionIdle))
	case v.Kind == VerdictRecent:
		return fmt.Sprintf("%s (--stuck-after %s). Wait and run again, judge sooner with a shorter --stuck-after, or add --force",
			why, FormatAge(StuckThreshold(s.State, stuckAfter)))
	case v.Kind == VerdictBusy && Running(s.State):
		return why + "; or add --force to cancel it"
	case v.Kind == VerdictBusy:
		return why + "; once you are sure, add --force"
	}
	return why + "; add --force only if you know that the session is stuck"
}

// signalAdvice explains why snap's role may not signal s and what to grant.
func signalAdvice(snap *Snapshot, s *Session) string {
	if s.IsSuperuser {
		return fmt.Sprintf("pid %d belongs to superuser %s and only a superuser may end it; run connectdb as a superuser", s.PID, s.User)
	}
	return fmt.Sprintf("role %s may not end pid %d of role %s; run GRANT pg_signal_backend TO %s, or GRANT %s TO %s, or use a superuser",
		snap.User, s.PID, s.User, snap.User, s.User, snap.User)
}

// ExecOptions bound how long Execute waits.
type ExecOptions struct {
	// Grace is how long a cancelled holder has to let its lock go before
	// it is terminated (default 5s).
	Grace time.Duration
	// Wait is how long to wait for the locks to disappear after ending the
	// holders (default 10s).
	Wait time.Duration
	// Poll is the interval between checks (default 100ms).
	Poll time.Duration
}

// Outcome is what happened to one candidate.
type Outcome struct {
	PID    int32  `json:"pid"`
	Done   string `json:"done"`             // "terminated", "cancelled", "cancelled, then terminated", "not ended"
	Detail string `json:"detail,omitempty"` // why not ended, or what happened
}

// KeyState is a released key as pg_locks shows it afterwards.
type KeyState struct {
	Key      Key     `json:"key"`
	Database string  `json:"database"`
	Released bool    `json:"released"`          // the ended holders no longer hold it
	HeldBy   []int32 `json:"held_by,omitempty"` // who holds it now (a waiter may have taken it)
	// TakenByWaiter is true when a new holder was waiting for the key
	// when the plan was made.
	TakenByWaiter bool `json:"taken_by_waiter,omitempty"`
}

// Result is the outcome of Execute.
type Result struct {
	Outcomes []Outcome  `json:"outcomes"`
	Keys     []KeyState `json:"keys"`
}

// OK reports whether every ended holder let go of its keys and none was
// left alone because it changed.
func (r *Result) OK() bool {
	for _, o := range r.Outcomes {
		if o.Done == "not ended" {
			return false
		}
	}
	for _, k := range r.Keys {
		if !k.Released {
			return false
		}
	}
	return true
}

// signalSQL ends a backend only if it is still the same session (pid and
// backend_start), is not connectdb's own, still holds at least one of the
// planned keys, and, unless forced, is still in the state the verdict
// judged, unchanged since (same state and state_change: it has not run a
// statement in between) and not running one; with --idle-for it must also
// still be idle that long. %s is the function, %s the key condition.
const signalSQL = `
SELECT %s(a.pid)
FROM pg_stat_activity a
WHERE a.pid = $1 AND a.backend_start = $2 AND a.pid <> pg_backend_pid()
  AND ($3 OR (a.state NOT IN ('active', 'fastpath function call') AND a.state = $5 AND a.state_change = $6))
  AND ($4::float8 <= 0 OR (a.state IS DISTINCT FROM 'active' AND clock_timestamp() - a.state_change >= make_interval(secs => $4::float8)))
  AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid = a.pid AND (%s))`

func keyCondition(keys []Key) string {
	var parts []string
	for _, k := range keys {
		c, o, s := k.PgLocks()
		parts = append(parts, fmt.Sprintf("(l.classid = %d AND l.objid = %d AND l.objsubid = %d)", c, o, s))
	}
	return strings.Join(parts, " OR ")
}

// signal runs fn ("pg_cancel_backend" or "pg_terminate_backend") on c with
// the re-check; it reports whether the backend was still the planned one.
func signal(ctx context.Context, conn *pgx.Conn, fn string, c Candidate, force bool, idleFor time.Duration) (bool, error) {
	q := fmt.Sprintf(signalSQL, fn, keyCondition(c.Keys))
	var state string
	var changed *time.Time
	if c.Session != nil {
		state, changed = c.Session.State, c.Session.StateChange
	}
	var ok bool
	err := conn.QueryRow(ctx, q, c.PID, *c.BackendStart, force, idleFor.Seconds(), state, changed).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42501" {
			return false, fmt.Errorf("PostgreSQL refused to signal pid %d: %s; grant pg_signal_backend or the holder's role to the connecting role, or use a superuser", c.PID, pe.Message)
		}
		return false, fmt.Errorf("signalling pid %d: %w", c.PID, err)
	}
	return ok, nil
}

// holds reports whether pid still holds any of keys.
func holds(ctx context.Context, conn *pgx.Conn, pid int32, keys []Key) (bool, error) {
	var n int
	err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid = $1 AND (`+keyCondition(keys)+`)`, pid).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("re-reading pg_locks: %w", err)
	}
	return n > 0, nil
}

// waitRelease polls until pid holds none of keys or d passes.
func waitRelease(ctx context.Context, conn *pgx.Conn, pid int32, keys []Key, d, poll time.Duration) (bool, error) {
	deadline := time.Now().Add(d)
	for {
		h, err := holds(ctx, conn, pid, keys)
		if err != nil {
			return false, err
		}
		if !h {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// Execute ends the plan's actionable holders: an idle holder is terminated
// (a cancel would do nothing to an idle session); a forced active holder is
// first cancelled, so that the application may release its own lock, and
// terminated if it still holds it after opts.Grace. Each signal re-checks in
// the same statement that the backend is the planned session and still
// holds the lock. Then pg_locks is read again for every planned key.
func Execute(ctx context.Context, conn *pgx.Conn, plan *Plan, sel Selection, opts ExecOptions) (*Result, error) {
	if opts.Grace <= 0 {
		opts.Grace = 5 * time.Second
	}
	if opts.Wait <= 0 {
		opts.Wait = 10 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = 100 * time.Millisecond
	}
	res := &Result{Outcomes: []Outcome{}, Keys: []KeyState{}}
	type dbKey struct {
		db  string
		key Key
	}
	var keys []dbKey
	seen := map[dbKey]bool{}
	for _, c := range plan.Actionable() {
		for _, k := range c.Keys {
			if dk := (dbKey{c.Database, k}); !seen[dk] {
				seen[dk] = true
				keys = append(keys, dk)
			}
		}
		out := Outcome{PID: c.PID}
		done, err := end(ctx, conn, c, sel, opts)
		if err != nil {
			return res, err
		}
		if done == "" {
			out.Done = "not ended"
			out.Detail = "the session changed between listing and action (it exited, released the lock, restarted or started a statement); run the command again"
		} else {
			out.Done = done
		}
		res.Outcomes = append(res.Outcomes, out)
		if done != "" {
			gone, err := waitRelease(ctx, conn, c.PID, c.Keys, opts.Wait, opts.Poll)
			if err != nil {
				return res, err
			}
			if !gone {
				res.Outcomes[len(res.Outcomes)-1].Detail = fmt.Sprintf("pid %d still holds the lock %s after it was signalled", c.PID, FormatAge(opts.Wait))
			}
		}
	}
	snap, err := Read(ctx, conn, ListOptions{AllDatabases: true})
	if err != nil {
		return res, err
	}
	waited := map[dbPIDKey]bool{}
	if plan.Snapshot != nil {
		for _, l := range plan.Snapshot.Locks {
			if !l.Granted {
				waited[dbPIDKey{l.Database, l.PID, l.Key}] = true
			}
		}
	}
	ended := map[int32]bool{}
	for _, c := range plan.Actionable() {
		ended[c.PID] = true
	}
	for _, dk := range keys {
		ks := KeyState{Key: dk.key, Database: dk.db, Released: true}
		for _, l := range HeldBy(snap.Locks, dk.key) {
			if l.Database != dk.db {
				continue
			}
			ks.HeldBy = append(ks.HeldBy, l.PID)
			if waited[dbPIDKey{dk.db, l.PID, dk.key}] {
				ks.TakenByWaiter = true
			}
			if ended[l.PID] {
				ks.Released = false
			}
		}
		res.Keys = append(res.Keys, ks)
	}
	return res, nil
}

type dbPIDKey struct {
	db  string
	pid int32
	key Key
}

// end signals one candidate and returns what was done ("" when the session
// no longer matched the plan).
func end(ctx context.Context, conn *pgx.Conn, c Candidate, sel Selection, opts ExecOptions) (string, error) {
	if c.BackendStart == nil {
		return "", nil
	}
	if c.Action == ActionCancelTerminate {
		ok, err := signal(ctx, conn, "pg_cancel_backend", c, true, 0)
		if err != nil || !ok {
			return "", err
		}
		gone, err := waitRelease(ctx, conn, c.PID, c.Keys, opts.Grace, opts.Poll)
		if err != nil {
			return "", err
		}
		if gone {
			return "cancelled", nil
		}
		ok, err = signal(ctx, conn, "pg_terminate_backend", c, true, 0)
		if err != nil {
			return "", err
		}
		if !ok {
			return "cancelled", nil
		}
		return "cancelled, then terminated", nil
	}
	ok, err := signal(ctx, conn, "pg_terminate_backend", c, sel.Force, sel.IdleFor)
	if err != nil || !ok {
		return "", err
	}
	return "terminated", nil
}

func pidList(p []int32) string {
	if len(p) == 0 {
		return "nobody"
	}
	s := make([]string, len(p))
	for i, x := range p {
		s[i] = "pid " + itoa(x)
	}
	return strings.Join(s, ", ")
}
