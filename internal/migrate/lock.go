package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// LockKey is a PostgreSQL advisory lock key: one bigint, or two integers.
// TODO(locks): switch to internal/locks.Key once it lands on main.
type LockKey struct {
	Pair bool
	Big  int64
	A, B int32
}

// DefaultLockKey is connectdb migrate's own advisory lock, taken when no
// --lock-id is given: the bigint whose bytes spell "cdbmigr" (0x0063_6462_6d69_6772).
var DefaultLockKey = LockKey{Big: 0x636462_6d696772}

// String renders the key as --lock-id accepts it.
func (k LockKey) String() string {
	if k.Pair {
		return fmt.Sprintf("%d,%d", k.A, k.B)
	}
	return strconv.FormatInt(k.Big, 10)
}

// ParseLockKey reads "123" or "1,2".
func ParseLockKey(s string) (LockKey, error) {
	s = strings.TrimSpace(s)
	if a, b, ok := strings.Cut(s, ","); ok {
		x, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 32)
		y, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
		if err1 != nil || err2 != nil {
			return LockKey{}, fmt.Errorf("lock id %q is not two 32-bit integers such as 1,2", s)
		}
		return LockKey{Pair: true, A: int32(x), B: int32(y)}, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return LockKey{}, fmt.Errorf("lock id %q is not a bigint such as 4242 or a pair such as 1,2", s)
	}
	return LockKey{Big: v}, nil
}

func (k LockKey) args() (string, []any) {
	if k.Pair {
		return "$1::int4, $2::int4", []any{k.A, k.B}
	}
	return "$1::int8", []any{k.Big}
}

// pg_locks columns for the key: a bigint key is split into classid (high
// 32 bits) and objid (low 32 bits) with objsubid 1; a pair uses objsubid 2.
func (k LockKey) lockCols() (classid, objid uint32, objsubid int) {
	if k.Pair {
		return uint32(k.A), uint32(k.B), 2
	}
	return uint32(uint64(k.Big) >> 32), uint32(uint64(k.Big)), 1
}

// LockHolder describes the session holding a lock.
type LockHolder struct {
	PID         int
	User        string
	Application string
	State       string
	Since       time.Time
}

func (h *LockHolder) String() string {
	if h == nil {
		return "an unknown session"
	}
	return fmt.Sprintf("pid %d (user %s, application %q, state %s)", h.PID, h.User, h.Application, h.State)
}

// ErrLockTimeout is returned when the lock stayed held past the timeout.
var ErrLockTimeout = errors.New("timed out waiting for the advisory lock")

// LockTimeoutError names the holder.
type LockTimeoutError struct {
	Key      LockKey
	Database string
	Waited   time.Duration
	Holder   *LockHolder
}

func (e *LockTimeoutError) Error() string {
	fix := "wait for that session to finish, or end it if it is stuck"
	if e.Holder != nil {
		fix = fmt.Sprintf("wait for that session to finish, or if it is stuck end it with SELECT pg_terminate_backend(%d)", e.Holder.PID)
	}
	return fmt.Sprintf("timed out after %s waiting for advisory lock %s on database %s, held by %s; %s", e.Waited, e.Key, e.Database, e.Holder, fix)
}

func (e *LockTimeoutError) Unwrap() error { return ErrLockTimeout }

// lockPoll is how often the lock is retried while waiting.
const lockPoll = 500 * time.Millisecond

// acquireLock takes the session-level advisory lock key on conn, retrying
// until timeout. While it waits it prints the holder on log (again when the
// holder changes, and every 30 seconds). The lock lives as long as the
// session: a killed connection releases it.
func acquireLock(ctx context.Context, conn *pgx.Conn, key LockKey, timeout time.Duration, db string, log io.Writer) error {
	start := time.Now()
	params, args := key.args()
	var lastHolder string
	var lastPrint time.Time
	for {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock("+params+")", args...).Scan(&ok); err != nil {
			return fmt.Errorf("taking advisory lock %s: %w", key, err)
		}
		if ok {
			return nil
		}
		h, err := lockHolder(ctx, conn, key)
		if err != nil {
			return err
		}
		waited := time.Since(start)
		if waited >= timeout {
			return &LockTimeoutError{Key: key, Database: db, Waited: timeout, Holder: h}
		}
		if s := h.String(); s != lastHolder || time.Since(lastPrint) >= 30*time.Second {
			fmt.Fprintf(log, "waiting up to %s for advisory lock %s on database %s, held by %s\n", (timeout - waited).Round(time.Second), key, db, s)
			lastHolder, lastPrint = s, time.Now()
		}
		t := time.NewTimer(min(lockPoll, timeout-waited))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func releaseLock(ctx context.Context, conn *pgx.Conn, key LockKey) error {
	params, args := key.args()
	_, err := conn.Exec(ctx, "SELECT pg_advisory_unlock("+params+")", args...)
	return err
}

func lockHolder(ctx context.Context, conn *pgx.Conn, key LockKey) (*LockHolder, error) {
	classid, objid, sub := key.lockCols()
	var h LockHolder
	var since *time.Time
	var user, app, state *string
	err := conn.QueryRow(ctx, `SELECT l.pid, a.usename, a.application_name, a.state, a.state_change
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND l.classid = $1::int8::oid AND l.objid = $2::int8::oid AND l.objsubid = $3 AND l.pid <> pg_backend_pid()
		LIMIT 1`, int64(classid), int64(objid), sub).Scan(&h.PID, &user, &app, &state, &since)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("finding the holder of advisory lock %s: %w", key, err)
	}
	h.User, h.Application, h.State = deref(user, "unknown"), deref(app, ""), deref(state, "unknown")
	if since != nil {
		h.Since = *since
	}
	return &h, nil
}

func deref(s *string, def string) string {
	if s == nil || *s == "" && def != "" {
		return def
	}
	return *s
}
