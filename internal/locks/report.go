package locks

import (
	"fmt"
	"time"
)

// ReportLock is one pg_locks row with what connectdb concludes about it.
type ReportLock struct {
	Lock
	Connect Match    `json:"connect,omitempty"`
	Verdict *Verdict `json:"verdict,omitempty"` // for granted rows
}

// Report is show-locks' view of a snapshot.
type Report struct {
	Target       string       `json:"target"`
	Database     string       `json:"database"`
	AllDatabases bool         `json:"all_databases"`
	LockID       *Key         `json:"connect_lock_id"`
	LockIDSource string       `json:"connect_lock_id_source,omitempty"`
	ConnectUser  string       `json:"connect_user,omitempty"`
	User         string       `json:"connected_as"`
	Superuser    bool         `json:"superuser"`
	ReadAllStats bool         `json:"pg_read_all_stats"`
	Signal       bool         `json:"pg_signal_backend"`
	ServerTime   time.Time    `json:"server_time"`
	Locks        []ReportLock `json:"locks"`
	Active       []Session    `json:"active_sessions"`
	Notes        []string     `json:"notes"`
}

// Held counts the granted rows; Waiting the others.
func (r *Report) Held() (held, waiting int) {
	for _, l := range r.Locks {
		if l.Granted {
			held++
		} else {
			waiting++
		}
	}
	return held, waiting
}

// BuildReport classifies and judges every row of snap.
func BuildReport(snap *Snapshot, id *Key, idSource, connectUser string, stuckAfter time.Duration) *Report {
	r := &Report{
		Database: snap.Database, AllDatabases: snap.AllDatabases, LockID: id, LockIDSource: idSource,
		ConnectUser: connectUser, User: snap.User, Superuser: snap.Superuser, ReadAllStats: snap.ReadAllStats,
		Signal: snap.SignalBackend, ServerTime: snap.Now.UTC(),
		Locks: make([]ReportLock, 0, len(snap.Locks)), Active: snap.Active, Notes: []string{},
	}
	// A verdict depends on the holding session, not on the lock: judge
	// each session once, however many locks it holds.
	verdicts := make(map[int32]*Verdict)
	for _, l := range snap.Locks {
		rl := ReportLock{Lock: l, Connect: Classify(l, id, connectUser)}
		if l.Granted {
			v := verdicts[l.PID]
			if v == nil || l.PID == 0 {
				a := Assess(snap, l, stuckAfter)
				v = &a
				verdicts[l.PID] = v
			}
			rl.Verdict = v
		}
		r.Locks = append(r.Locks, rl)
	}
	r.Notes = append(r.Notes, Notes(snap, id)...)
	return r
}

// Notes returns the caveats that apply to a snapshot: hidden activity and
// the guess made without a lock ID.
func Notes(snap *Snapshot, id *Key) []string {
	var n []string
	if !snap.ReadAllStats {
		n = append(n, fmt.Sprintf("role %s has neither superuser nor pg_read_all_stats: pg_stat_activity hides the state, query, client and start times "+
			"of other roles' sessions, so their locks cannot be judged; run GRANT pg_read_all_stats TO %s", snap.User, snap.User))
	}
	if id == nil {
		n = append(n, GuessNote)
	}
	return n
}
