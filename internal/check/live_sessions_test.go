package check

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/pool/probe"
)

// holdConns opens n connections to url, closed when the test ends.
func holdConns(t *testing.T, url string, n int) {
	t.Helper()
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, err := pgx.Connect(ctx, url)
		cancel()
		if err != nil {
			t.Fatalf("holding a connection: %v", err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
	}
}

// TestMaxConnectionsCountsHiddenSessions is issue 16's false PASS: run as
// Connect's own role (no pg_read_all_stats), the check saw none of another
// role's sessions, whose backend_type it may not read, and passed a pool
// that did not fit.
func TestMaxConnectionsCountsHiddenSessions(t *testing.T) {
	role, _, url := ownedDB(t)
	other := srv.NewRole(t, "other-pw")
	otherDB := srv.NewDatabase(t, other)
	holdConns(t, srv.URL(other, "other-pw", otherDB, "application_name=nightly-backup"), 6)

	// 100 - 3 superuser-reserved = 97 slots; Connect needs 2 x 46 = 92,
	// which fits only when the 6 hidden sessions are ignored.
	fit := func(o *Options) {
		o.Input.Nodes, o.Input.MaxOpenConnections = 1, 46
		o.Timeout = 30 * time.Second
	}
	if srv.Major >= 16 {
		var reserved int
		if err := srv.Conn(t, "postgres").QueryRow(context.Background(), "SELECT current_setting('reserved_connections')::int").Scan(&reserved); err != nil || reserved != 0 {
			t.Fatalf("reserved_connections = %d (%v), the arithmetic below assumes 0", reserved, err)
		}
	}
	r := wantStatus(t, liveRun(t, url, fit), ScopePrimary, "pool.max-connections", Fail, "may open 92", "sessions of other roles are counted although", "pg_read_all_stats")
	if strings.Contains(r.Message, "; 0 sessions") {
		t.Errorf("message %q", r.Message)
	}

	// With pg_read_all_stats nothing is hidden: the same verdict, exact.
	srv.MustExec(t, "postgres", "GRANT pg_read_all_stats TO "+role)
	r = wantStatus(t, liveRun(t, url, fit), ScopePrimary, "pool.max-connections", Fail, "may open 92")
	if strings.Contains(r.Message+strings.Join(r.Details, " "), "may not") {
		t.Errorf("a role with pg_read_all_stats is told details are hidden: %q %q", r.Message, r.Details)
	}
}

// TestClientSessionsRule: the count an unprivileged role gets with
// probe.ClientSessions equals the superuser's exact count of client
// backends: hidden sessions are counted, background processes (the
// logical replication launcher runs as the bootstrap superuser) are not.
func TestClientSessionsRule(t *testing.T) {
	role, db, url := ownedDB(t)
	other := srv.NewRole(t, "other-pw")
	holdConns(t, srv.URL(other, "other-pw", srv.NewDatabase(t, other)), 4)
	ctx := context.Background()
	mine, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close(ctx)
	super := srv.Conn(t, db)
	q := "SELECT count(*) FROM pg_stat_activity WHERE " + probe.ClientSessions + " AND pid <> pg_backend_pid()"
	exact := "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
	var got, want, hidden int
	// Sessions of earlier tests may still be ending: wait until both views
	// agree, each excluding its own backend.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := mine.QueryRow(ctx, q).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if err := super.QueryRow(ctx, exact).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got != want {
		t.Fatalf("%s counts %d client sessions, the superuser %d", role, got, want)
	}
	if err := mine.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE backend_type IS NULL AND "+probe.ClientSessions).Scan(&hidden); err != nil {
		t.Fatal(err)
	}
	if hidden < 5 { // 4 of the other role, 1 of the superuser
		t.Errorf("%d hidden client sessions, want at least 5", hidden)
	}
}

// TestProbePipelineNamesTheFailingStep: a statement in the middle of the
// pipelined probe fails (an event trigger refuses CREATE INDEX); the
// verdict names that step and its error, and nothing is left behind.
func TestProbePipelineNamesTheFailingStep(t *testing.T) {
	_, db, url := ownedDB(t)
	srv.MustExec(t, db, `CREATE FUNCTION no_index() RETURNS event_trigger LANGUAGE plpgsql AS
		$$BEGIN RAISE EXCEPTION 'indexes are frozen here' USING ERRCODE = 'P0001'; END$$;
		CREATE EVENT TRIGGER no_index ON ddl_command_start WHEN TAG IN ('CREATE INDEX') EXECUTE FUNCTION no_index()`)
	r := wantStatus(t, liveRun(t, url, nil), ScopePrimary, "pg.privileges", Fail, "CREATE INDEX in schema public failed: indexes are frozen here (SQLSTATE P0001)")
	if strings.Contains(r.Message, "INSERT") {
		t.Errorf("message names a later step: %s", r.Message)
	}
	assertNoProbeTables(t, db)
	srv.MustExec(t, db, "DROP EVENT TRIGGER no_index")
	wantStatus(t, liveRun(t, url, nil), ScopePrimary, "pg.privileges", Pass)
}
