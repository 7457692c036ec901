// Package lockstest sets up advisory-lock scenes on a pgtest server for the
// tests of show-locks, release-locks and internal/locks: sessions that hold
// locks, sessions that wait for them, and waiting until the server shows
// what a test needs.
package lockstest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/pgtest"
)

// AdvisoryWaiter is a condition for Until: some session waits for an
// advisory lock.
const AdvisoryWaiter = "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)"

// Hold opens a superuser session of db with application_name app, runs each
// statement on it and returns it; the session ends with the test.
func Hold(t testing.TB, srv *pgtest.Server, db, app string, stmts ...string) *pgx.Conn {
	t.Helper()
	c := srv.Conn(t, db)
	run(t, c, append([]string{"SET application_name = '" + app + "'"}, stmts...))
	return c
}

// HoldURL opens a session with the connection URL url (as a role other than
// the superuser, say), runs each statement on it and returns it; the session
// ends with the test.
func HoldURL(t testing.TB, url string, stmts ...string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	run(t, c, stmts)
	return c
}

func run(t testing.TB, c *pgx.Conn, stmts []string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := c.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// Background runs stmt, which may block, on a new superuser session of db
// with application_name app, and returns at once: the channel receives the
// statement's error when it ends. When the test ends the statement is
// cancelled and the session closed.
func Background(t testing.TB, srv *pgtest.Server, db, app, stmt string) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := srv.Connect(ctx, db)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "SET application_name = '"+app+"'"); err != nil {
		cancel()
		c.Close(context.Background())
		t.Fatal(err)
	}
	res, done := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(done)
		_, err := c.Exec(ctx, stmt)
		res <- err
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		c.Close(context.Background())
	})
	return res
}

// InState is a condition for Until: a session with application_name app is
// in state (such as "idle" or "idle in transaction") and has been for more
// than d by the server's clock. app and state must not contain quotes.
func InState(app, state string, d time.Duration) string {
	return fmt.Sprintf("EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = '%s' AND state = '%s' "+
		"AND clock_timestamp() - state_change > make_interval(secs => %f))", app, state, d.Seconds())
}

// Until evaluates the SQL condition cond in db every 20ms until it is true,
// and fails the test if it is still false after a minute: a bound for a
// loaded machine, not a wait (it returns as soon as cond holds).
func Until(t testing.TB, srv *pgtest.Server, db, cond string) {
	t.Helper()
	c := srv.Conn(t, db)
	deadline := time.Now().Add(time.Minute)
	for {
		var ok bool
		if err := c.QueryRow(context.Background(), "SELECT "+cond).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", cond)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
