package pgtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func backendPID(t *testing.T, c *pgx.Conn) int {
	t.Helper()
	var pid int
	if err := c.QueryRow(context.Background(), "SELECT pg_backend_pid()", pgx.QueryExecModeSimpleProtocol).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestBouncerModes proves the PgBouncer harness gives what the pooler
// tests rely on: a login with the role's own password, the pool mode asked
// for, and the refusal or dropping of the options startup parameter.
func TestBouncerModes(t *testing.T) {
	ctx := context.Background()
	role := srv.NewRole(t, "b0uncer pw")
	db := srv.NewDatabase(t, role)
	for _, mode := range []string{"session", "transaction"} {
		t.Run(mode, func(t *testing.T) {
			b := srv.Bouncer(t, BouncerOptions{PoolMode: mode})
			if !strings.HasPrefix(b.Version, "1.") {
				t.Errorf("pgbouncer version %q", b.Version)
			}
			a, err := pgx.Connect(ctx, b.URL(role, "b0uncer pw", db))
			if err != nil {
				t.Fatalf("login through pgbouncer: %v", err)
			}
			defer a.Close(ctx)
			pa := backendPID(t, a)
			if uint32(pa) == a.PgConn().PID() {
				t.Errorf("pgbouncer passed the backend's pid %d through as the cancel key", pa)
			}
			c, err := pgx.Connect(ctx, b.URL(role, "b0uncer pw", db))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx)
			// While a is connected, c gets a's server connection only in
			// transaction mode.
			if same := backendPID(t, c) == pa; same != (mode == "transaction") {
				t.Errorf("mode %s: second client on the first one's backend = %v", mode, same)
			}
			_, err = pgx.Connect(ctx, b.URL(role, "b0uncer pw", db, "options=-csearch_path%3Dx"))
			if err == nil || !strings.Contains(err.Error(), "unsupported startup parameter: options") {
				t.Errorf("options accepted by default: %v", err)
			}
		})
	}
	b := srv.Bouncer(t, BouncerOptions{IgnoreStartupParameters: []string{"options"}})
	c, err := pgx.Connect(ctx, b.URL(role, "b0uncer pw", db, "options=-csearch_path%3Dx"))
	if err != nil {
		t.Fatalf("options not ignored: %v", err)
	}
	defer c.Close(ctx)
	var sp string
	if err := c.QueryRow(ctx, "SHOW search_path", pgx.QueryExecModeSimpleProtocol).Scan(&sp); err != nil || sp == "x" {
		t.Errorf("search_path %q (%v): the ignored options reached the server", sp, err)
	}
}

// TestReplica: a streaming standby in recovery that has the primary's
// roles and databases and follows its changes.
func TestReplica(t *testing.T) {
	ctx := context.Background()
	role := srv.NewRole(t, "rep pw")
	db := srv.NewDatabase(t, role)
	r := srv.Replica(t)
	c, err := pgx.Connect(ctx, r.URL(role, "rep pw", db))
	if err != nil {
		t.Fatalf("login on the standby (TLS %v): %v", r.TLS, err)
	}
	defer c.Close(ctx)
	var rec bool
	if err := c.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&rec); err != nil || !rec {
		t.Fatalf("pg_is_in_recovery = %v (%v)", rec, err)
	}
	srv.MustExec(t, db, "CREATE TABLE replicated (id int)")
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname = 'replicated'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the standby did not replay a CREATE TABLE within 60s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
