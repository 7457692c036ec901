package locks

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
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

// readSQL reads everything in one simple-protocol message, so the whole
// answer costs one round trip: facts about the connection, the database
// names, the client sessions of the listed database(s) (one row each, with
// the text the verdict needs) and last the advisory rows of pg_locks
// (narrow rows: there may be tens of thousands), so that Read can decode
// them as they stream in, each linked at once to its session. %[1]s is the
// database filter on pg_locks, %[2]s the key filter, %[3]s "true" for all
// databases; all are built from integers only.
const readSQL = `SELECT clock_timestamp(), pg_backend_pid(), current_database(), current_user,
  current_setting('server_version_num')::int, current_setting('is_superuser')::bool,
  pg_has_role('pg_read_all_stats', 'USAGE'), pg_has_role('pg_signal_backend', 'USAGE');
SELECT oid, datname FROM pg_database;
SELECT a.pid, a.datname, a.usename, a.application_name, host(a.client_addr), a.backend_start, a.xact_start,
  a.query_start, a.state_change, a.state, a.query, a.wait_event_type, a.wait_event,
  CASE WHEN a.usesysid IS NULL THEN false
       WHEN current_setting('is_superuser')::bool THEN true
       WHEN coalesce(r.rolsuper, false) THEN false
       ELSE pg_has_role('pg_signal_backend', 'USAGE') OR pg_has_role(a.usesysid, 'USAGE') END,
  coalesce(r.rolsuper, false)
FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
WHERE (a.backend_type = 'client backend' OR a.backend_type IS NULL) AND (%[3]s OR a.datname = current_database());
SELECT l.classid, l.objid, l.objsubid, l.database, l.mode, l.granted, l.pid, l.virtualtransaction,
  CASE WHEN l.granted THEN NULL ELSE pg_blocking_pids(l.pid) END
FROM pg_locks l
WHERE l.locktype = 'advisory' AND %[1]s AND %[2]s`

// Read lists the advisory locks (granted and waiting) with their sessions,
// in one round trip. It decodes the rows as they arrive, without keeping
// the raw answer.
func Read(ctx context.Context, conn *pgx.Conn, opts ListOptions) (*Snapshot, error) {
	dbFilter, allDB := "l.database = (SELECT oid FROM pg_database WHERE datname = current_database())", "false"
	if opts.AllDatabases {
		dbFilter, allDB = "true", "true"
	}
	keyFilter := "true"
	if opts.Key != nil {
		c, o, s := opts.Key.PgLocks()
		keyFilter = fmt.Sprintf("l.classid = %d AND l.objid = %d AND l.objsubid = %d", c, o, s)
	}
	d := &decoder{m: conn.TypeMap()}
	snap := &Snapshot{AllDatabases: opts.AllDatabases, Active: []Session{}}
	dbNames := map[uint32]string{}
	sessions := map[int32]*Session{}
	lockRoles := map[string]bool{}
	vxacts := map[string]string{} // interned virtualtransaction values: one per session
	facts := 0
	mrr := conn.PgConn().Exec(ctx, fmt.Sprintf(readSQL, dbFilter, keyFilter, allDB))
	n := 0
	for ; mrr.NextResult(); n++ {
		rr := mrr.ResultReader()
		for rr.NextRow() {
			r := rr.Values()
			switch n {
			case 0:
				facts++
				snap.Now = d.time(r[0])
				snap.OwnPID = d.int32(r[1])
				snap.Database, snap.User = string(r[2]), string(r[3])
				snap.ServerVersionNum = int(d.int32(r[4]))
				snap.Superuser, snap.ReadAllStats, snap.SignalBackend = d.bool(r[5]), d.bool(r[6]), d.bool(r[7])
			case 1:
				dbNames[d.uint32(r[0])] = string(r[1])
			case 2:
				s := &Session{
					PID: d.int32(r[0]), Database: string(r[1]), User: string(r[2]), Application: string(r[3]), ClientAddr: string(r[4]),
					BackendStart: d.ptime(r[5]), XactStart: d.ptime(r[6]), QueryStart: d.ptime(r[7]), StateChange: d.ptime(r[8]),
					State: string(r[9]), Query: string(r[10]), CanSignal: d.bool(r[13]), IsSuperuser: d.bool(r[14]),
				}
				if r[11] != nil {
					s.WaitEvent = string(r[11]) + ":" + string(r[12])
				}
				s.Visible = r[9] != nil
				sessions[s.PID] = s
			case 3:
				if snap.Locks == nil {
					snap.Locks = make([]Lock, 0, 64)
				}
				key, err := FromPgLocks(d.uint32(r[0]), d.uint32(r[1]), int16(d.int32(r[2])))
				if err != nil {
					mrr.Close()
					return nil, err
				}
				dboid := d.uint32(r[3])
				lk := Lock{Key: key, Form: key.Form(), DatabaseOID: dboid, Database: dbNames[dboid], Mode: modeName(r[4]),
					Granted: d.bool(r[5]), BlockedBy: d.int32s(r[8])}
				vx, ok := vxacts[string(r[7])]
				if !ok {
					vx = string(r[7])
					vxacts[vx] = vx
				}
				lk.VirtualXact = vx
				if r[6] != nil {
					lk.PID = d.int32(r[6])
					if s, ok := sessions[lk.PID]; ok {
						lk.Session = s
						lockRoles[s.User] = true
					}
				}
				snap.Locks = append(snap.Locks, lk)
			}
		}
		if _, err := rr.Close(); err != nil {
			mrr.Close()
			return nil, fmt.Errorf("reading pg_locks: %w", err)
		}
	}
	if err := mrr.Close(); err != nil {
		return nil, fmt.Errorf("reading pg_locks: %w", err)
	}
	if n != 4 || facts != 1 {
		return nil, fmt.Errorf("reading pg_locks: unexpected answer (%d results)", n)
	}
	if snap.Locks == nil {
		snap.Locks = []Lock{}
	}
	if d.err != nil {
		return nil, fmt.Errorf("reading pg_locks: %w", d.err)
	}
	for _, s := range sessions {
		if s.PID != snap.OwnPID && s.State == "active" && s.WaitEvent != "Lock:advisory" && lockRoles[s.User] {
			snap.Active = append(snap.Active, *s)
		}
	}
	sortLocks(snap.Locks)
	sort.Slice(snap.Active, func(i, j int) bool { return snap.Active[i].PID < snap.Active[j].PID })
	return snap, nil
}

// decoder turns simple-protocol text values into Go values, keeping the
// first error.
type decoder struct {
	m   *pgtype.Map
	err error
}

func (d *decoder) fail(what string, b []byte, err error) {
	if d.err == nil {
		d.err = fmt.Errorf("decoding %s %q: %w", what, b, err)
	}
}

var errNotInteger = errors.New("not a decimal integer in range")

// parseInt reads a decimal integer of at most 32 bits from b without
// allocating (strconv would copy b into a string).
func parseInt(b []byte, signed bool) (int64, bool) {
	neg := false
	if signed && len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	if signed && (n < math.MinInt32 || n > math.MaxInt32) || !signed && n > math.MaxUint32 {
		return 0, false
	}
	return n, true
}

func (d *decoder) int32(b []byte) int32 {
	n, ok := parseInt(b, true)
	if !ok {
		d.fail("integer", b, errNotInteger)
	}
	return int32(n)
}

func (d *decoder) uint32(b []byte) uint32 {
	n, ok := parseInt(b, false)
	if !ok {
		d.fail("oid", b, errNotInteger)
	}
	return uint32(n)
}

func (d *decoder) bool(b []byte) bool { return len(b) == 1 && b[0] == 't' }

// int32s reads an int4[] such as {1,2}; NULL and {} give nil.
func (d *decoder) int32s(b []byte) []int32 {
	b = bytes.Trim(b, "{}")
	if len(b) == 0 {
		return nil
	}
	out := make([]int32, 0, bytes.Count(b, []byte{','})+1)
	for p := range bytes.SplitSeq(b, []byte{','}) {
		out = append(out, d.int32(p))
	}
	return out
}

func (d *decoder) time(b []byte) time.Time {
	var t pgtype.Timestamptz
	if err := d.m.Scan(pgtype.TimestamptzOID, pgtype.TextFormatCode, b, &t); err != nil {
		d.fail("timestamp", b, err)
	}
	return t.Time
}

func (d *decoder) ptime(b []byte) *time.Time {
	if b == nil {
		return nil
	}
	t := d.time(b)
	return &t
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

// Holders reads pg_locks for k in conn's database and returns its granted
// rows, with their sessions: nil when nobody holds k. One round trip.
func Holders(ctx context.Context, conn *pgx.Conn, k Key) ([]Lock, error) {
	ls, err := List(ctx, conn, ListOptions{Key: &k})
	if err != nil {
		return nil, err
	}
	return HeldBy(ls, k), nil
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
	slices.SortFunc(ls, func(a, b Lock) int {
		if c := cmp.Compare(a.Database, b.Database); c != 0 {
			return c
		}
		if a.Key.Pair != b.Key.Pair {
			if a.Key.Pair {
				return 1
			}
			return -1
		}
		if a.Key != b.Key {
			if a.Key.Pair {
				ai, aj := a.Key.Ints()
				bi, bj := b.Key.Ints()
				if c := cmp.Compare(ai, bi); c != 0 {
					return c
				}
				return cmp.Compare(aj, bj)
			}
			return cmp.Compare(a.Key.Bigint(), b.Key.Bigint())
		}
		if a.Granted != b.Granted {
			if a.Granted {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.PID, b.PID)
	})
}

func modeName(m []byte) string {
	switch string(m) {
	case "ExclusiveLock":
		return "exclusive"
	case "ShareLock":
		return "share"
	}
	return string(m)
}

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
