package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/locks"
)

// DefaultLockKey is connectdb migrate's own advisory lock, taken when no
// --lock-id is given: the bigint whose bytes spell "cdbmigr"
// (0x00636462_6d696772 = 27976396599551858).
var DefaultLockKey = locks.BigintKey(0x636462_6d696772)

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
	Key      locks.Key
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
func acquireLock(ctx context.Context, conn *pgx.Conn, key locks.Key, timeout time.Duration, db string, log io.Writer) error {
	start := time.Now()
	var lastHolder string
	var lastPrint time.Time
	for {
		ok, err := key.TryLock(ctx, conn)
		if err != nil {
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
			left := timeout - waited
			if lastPrint.IsZero() {
				left = timeout
			}
			fmt.Fprintf(log, "waiting up to %s for advisory lock %s on database %s, held by %s\n", roundWait(left), key, db, s)
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

func releaseLock(ctx context.Context, conn *pgx.Conn, key locks.Key) error {
	_, err := key.Unlock(ctx, conn)
	return err
}

func lockHolder(ctx context.Context, conn *pgx.Conn, key locks.Key) (*LockHolder, error) {
	classid, objid, sub := key.PgLocks()
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

// roundWait rounds a wait for display: to the second from one second up,
// to the millisecond below (so --lock-timeout 200ms prints 200ms, not 0s).
func roundWait(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}
