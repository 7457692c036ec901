package locks

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// ListOptions choose which advisory locks List and Read return.
type ListOptions struct {
	// AllDatabases lists locks of every database of the cluster, not only
	// the database the connection is in.
	AllDatabases bool
	// Key, when set, returns only the rows (held or awaited) of that key.
	Key *Key
}

// Session is what pg_stat_activity shows about a backend. When the
// connecting role may not read another role's activity (it needs
// pg_read_all_stats), only PID, User, Application and Database are known and
// Visible is false.
type Session struct {
	PID          int32      `json:"pid"`
	Database     string     `json:"database"`
	User         string     `json:"user"`
	Application  string     `json:"application_name"`
	ClientAddr   string     `json:"client_addr,omitempty"` // "" for a Unix socket or when hidden
	BackendStart *time.Time `json:"backend_start,omitempty"`
	XactStart    *time.Time `json:"xact_start,omitempty"`
	QueryStart   *time.Time `json:"query_start,omitempty"`
	StateChange  *time.Time `json:"state_change,omitempty"`
	State        string     `json:"state,omitempty"` // active, idle, idle in transaction, ...
	Query        string     `json:"query,omitempty"` // current (active) or last statement
	WaitEvent    string     `json:"wait_event,omitempty"`
	Visible      bool       `json:"details_visible"`
	// CanSignal reports whether the connecting role may cancel or terminate
	// this backend (superuser; or the holder's role, or pg_signal_backend,
	// for a non-superuser holder).
	CanSignal   bool `json:"can_signal"`
	IsSuperuser bool `json:"superuser_backend"`
}

// Lock is one advisory row of pg_locks: a session holding, or waiting for, a key.
type Lock struct {
	Key         Key    `json:"key"`
	Form        string `json:"form"`
	DatabaseOID uint32 `json:"database_oid"`
	Database    string `json:"database"`
	Mode        string `json:"mode"` // "exclusive" or "share"
	Granted     bool   `json:"granted"`
	// PID is 0 for a lock held by a prepared transaction (see
	// VirtualXact and pg_prepared_xacts).
	PID         int32   `json:"pid"`
	VirtualXact string  `json:"virtualtransaction,omitempty"`
	BlockedBy   []int32 `json:"blocked_by,omitempty"` // pg_blocking_pids, for a waiting row
	// Session is nil when pg_stat_activity has no row for PID.
	Session *Session `json:"session,omitempty"`
}

// Snapshot is one consistent read of the advisory locks and of what the
// connecting role may see and do.
type Snapshot struct {
	Now              time.Time `json:"server_time"`
	OwnPID           int32     `json:"own_pid"`
	Database         string    `json:"database"`
	User             string    `json:"user"`
	ServerVersionNum int       `json:"server_version_num"`
	Superuser        bool      `json:"superuser"`
	ReadAllStats     bool      `json:"pg_read_all_stats"`
	SignalBackend    bool      `json:"pg_signal_backend"`
	AllDatabases     bool      `json:"all_databases"`
	Locks            []Lock    `json:"locks"`
	// Active lists the other sessions that are running a statement right
	// now (not waiting for an advisory lock) in the listed database(s) and
	// belong to a role that holds an advisory lock: a migration may run on one connection while its lock
	// sits on another, idle one.
	Active []Session `json:"active_sessions"`
}

// listSQL reads everything in one statement so that the whole answer costs
// one round trip: one row of facts about the connection (kind 0), the
// advisory rows of pg_locks (kind 1) and the active sessions of the roles
// that hold advisory locks (kind 2). %s is the database filter, %s the key
// filter, both built from integers only.
const listSQL = `
WITH me AS (
  SELECT clock_timestamp() AS now, pg_backend_pid() AS pid, current_database() AS db,
         current_user::text AS usr, current_setting('server_version_num')::int AS ver,
         current_setting('is_superuser')::bool AS su,
         pg_has_role('pg_read_all_stats', 'USAGE') AS stats,
         pg_has_role('pg_signal_backend', 'USAGE') AS sig,
         (SELECT oid FROM pg_database WHERE datname = current_database()) AS dboid
), l AS (
  SELECT l.classid, l.objid, l.objsubid, l.database, l.mode, l.granted, l.pid, l.virtualtransaction
  FROM pg_locks l, me
  WHERE l.locktype = 'advisory' AND %s AND %s
), a AS (
  SELECT a.*, r.rolsuper,
         CASE WHEN a.usesysid IS NULL THEN false
              WHEN me.su THEN true
              WHEN coalesce(r.rolsuper, false) THEN false
              ELSE me.sig OR pg_has_role(a.usesysid, 'USAGE') END AS can_signal
  FROM pg_stat_activity a CROSS JOIN me LEFT JOIN pg_roles r ON r.oid = a.usesysid
)
SELECT 0 AS kind, me.now, me.pid, me.db, me.usr, me.ver, me.su, me.stats, me.sig,
       NULL::oid, NULL::oid, NULL::int2, NULL::oid, NULL::name, NULL::text, NULL::bool, NULL::int4, NULL::text, NULL::int4[],
       NULL::name, NULL::text, NULL::text, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz,
       NULL::text, NULL::text, NULL::text, NULL::bool, NULL::bool, NULL::bool
FROM me
UNION ALL
SELECT 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       l.classid, l.objid, l.objsubid, l.database, d.datname, l.mode, l.granted, l.pid, l.virtualtransaction,
       CASE WHEN l.granted THEN NULL ELSE pg_blocking_pids(l.pid) END,
       a.usename, a.application_name, host(a.client_addr), a.backend_start, a.xact_start, a.query_start, a.state_change,
       a.state, a.query, a.wait_event_type || ':' || a.wait_event, a.pid IS NOT NULL AND a.state IS NOT NULL, a.can_signal, a.rolsuper
FROM l LEFT JOIN a ON a.pid = l.pid LEFT JOIN pg_database d ON d.oid = l.database
UNION ALL
SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, a.datid, a.datname, NULL, NULL, a.pid, NULL, NULL,
       a.usename, a.application_name, host(a.client_addr), a.backend_start, a.xact_start, a.query_start, a.state_change,
       a.state, a.query, a.wait_event_type || ':' || a.wait_event, true, a.can_signal, a.rolsuper
FROM a, me
WHERE a.state = 'active' AND a.pid <> me.pid AND a.backend_type = 'client backend'
  AND NOT (a.wait_event_type = 'Lock' AND a.wait_event = 'advisory')
  AND (%s OR a.datid = me.dboid)
  AND a.usesysid IN (SELECT a2.usesysid FROM l JOIN a a2 ON a2.pid = l.pid)
`

// Read lists the advisory locks (granted and waiting) with their sessions,
// in one round trip.
func Read(ctx context.Context, conn *pgx.Conn, opts ListOptions) (*Snapshot, error) {
	dbFilter := "l.database = me.dboid"
	allDB := "false"
	if opts.AllDatabases {
		dbFilter, allDB = "true", "true"
	}
	keyFilter := "true"
	if opts.Key != nil {
		c, o, s := opts.Key.PgLocks()
		keyFilter = fmt.Sprintf("l.classid = %d AND l.objid = %d AND l.objsubid = %d",
			c, o, s)
	}
	q := fmt.Sprintf(listSQL, dbFilter, keyFilter, allDB)
	rows, err := conn.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, fmt.Errorf("reading pg_locks: %w", err)
	}
	defer rows.Close()

	snap := &Snapshot{AllDatabases: opts.AllDatabases, Locks: []Lock{}, Active: []Session{}}
	for rows.Next() {
		var (
			kind                                             int
			now                                              *time.Time
			ownPID, ver                                      *int32
			db, usr                                          *string
			su, stats, sig                                   *bool
			classid, objid, dboid                            *uint32
			objsubid                                         *int16
			datname, mode, vxid                              *string
			granted                                          *bool
			pid                                              *int32
			blocked                                          []int32
			usename, app, addr                               *string
			backendStart, xactStart, queryStart, stateChange *time.Time
			state, query, wait                               *string
			visible, canSignal, rolsuper                     *bool
		)
		if err := rows.Scan(&kind, &now, &ownPID, &db, &usr, &ver, &su, &stats, &sig,
			&classid, &objid, &objsubid, &dboid, &datname, &mode, &granted, &pid, &vxid, &blocked,
			&usename, &app, &addr, &backendStart, &xactStart, &queryStart, &stateChange,
			&state, &query, &wait, &visible, &canSignal, &rolsuper); err != nil {
			return nil, fmt.Errorf("reading pg_locks: %w", err)
		}
		sess := func() *Session {
			if pid == nil || usename == nil && state == nil && app == nil {
				return nil
			}
			return &Session{
				PID: *pid, Database: str(datname), User: str(usename), Application: str(app), ClientAddr: str(addr),
				BackendStart: backendStart, XactStart: xactStart, QueryStart: queryStart, StateChange: stateChange,
				State: str(state), Query: str(query), WaitEvent: str(wait),
				Visible: boolv(visible), CanSignal: boolv(canSignal), IsSuperuser: boolv(rolsuper),
			}
		}
		switch kind {
		case 0:
			snap.Now, snap.OwnPID, snap.Database, snap.User = *now, *ownPID, *db, *usr
			snap.ServerVersionNum, snap.Superuser, snap.ReadAllStats, snap.SignalBackend = int(*ver), *su, *stats, *sig
		case 1:
			key, err := FromPgLocks(*classid, *objid, *objsubid)
			if err != nil {
				return nil, err
			}
			lk := Lock{Key: key, Form: key.Form(), Database: str(datname), Mode: modeName(str(mode)),
				Granted: boolv(granted), VirtualXact: str(vxid), BlockedBy: blocked}
			if dboid != nil {
				lk.DatabaseOID = *dboid
			}
			if pid != nil {
				lk.PID = *pid
				lk.Session = sess()
				if lk.Session != nil {
					lk.Session.Database = lk.Database
				}
			}
			snap.Locks = append(snap.Locks, lk)
		case 2:
			if s := sess(); s != nil {
				snap.Active = append(snap.Active, *s)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading pg_locks: %w", err)
	}
	sortLocks(snap.Locks)
	sort.Slice(snap.Active, func(i, j int) bool { return snap.Active[i].PID < snap.Active[j].PID })
	return snap, nil
}

// List returns the advisory locks only; see Read.
func List(ctx context.Context, conn *pgx.Conn, opts ListOptions) ([]Lock, error) {
	snap, err := Read(ctx, conn, opts)
	if err != nil {
		return nil, err
	}
	return snap.Locks, nil
}

// HeldBy returns the granted locks of k (shared keys can have several
// holders). The zero-length result means nobody holds k.
func HeldBy(locks []Lock, k Key) []Lock {
	var out []Lock
	for _, l := range locks {
		if l.Granted && l.Key == k {
			out = append(out, l)
		}
	}
	return out
}

// Waiting returns the rows waiting for k.
func Waiting(locks []Lock, k Key) []Lock {
	var out []Lock
	for _, l := range locks {
		if !l.Granted && l.Key == k {
			out = append(out, l)
		}
	}
	return out
}

// sortLocks orders rows by database, key form, key, granted first, pid.
func sortLocks(ls []Lock) {
	sort.SliceStable(ls, func(i, j int) bool {
		a, b := ls[i], ls[j]
		if a.Database != b.Database {
			return a.Database < b.Database
		}
		if a.Key != b.Key {
			if a.Key.Pair != b.Key.Pair {
				return !a.Key.Pair
			}
			if a.Key.Pair {
				ai, aj := a.Key.Ints()
				bi, bj := b.Key.Ints()
				if ai != bi {
					return ai < bi
				}
				return aj < bj
			}
			return a.Key.Bigint() < b.Key.Bigint()
		}
		if a.Granted != b.Granted {
			return a.Granted
		}
		return a.PID < b.PID
	})
}

func modeName(m string) string {
	switch m {
	case "ExclusiveLock":
		return "exclusive"
	case "ShareLock":
		return "share"
	}
	return m
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func boolv(p *bool) bool { return p != nil && *p }

// Age returns now - t rounded to the second, or 0 when t is nil.
func Age(now time.Time, t *time.Time) time.Duration {
	if t == nil {
		return 0
	}
	d := now.Sub(*t)
	if d < 0 {
		return 0
	}
	return d.Round(time.Second)
}

// itoa is strconv.Itoa for int32.
func itoa(n int32) string { return strconv.FormatInt(int64(n), 10) }
