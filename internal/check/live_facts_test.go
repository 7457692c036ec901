package check

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/pool/probe"
)

// TestFactsMatchTheViews: the facts query reads pg_stat_get_activity and
// pg_database instead of pg_stat_activity, pg_stat_ssl and scalar
// subqueries; run as an unprivileged role beside hidden sessions of another
// role, in the same statement (one activity snapshot), it gives what the
// views give.
func TestFactsMatchTheViews(t *testing.T) {
	role, db, url := ownedDB(t)
	other := srv.NewRole(t, "other-pw")
	holdConns(t, srv.URL(other, "other-pw", srv.NewDatabase(t, other)), 3)
	ctx := context.Background()
	for _, u := range []string{url, srv.URL(role, pw, db, "sslmode=disable")} {
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		views := `SELECT (SELECT count(*) FROM pg_stat_activity WHERE ` + probe.ClientSessions + ` AND pid <> pg_backend_pid())::int,
  (SELECT count(*) FROM pg_stat_activity WHERE ` + probe.ClientSessions + ` AND backend_type IS NULL AND pid <> pg_backend_pid())::int,
  coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false),
  coalesce((SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()), ''),
  coalesce((SELECT cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()), ''),
  (SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()),
  (SELECT datconnlimit FROM pg_database WHERE datname = current_database())`
		// Both in one statement: the activity snapshot is taken once.
		q := "WITH f AS (" + factsSQL(false) + "), v AS (" + views + ") SELECT f.*, v.* FROM f, v"
		rows, err := conn.Query(ctx, q, pgx.QueryExecModeExec)
		if err != nil {
			t.Fatal(err)
		}
		vals, err := pgx.CollectExactlyOneRow(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
		if err != nil {
			t.Fatal(err)
		}
		n := len(vals) - 7
		got := []any{vals[19], vals[20], vals[23], vals[24], vals[25], vals[4], vals[22]}
		for i, want := range vals[n:] {
			if got[i] != want {
				t.Errorf("%s: fact %d = %v, the views say %v (all: %v)", u, i, got[i], want, vals)
			}
		}
		if vals[20].(int32) == 0 || vals[19].(int32) < 3 {
			t.Errorf("%s: others %v, hidden %v: the other role's 3 sessions should be counted and hidden", u, vals[19], vals[20])
		}
		if ssl := vals[23].(bool); ssl != !strings.Contains(u, "sslmode=disable") {
			t.Errorf("%s: ssl = %v", u, ssl)
		}
	}
}

// TestFactsWithSchema reads the owner of the URL's schema only when the
// URL names one.
func TestFactsWithSchema(t *testing.T) {
	role, db, _ := ownedDB(t)
	srv.MustExec(t, db, "CREATE SCHEMA team AUTHORIZATION "+role)
	rep := liveRun(t, srv.URL(role, pw, db, "options=-csearch_path%3Dteam"), nil)
	wantStatus(t, rep, ScopePrimary, "pg.schema", Pass, "Schema team exists and is owned by "+role)
	rep = liveRun(t, srv.URL(role, pw, db, "options=-csearch_path%3Dmissing"), nil)
	wantStatus(t, rep, ScopePrimary, "pg.schema", Fail, "Schema missing (from options=-csearch_path=) does not exist")
}

// TestTimeoutUnits: pg.timeouts reads current_setting(), whose unit is
// the largest that holds the value exactly, as the milliseconds
// pg_settings gives; the sources are read once a timeout is set.
func TestTimeoutUnits(t *testing.T) {
	role, db, url := ownedDB(t)
	rep := liveRun(t, url, nil)
	r := wantStatus(t, rep, ScopePrimary, "pg.timeouts", Pass)
	if want := []string{"idle_in_transaction_session_timeout = 0 (off)", "lock_timeout = 0 (off)", "statement_timeout = 0 (off)"}; strings.Join(r.Details, "|") != strings.Join(want, "|") {
		t.Errorf("details %q, want %q", r.Details, want)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, v := range []string{"1", "1500", "2000", "2s", "90s", "10min", "60min", "1h", "25h", "1d", "7d", "2147483647"} {
		if _, err := conn.Exec(ctx, "SET lock_timeout = '"+v+"'"); err != nil {
			t.Fatal(err)
		}
		var shown string
		var ms int64
		if err := conn.QueryRow(ctx, "SELECT current_setting('lock_timeout'), setting::bigint FROM pg_settings WHERE name = 'lock_timeout'").Scan(&shown, &ms); err != nil {
			t.Fatal(err)
		}
		if got, err := gucMillis(shown); err != nil || got != ms {
			t.Errorf("SET lock_timeout = %s: current_setting %q read as %d ms (%v), pg_settings says %d", v, shown, got, err, ms)
		}
	}

	srv.MustExec(t, "postgres", "ALTER ROLE "+role+" IN DATABASE "+db+" SET statement_timeout = '1h'")
	r = wantStatus(t, liveRun(t, url, nil), ScopePrimary, "pg.timeouts", Pass)
	if want := []string{"idle_in_transaction_session_timeout = 0 (off) (default)", "lock_timeout = 0 (off) (default)", "statement_timeout = 1h0m0s (database user)"}; strings.Join(r.Details, "|") != strings.Join(want, "|") {
		t.Errorf("details %q, want %q", r.Details, want)
	}
}

func TestGucMillis(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1": 1, "1500": 1500, "1500ms": 1500, "2s": 2000, "5min": 300000, "1h": 3600000, "2d": 172800000, "-1": -1} {
		if got, err := gucMillis(in); err != nil || got != want {
			t.Errorf("gucMillis(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "s", "2 weeks", "1.5s", "10us"} {
		if got, err := gucMillis(in); err == nil {
			t.Errorf("gucMillis(%q) = %d, want an error", in, got)
		}
	}
}
