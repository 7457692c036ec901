package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connectdb/connectdb/internal/locks"
	"github.com/connectdb/connectdb/internal/pgtest"
)

func (e *env) targetWithApp(t testing.TB, app string) *env {
	c := *e
	c.url = srv.URL(e.role, e.pw, e.db, "sslmode=disable", "application_name="+app)
	return &c
}

// advisoryLocks counts the advisory locks held in db.
func advisoryLocks(t testing.TB, db string) int {
	t.Helper()
	var n int
	mustScan(t, srv.Conn(t, db), "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", &n)
	return n
}

func TestLockHeldByAnotherSessionTimesOut(t *testing.T) {
	ctx := context.Background()
	path := genCore(t, 2000)
	e := newEnv(t)
	holder := srv.Conn(t, e.db)
	if _, err := holder.Exec(ctx, "SET application_name = 'other-connect-node'"); err != nil {
		t.Fatal(err)
	}
	var pid int
	mustScan(t, holder, fmt.Sprintf("SELECT pg_backend_pid() FROM (SELECT pg_advisory_lock(%d)) x", DefaultLockKey.Bigint()), &pid)

	var log bytes.Buffer
	opts := testOptions()
	opts.LockTimeout = 1500 * time.Millisecond
	opts.Log = &log
	start := time.Now()
	_, err := Run(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, opts)
	var lt *LockTimeoutError
	if !errors.As(err, &lt) {
		t.Fatalf("error = %v, want a lock timeout", err)
	}
	if time.Since(start) < opts.LockTimeout {
		t.Errorf("gave up after %s, before the %s timeout", time.Since(start), opts.LockTimeout)
	}
	if lt.Holder == nil || lt.Holder.PID != pid || lt.Holder.Application != "other-connect-node" {
		t.Fatalf("holder = %+v, want pid %d application other-connect-node", lt.Holder, pid)
	}
	for _, w := range []string{fmt.Sprintf("pid %d", pid), `application "other-connect-node"`, "pg_terminate_backend(" + fmt.Sprint(pid) + ")", DefaultLockKey.String()} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if !strings.Contains(log.String(), "waiting up to") || !strings.Contains(log.String(), fmt.Sprintf("pid %d", pid)) {
		t.Errorf("wait message = %q", log.String())
	}
	if n := tableCount(t, e.db); n != 0 {
		t.Errorf("%d tables created without the lock", n)
	}

	// Released while waiting: the run proceeds.
	go func() {
		time.Sleep(700 * time.Millisecond)
		_, _ = holder.Exec(context.Background(), "SELECT pg_advisory_unlock_all()")
	}()
	opts.LockTimeout = 30 * time.Second
	if _, err := Run(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, opts); err != nil {
		t.Fatal(err)
	}
	if n := advisoryLocks(t, e.db); n != 0 {
		t.Errorf("%d advisory locks held after the run", n)
	}
}

func TestLockIDPair(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	holder := srv.Conn(t, e.db)
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock(7, 9)"); err != nil {
		t.Fatal(err)
	}
	opts := testOptions()
	opts.LockKey = locks.PairKey(7, 9)
	opts.LockTimeout = 600 * time.Millisecond
	path := makeDB(t, "CREATE TABLE a (id INTEGER PRIMARY KEY)")
	_, err := Run(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, opts)
	var lt *LockTimeoutError
	if !errors.As(err, &lt) || lt.Holder == nil {
		t.Fatalf("error = %v, want a lock timeout naming the holder", err)
	}
}

func TestConcurrentRunsOneWins(t *testing.T) {
	ctx := context.Background()
	path := genCore(t, 20000)
	e := newEnv(t)
	opts := testOptions()
	opts.LockTimeout = time.Minute
	var wg sync.WaitGroup
	errs := make([]error, 2)
	reps := make([]*Report, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = Run(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, opts)
		}()
	}
	wg.Wait()
	// One copies; the other waits for the lock, then finds the complete,
	// verified copy and writes nothing.
	copied, already := 0, 0
	for i, err := range errs {
		switch {
		case err != nil:
			t.Errorf("unexpected error: %v", err)
		case reps[i].AlreadyMigrated:
			already++
		default:
			copied++
		}
	}
	if copied != 1 || already != 1 {
		t.Fatalf("%d copied and %d found it already migrated, want 1 and 1", copied, already)
	}
	compareAll(t, path, e.db)
	// --drop-existing replaces the tables.
	opts.DropExisting = true
	if _, err := Run(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, opts); err != nil {
		t.Fatal(err)
	}
	compareAll(t, path, e.db)
}

// TestKilledConnectionLeavesTargetUnchanged terminates the migrating
// backend at different points; each time the target must be exactly as
// before (no tables, no lock) and a plain re-run must succeed.
func TestKilledConnectionLeavesTargetUnchanged(t *testing.T) {
	ctx := context.Background()
	path := genCore(t, 20000)
	points := []string{"CREATE TABLE%", "COPY%", `SELECT "%`, "%PRIMARY KEY%", "CREATE INDEX%", "%FOREIGN KEY%", "ANALYZE%", "%RESTART WITH%"}
	killed := 0
	for i, point := range points {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			e := newEnv(t)
			app := fmt.Sprintf("migrate-fault-%d", i)
			te := e.targetWithApp(t, app)
			watcher := srv.Conn(t, "postgres")
			done := make(chan struct{})
			var hit bool
			wctx, stop := context.WithTimeout(ctx, 30*time.Second)
			defer stop()
			go func() {
				defer close(done)
				for wctx.Err() == nil {
					var n int
					err := watcher.QueryRow(wctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
						WHERE application_name = $1 AND state = 'active' AND query ILIKE $2`, app, point).Scan(&n)
					if err != nil || n > 0 {
						hit = n > 0
						return
					}
				}
			}()
			_, err := Run(ctx, []Job{{Target: te.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions())
			if err == nil {
				stop()
			}
			// After a failure, let the watcher finish its in-flight
			// terminate so that hit is known.
			<-done
			stop()
			if err == nil {
				// The point passed unseen (or was after the commit, such as ANALYZE).
				if n := tableCount(t, e.db); n != 10 {
					t.Fatalf("run succeeded but %d tables exist", n)
				}
				return
			}
			if !hit {
				t.Fatalf("run failed without a kill: %v", err)
			}
			killed++
			if n := tableCount(t, e.db); n != 0 {
				t.Fatalf("killed at %s: %d tables left behind (error: %v)", point, n, err)
			}
			waitNoLocks(t, e.db)
			if _, err := Run(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions()); err != nil {
				t.Fatalf("re-run after the kill: %v", err)
			}
			compareAll(t, path, e.db)
		})
	}
	if killed < 4 {
		t.Errorf("only %d of %d trials were interrupted; the kill points were missed", killed, len(points))
	}
}

func TestCancelRollsBackAndReleasesLock(t *testing.T) {
	path := genCore(t, 20000)
	e := newEnv(t)
	te := e.targetWithApp(t, "migrate-cancel")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watcher := srv.Conn(t, "postgres")
	go func() {
		for ctx.Err() == nil {
			var n int
			_ = watcher.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'migrate-cancel' AND query ILIKE 'COPY%'`).Scan(&n)
			if n > 0 {
				cancel()
				return
			}
		}
	}()
	_, err := Run(ctx, []Job{{Target: te.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions())
	if err == nil || !strings.Contains(err.Error(), "interrupted") || !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want an interruption", err)
	}
	waitNoLocks(t, e.db)
	if n := tableCount(t, e.db); n != 0 {
		t.Fatalf("%d tables left after the cancellation", n)
	}
	if _, err := Run(context.Background(), []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions()); err != nil {
		t.Fatalf("re-run: %v", err)
	}
}

// waitNoLocks waits for the advisory locks of db to go: a terminated
// backend releases them as it exits, a moment after the client sees the
// connection drop.
func waitNoLocks(t testing.TB, db string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for advisoryLocks(t, db) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("an advisory lock is still held 5s after the run ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPreconditionsRefuse(t *testing.T) {
	ctx := context.Background()
	path := makeDB(t, "CREATE TABLE a (id INTEGER PRIMARY KEY)")
	pw := "pw-precondition"
	role := srv.NewRole(t, pw)
	db := srv.NewDatabase(t, "") // owned by the superuser
	srv.MustExec(t, db, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
	srv.MustExec(t, db, "GRANT CONNECT ON DATABASE "+pgtest.QuoteIdent(db)+" TO "+pgtest.QuoteIdent(role))
	cases := []struct {
		params []string
		want   string
	}{
		{[]string{"sslmode=disable"}, "cannot create tables in schema public"},
		{[]string{"sslmode=disable", "options=-csearch_path=nowhere"}, "no schema of the search_path exists"},
	}
	for _, c := range cases {
		e := &env{role: role, pw: pw, db: db, url: srv.URL(role, pw, db, c.params...)}
		_, err := Run(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error = %v, want %q", err, c.want)
		}
	}
	waitNoLocks(t, db)
}

// TestLostCommitIsResolved makes COMMIT wait for a synchronous standby
// that never comes and kills the backend while it waits: the transaction
// is committed locally although the client only sees its connection drop.
// Run must find that out and say so; a re-run onto the complete target
// succeeds without writing (issue 16 item 9).
func TestLostCommitIsResolved(t *testing.T) {
	ctx := context.Background()
	path := genCore(t, 3000)
	e := newEnv(t)
	te := e.targetWithApp(t, "migrate-lost-commit")
	// reset runs on the watcher's goroutine too: no t.Fatal in it.
	reset := func() {
		_ = srv.Exec(context.Background(), "postgres", "ALTER SYSTEM RESET synchronous_standby_names")
		_ = srv.Exec(context.Background(), "postgres", "SELECT pg_reload_conf()")
	}
	// The test server runs with synchronous_commit=off: turn it on for the
	// migrating role only.
	srv.MustExec(t, "postgres", "ALTER ROLE "+pgtest.QuoteIdent(e.role)+" SET synchronous_commit = on")
	srv.MustExec(t, "postgres", "ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
	srv.MustExec(t, "postgres", "SELECT pg_reload_conf()")
	t.Cleanup(reset)
	killed, stop := killWhen(t, `application_name = 'migrate-lost-commit' AND wait_event = 'SyncRep'`, reset)
	defer stop()
	rep, err := Run(ctx, []Job{{Target: te.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions())
	if !<-killed {
		t.Fatalf("the backend was never seen waiting for the standby (run: %v)", err)
	}
	if err != nil {
		t.Fatalf("a committed migration whose COMMIT answer was lost reported failure: %v", err)
	}
	if !rep.Committed || !rep.CommitRecovered || !strings.Contains(strings.Join(rep.Databases[0].Warnings, "\n"), "committed and every table verified") {
		t.Fatalf("report: committed=%v recovered=%v warnings=%q", rep.Committed, rep.CommitRecovered, rep.Databases[0].Warnings)
	}
	compareAll(t, path, e.db)
	waitNoLocks(t, e.db)

	// The documented re-run: the target is complete and verified, so it
	// succeeds and writes nothing.
	rep, err = Run(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions())
	if err != nil || !rep.AlreadyMigrated {
		t.Fatalf("re-run onto the complete target: %v (already=%v)", err, rep != nil && rep.AlreadyMigrated)
	}
	// A target that differs is refused, naming the first differing row.
	srv.MustExec(t, e.db, "UPDATE users SET username = username || 'x' WHERE id = 7")
	_, err = Run(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions())
	var te2 *TablesExistError
	if !errors.As(err, &te2) || !strings.Contains(err.Error(), "users: SQLite has") || !strings.Contains(err.Error(), "the row with id=7 has other values in PostgreSQL") {
		t.Fatalf("re-run onto a changed target: %v", err)
	}
}

// killWhen terminates, from another session, the backends that match the
// pg_stat_activity condition cond (with args) as soon as one does, then
// runs after (when set). The channel says whether one was terminated; stop
// ends the watch.
func killWhen(t testing.TB, cond string, after func(), args ...any) (<-chan bool, context.CancelFunc) {
	t.Helper()
	watcher := srv.Conn(t, "postgres")
	ctx, stop := context.WithTimeout(context.Background(), 2*time.Minute)
	killed := make(chan bool, 1)
	go func() {
		for ctx.Err() == nil {
			var n int
			err := watcher.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "+cond, args...).Scan(&n)
			if err != nil || n > 0 {
				if after != nil {
					after()
				}
				killed <- n > 0
				return
			}
		}
		killed <- false
	}()
	return killed, stop
}

// TestLostCommitRolledBack kills the backend just before COMMIT is sent:
// the client sees the connection drop at COMMIT, a new connection finds
// the transaction aborted, and the report says it was rolled back (issue
// 16 item 9).
func TestLostCommitRolledBack(t *testing.T) {
	ctx := context.Background()
	path := genCore(t, 2000)
	e := newEnv(t)
	te := e.targetWithApp(t, "migrate-commit-rollback")
	opts := testOptions()
	opts.beforeCommit = func() {
		_ = srv.Exec(ctx, "postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'migrate-commit-rollback'")
	}
	_, err := Run(ctx, []Job{{Target: te.target(t), Sources: []Source{{Label: "core", Path: path}}}}, opts)
	if err == nil || !strings.Contains(err.Error(), "a new connection found the transaction rolled back: nothing of it was committed") {
		t.Fatalf("err = %v", err)
	}
	waitNoLocks(t, e.db)
	if n := tableCount(t, e.db); n != 0 {
		t.Fatalf("%d tables after a rolled-back COMMIT", n)
	}
	if _, err := Run(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions()); err != nil {
		t.Fatalf("re-run: %v", err)
	}
}
