// Package synth builds synthetic advisory-lock snapshots for benchmarks of
// show-locks' verdict and render path (no server needed).
package synth

import (
	"fmt"
	"time"

	"github.com/connectdb/connectdb/internal/locks"
)

// Synthetic returns a snapshot as locks.Read would return it for sessions
// backends holding perSession advisory locks each (half bigint keys, half
// two-int4 keys), plus one waiter behind the first session's first lock: the
// shape of the show-locks benchmark (200 x 50), without a server. Sessions
// alternate between idle, idle in transaction and active, with idle times
// from seconds to hours, so every verdict kind is computed.
func Synthetic(sessions, perSession int) *locks.Snapshot {
	now := time.Date(2026, 11, 25, 2, 14, 9, 0, time.UTC)
	snap := &locks.Snapshot{Now: now, OwnPID: 1, Database: "connect", User: "admin", Superuser: true, ReadAllStats: true,
		SignalBackend: true, Locks: make([]locks.Lock, 0, sessions*perSession+1), Active: []locks.Session{}}
	states := []string{"idle", "idle in transaction", "active"}
	apps := []string{"rstudio-connect", "connect-migrate", "psql"}
	for i := range sessions {
		start := now.Add(-time.Duration(i+1) * time.Hour)
		changed := now.Add(-time.Duration(i*37%7200) * time.Second)
		s := &locks.Session{PID: int32(1000 + i), Database: "connect", User: "connect", Application: apps[i%len(apps)],
			ClientAddr: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), BackendStart: &start, QueryStart: &changed, StateChange: &changed,
			State: states[i%len(states)], Query: "SELECT pg_advisory_lock($1)", Visible: true, CanSignal: true}
		if s.State == "active" {
			snap.Active = append(snap.Active, *s)
		}
		for j := range perSession {
			k := locks.BigintKey(int64(i*perSession + j))
			if j >= perSession/2 {
				k = locks.PairKey(int32(i), int32(j))
			}
			snap.Locks = append(snap.Locks, locks.Lock{Key: k, Form: k.Form(), Database: "connect", Mode: "exclusive",
				Granted: true, PID: s.PID, VirtualXact: fmt.Sprintf("%d/0", i+3), Session: s})
		}
	}
	if sessions > 0 && perSession > 0 {
		w := &locks.Session{PID: 999, Database: "connect", User: "connect", Application: "rstudio-connect", ClientAddr: "10.0.9.9",
			QueryStart: &now, StateChange: &now, State: "active", Query: "SELECT pg_advisory_lock($1)", Visible: true}
		snap.Locks = append(snap.Locks, locks.Lock{Key: snap.Locks[0].Key, Form: snap.Locks[0].Form, Database: "connect",
			Mode: "exclusive", PID: w.PID, BlockedBy: []int32{snap.Locks[0].PID}, Session: w})
	}
	return snap
}
