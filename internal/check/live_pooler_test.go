package check

import (
	"testing"

	"github.com/connectdb/connectdb/internal/pgtest"
)

// TestPoolerLive runs check through a real PgBouncer in each mode, with
// nothing declared (--pooler unset): the verdicts come from what the
// server and the pooler show.
func TestPoolerLive(t *testing.T) {
	role, db, direct := ownedDB(t)
	srv.MustExec(t, db, "CREATE SCHEMA connect AUTHORIZATION "+role)
	const withSchema = "options=-csearch_path%3Dconnect"

	t.Run("direct", func(t *testing.T) {
		rep := liveRun(t, srv.URL(role, pw, db, withSchema), nil)
		wantStatus(t, rep, ScopePrimary, "pg.pooler", Pass, "directly", "cancel key")
		wantStatus(t, rep, ScopePrimary, "pg.search-path", Pass, "connect")
		wantStatus(t, liveRun(t, direct, nil), ScopePrimary, "pg.search-path", Skip, "names no schema")
	})

	t.Run("session", func(t *testing.T) {
		b := srv.Bouncer(t, pgtest.BouncerOptions{PoolMode: "session"})
		rep := liveRun(t, b.URL(role, pw, db), nil)
		wantStatus(t, rep, ScopePrimary, "pg.pooler", Pass, "session-mode", "a pooler answered the login")
		if rep.ExitCode(false) != 0 {
			t.Errorf("exit %d behind a session pooler", rep.ExitCode(false))
		}
		// PgBouncer refuses the options that carry Connect's schema.
		rep = liveRun(t, b.URL(role, pw, db, withSchema), nil)
		r := wantStatus(t, rep, ScopePrimary, "pg.connect", Fail, "refuses the options startup parameter", "ignore_startup_parameters",
			"ALTER ROLE "+role+" IN DATABASE "+db+" SET search_path = connect")
		if r.Cause != "pooler-refused-options" {
			t.Errorf("cause %q", r.Cause)
		}
	})

	t.Run("transaction", func(t *testing.T) {
		b := srv.Bouncer(t, pgtest.BouncerOptions{PoolMode: "transaction"})
		rep := liveRun(t, b.URL(role, pw, db), nil)
		wantStatus(t, rep, ScopePrimary, "pg.pooler", Fail, "transaction-mode", "pool_mode = session", "second client connection")
		if rep.ExitCode(false) != 1 {
			t.Errorf("exit %d behind an undeclared transaction pooler, want 1", rep.ExitCode(false))
		}
	})

	t.Run("options ignored", func(t *testing.T) {
		b := srv.Bouncer(t, pgtest.BouncerOptions{PoolMode: "session", IgnoreStartupParameters: []string{"options"}})
		url := b.URL(role, pw, db, withSchema)
		rep := liveRun(t, url, nil)
		wantStatus(t, rep, ScopePrimary, "pg.pooler", Pass, "session-mode")
		wantStatus(t, rep, ScopePrimary, "pg.search-path", Fail, "asks for search_path connect", "tables in schema public", "pooler",
			"ALTER ROLE "+role+" IN DATABASE "+db+" SET search_path = connect")
		// The remedy works through the pooler, once it opens new server
		// connections.
		srv.MustExec(t, "postgres", "ALTER ROLE "+role+" IN DATABASE "+db+" SET search_path = connect")
		b.Stop()
		b = srv.Bouncer(t, pgtest.BouncerOptions{PoolMode: "session", IgnoreStartupParameters: []string{"options"}})
		rep = liveRun(t, b.URL(role, pw, db, withSchema), nil)
		wantStatus(t, rep, ScopePrimary, "pg.search-path", Pass, "connect")
		if rep.ExitCode(false) != 0 {
			t.Errorf("exit %d after the fix", rep.ExitCode(false))
		}
	})
}
