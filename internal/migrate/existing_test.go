package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// connectSchema creates the Connect-like schema of
// testdata/connect-like-schema.sql in e's database, as e's role (the way
// Connect creates its own tables on first start).
func connectSchema(t *testing.T, e *env, extra ...string) {
	t.Helper()
	ddl, err := os.ReadFile("testdata/connect-like-schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(context.Background(), e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for _, s := range append([]string{string(ddl)}, extra...) {
		if _, err := c.Exec(context.Background(), s); err != nil {
			t.Fatalf("%.60s: %v", s, err)
		}
	}
}

// jsonCore is a generated core database whose settings hold JSON text.
func jsonCore(t *testing.T, rows int) string {
	t.Helper()
	path := genCore(t, rows)
	return makeDBAt(t, path, `UPDATE settings SET value = CASE WHEN rowid % 3 = 0 THEN '{"b": [1, 2.50, 1e2], "a": "é \u00e9", "a": "last"}' WHEN rowid % 3 = 1 THEN '  [true, null, {"x": -1.50}]' ELSE value END`,
		`UPDATE settings SET value = json_quote(value) WHERE rowid % 3 = 2 AND value IS NOT NULL`)
}

// keysSnapshot renders the constraints, indexes and their comments of
// db's public schema: what a load into it must leave as Connect made it.
func keysSnapshot(t *testing.T, db string) string {
	t.Helper()
	var s string
	mustScan(t, srv.Conn(t, db), `SELECT concat_ws(E'\n',
		(SELECT string_agg(d, E'\n' ORDER BY d) FROM (SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE connamespace = 'public'::regnamespace) c),
		(SELECT string_agg(d, E'\n' ORDER BY d) FROM (SELECT indexdef || coalesce(' -- ' || obj_description((schemaname || '.' || indexname)::regclass, 'pg_class'), '') AS d FROM pg_indexes WHERE schemaname = 'public') i))`, &s)
	return s
}

// schemaSnapshot renders what a load must not change when it fails: the
// tables with their row counts, the constraints, indexes and the sequences.
func schemaSnapshot(t *testing.T, db string) string {
	t.Helper()
	var s string
	mustScan(t, srv.Conn(t, db), `SELECT concat_ws(E'\n',
		(SELECT string_agg(c.relname || ' ' || (xpath('/row/n/text()', query_to_xml('SELECT count(*) AS n FROM public.' || quote_ident(c.relname), false, true, '')))[1]::text, E'\n' ORDER BY c.relname)
		   FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'),
		(SELECT string_agg(sequencename || ' ' || coalesce(last_value::text, 'unset'), E'\n' ORDER BY sequencename) FROM pg_sequences WHERE schemaname = 'public'))`, &s)
	return s + "\n" + keysSnapshot(t, db)
}

// The same data both ways: a derived schema and a Connect-created one
// (issue 14 item 4).
func TestLoadIntoConnectCreatedSchema(t *testing.T) {
	ctx := context.Background()
	path := jsonCore(t, 3000)

	derived := newEnv(t)
	if _, err := Run(ctx, []Job{{Target: derived.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions()); err != nil {
		t.Fatal(err)
	}
	compareAll(t, path, derived.db)

	e := newEnv(t)
	// A commented index stays in place during the load; the others are
	// set aside and built again under their own names.
	connectSchema(t, e, "COMMENT ON INDEX apps_owner IS 'kept in place'")
	keys := keysSnapshot(t, e.db)
	rep, err := Run(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if after := keysSnapshot(t, e.db); after != keys {
		t.Errorf("the load changed the target's keys or indexes:\n%s\n---\n%s", keys, after)
	}
	db := rep.Databases[0]
	if !db.ExistingSchema || len(db.Tables) != 9 {
		t.Fatalf("existing=%v tables=%d", db.ExistingSchema, len(db.Tables))
	}
	for _, tr := range db.Tables {
		if !tr.Verified {
			t.Errorf("%s not verified", tr.Table)
		}
	}
	compareAll(t, path, e.db)
	// --verify and a re-run read Connect's types too.
	vrep, err := Verify(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions())
	if err != nil || vrep.Differences != 0 {
		t.Fatalf("verify after the load: %v, %d differences %+v", err, vrep.Differences, vrep.Databases[0].Tables)
	}
	if again, err := Run(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions()); err != nil || !again.AlreadyMigrated {
		t.Fatalf("re-run after the load: %v", err)
	}
	conn := srv.Conn(t, e.db)
	// The target's types, defaults and constraints are Connect's.
	var typ string
	mustScan(t, conn, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'jobs'::regclass AND attname = 'status'`, &typ)
	if typ != "smallint" {
		t.Errorf("jobs.status is %s", typ)
	}
	var fks int
	mustScan(t, conn, `SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace`, &fks)
	if fks != 8 {
		t.Errorf("%d foreign keys after the load, want 8", fks)
	}
	// jsonb holds the same values.
	var same bool
	mustScan(t, conn, `SELECT value = '{"a": "last", "b": [1, 2.50, 100]}'::jsonb FROM settings WHERE key = 'Setting.3'`, &same)
	if !same {
		t.Error("settings.value for Setting.3 is not the SQLite JSON")
	}
	// Identity, serial and by-default identity sequences continue past the
	// copied ids (and past sqlite_sequence).
	var maxUser, maxApp, maxAudit, newUser, newApp, newAudit int64
	mustScan(t, conn, `SELECT (SELECT max(id) FROM users), (SELECT max(id) FROM apps), (SELECT max(id) FROM audit_logs)`, &maxUser, &maxApp, &maxAudit)
	mustScan(t, conn, `INSERT INTO users (guid, username) VALUES ('new-user', 'n') RETURNING id`, &newUser)
	mustScan(t, conn, `INSERT INTO apps (guid, owner_id) VALUES ('new-app', 1) RETURNING id`, &newApp)
	mustScan(t, conn, `INSERT INTO audit_logs (action, event_time) VALUES ('x', now()) RETURNING id`, &newAudit)
	if newUser <= maxUser || newApp <= maxApp || newAudit <= maxAudit {
		t.Errorf("new ids %d/%d/%d, highest copied %d/%d/%d", newUser, newApp, newAudit, maxUser, maxApp, maxAudit)
	}
}

// Mismatches are refused before anything is written (issue 14 item 4).
func TestConnectSchemaMismatchRefused(t *testing.T) {
	ctx := context.Background()
	path := jsonCore(t, 3000)
	cases := []struct {
		name, extra, want string
	}{
		{"column only in PostgreSQL", "ALTER TABLE apps ADD COLUMN color text", "column apps.color is in PostgreSQL but not in SQLite"},
		{"NOT NULL without default or source", "ALTER TABLE apps ADD COLUMN kind text NOT NULL", "column apps.kind is NOT NULL in PostgreSQL without a default and has no SQLite column"},
		{"column only in SQLite", "ALTER TABLE jobs DROP COLUMN log", "column jobs.log is in SQLite but not in PostgreSQL"},
		{"table only in SQLite", "DROP TABLE app_tags", "table app_tags is in SQLite but not in PostgreSQL"},
		{"other schema version", "INSERT INTO schema_migrations VALUES (20240101, false)", "the schema version differs: SQLite's schema_migrations is at 20230030, PostgreSQL's at 20240101"},
		{"unsupported type", "ALTER TABLE users ALTER COLUMN guid TYPE uuid USING NULL", "column users.guid has type uuid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			connectSchema(t, e, c.extra)
			before := schemaSnapshot(t, e.db)
			_, err := Run(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions())
			var sm *SchemaMismatchError
			if !errors.As(err, &sm) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "nothing was written") {
				t.Fatalf("err = %v, want a mismatch saying %q", err, c.want)
			}
			if after := schemaSnapshot(t, e.db); after != before {
				t.Fatalf("the target changed:\n%s\n---\n%s", before, after)
			}
		})
	}
	t.Run("value out of range", func(t *testing.T) {
		p := copyFile(t, path)
		makeDBAt(t, p, "UPDATE jobs SET exit_code = 3000000000 WHERE id = 4")
		e := newEnv(t)
		connectSchema(t, e)
		before := schemaSnapshot(t, e.db)
		_, err := Run(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: p}}}}, testOptions())
		if !IsBadData(err) || !strings.Contains(err.Error(), "table jobs, id 4, column exit_code: the integer 3000000000 does not fit the target column's type integer") {
			t.Fatalf("err = %v", err)
		}
		if after := schemaSnapshot(t, e.db); after != before {
			t.Fatalf("the target changed:\n%s\n---\n%s", before, after)
		}
	})
}

// A backend killed during a load into an existing schema leaves the target
// exactly as it was; a re-run succeeds (issue 14 item 4).
func TestKilledLoadIntoConnectSchema(t *testing.T) {
	ctx := context.Background()
	path := jsonCore(t, 20000)
	kills := 0
	defer func() {
		if kills < 3 {
			t.Errorf("only %d of 6 trials were interrupted; the kill points were missed", kills)
		}
	}()
	for i, point := range []string{"ALTER TABLE%DROP CONSTRAINT%", "TRUNCATE%", "COPY%", `SELECT "%`, "ALTER TABLE%ADD CONSTRAINT%", "ALTER SEQUENCE%"} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			e := newEnv(t)
			connectSchema(t, e)
			before := schemaSnapshot(t, e.db)
			app := fmt.Sprintf("migrate-load-fault-%d", i)
			te := e.targetWithApp(t, app)
			hit, stop := killWhen(t, "application_name = $1 AND state = 'active' AND query ILIKE $2", nil, app, point)
			defer stop()
			_, err := Run(ctx, []Job{{Target: te.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions())
			if err == nil {
				stop()
			}
			killed := <-hit
			if err == nil {
				// The point passed before the watcher saw it.
				if killed {
					t.Fatal("the run succeeded although its backend was killed")
				}
				compareAll(t, path, e.db)
				return
			}
			if !killed {
				t.Fatalf("run failed without a kill: %v", err)
			}
			kills++
			waitNoLocks(t, e.db)
			if after := schemaSnapshot(t, e.db); after != before {
				t.Fatalf("killed at %s: the target changed:\n%s\n---\n%s", point, before, after)
			}
			if _, err := Run(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions()); err != nil {
				t.Fatalf("re-run after the kill: %v", err)
			}
			compareAll(t, path, e.db)
		})
	}
}
