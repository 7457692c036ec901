package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/migrate/sqlitegen"
)

// withTerminal gives opts a terminal on stdin and stderr, with typed as
// what the user types.
func withTerminal(opts *MigrateOptions, typed string) (*bytes.Buffer, *bytes.Buffer) {
	ios, in, out, errOut := iostreams.Test()
	ios.SetTTY(true, false, true)
	in.WriteString(typed)
	opts.F.IO = ios
	return out, errOut
}

func tableRows(t *testing.T, db, table string) int {
	t.Helper()
	var n int
	if err := srv.Conn(t, db).QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// --drop-all refuses without a terminal unless --yes is given; on a
// terminal it lists the tables and needs the database name typed; the
// report lists every dropped table (issue 14 item 3).
func TestDropAllGuard(t *testing.T) {
	url, db := newTarget(t)
	path := gen(t, 300)
	o, _, _ := newOpts(t, url)
	o.SQLite = path
	if err := runMigrate(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	srv.MustExec(t, db, "DELETE FROM audit_logs WHERE id % 2 = 0")
	before := tableRows(t, db, "audit_logs")

	// No terminal, no --yes: refused before anything is touched.
	o, out, _ := newOpts(t, url)
	o.SQLite, o.DropAll = path, true
	err := runMigrate(context.Background(), o)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "--yes") || out.Len() != 0 {
		t.Fatalf("err = %v (exit %d), out = %q", err, cmdutil.ExitCode(err), out)
	}
	if tableRows(t, db, "audit_logs") != before {
		t.Fatal("the refused --drop-all changed the target")
	}

	// A terminal and a wrong name: nothing dropped.
	o, _, _ = newOpts(t, url)
	o.SQLite, o.DropAll = path, true
	_, errOut := withTerminal(o, "connect\n")
	err = runMigrate(context.Background(), o)
	if cmdutil.ExitCode(err) != cmdutil.ExitFindings || !strings.Contains(err.Error(), "not confirmed") {
		t.Fatalf("err = %v", err)
	}
	for _, w := range []string{"--drop-all will drop 10 tables", "of database " + db + " on 127.0.0.1", "audit_logs", "Type the database name (" + db + ")"} {
		if !strings.Contains(errOut.String(), w) {
			t.Errorf("prompt lacks %q:\n%s", w, errOut)
		}
	}
	if tableRows(t, db, "audit_logs") != before {
		t.Fatal("an unconfirmed --drop-all changed the target")
	}

	// The right name: dropped, copied, and the report says what was dropped.
	o, _, _ = newOpts(t, url)
	o.SQLite, o.DropAll = path, true
	o.F.Globals.Output = "json"
	out, _ = withTerminal(o, db+"\n")
	if err := runMigrate(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Databases []struct {
			Dropped []struct {
				Table string
				Rows  int64
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	dropped := map[string]int64{}
	for _, d := range rep.Databases[0].Dropped {
		dropped[d.Table] = d.Rows
	}
	if len(dropped) != 10 || dropped["audit_logs"] != int64(before) {
		t.Fatalf("dropped = %v, want 10 tables with audit_logs at %d rows", dropped, before)
	}
	if tableRows(t, db, "audit_logs") == before {
		t.Fatal("audit_logs was not replaced")
	}

	// --yes without a terminal, and the text report.
	o, out, _ = newOpts(t, url)
	o.SQLite, o.DropAll, o.Yes = path, true, true
	if err := runMigrate(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "dropped first (--drop-all): ") || !strings.Contains(out.String(), "audit_logs (") {
		t.Fatalf("report:\n%s", out)
	}
}

// --verify compares read-only: exit 0 when equal, 1 naming the first
// differing row by primary key (issue 14 item 2).
func TestVerify(t *testing.T) {
	url, db := newTarget(t)
	path := gen(t, 400)
	o, _, _ := newOpts(t, url)
	o.SQLite = path
	if err := runMigrate(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	// A session holding an advisory lock (as a running Connect may) does
	// not stop --verify.
	srv.MustExec(t, db, "SELECT 1") // the database exists
	holder := srv.Conn(t, db)
	if _, err := holder.Exec(context.Background(), "SELECT pg_advisory_lock(27976396599551858)"); err != nil {
		t.Fatal(err)
	}
	o, out, _ := newOpts(t, url)
	o.SQLite, o.Verify = path, true
	if err := runMigrate(context.Background(), o); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "PostgreSQL matches SQLite") || !strings.Contains(out.String(), "equal (checksum") {
		t.Fatalf("output:\n%s", out)
	}
	srv.MustExec(t, db, "UPDATE users SET email = 'changed' WHERE id = 5")
	srv.MustExec(t, db, "DELETE FROM tags WHERE id = (SELECT min(id) FROM tags WHERE id NOT IN (SELECT parent_id FROM tags WHERE parent_id IS NOT NULL) AND id NOT IN (SELECT tag_id FROM app_tags))")
	o, out, _ = newOpts(t, url)
	o.SQLite, o.Verify = path, true
	err := runMigrate(context.Background(), o)
	if cmdutil.ExitCode(err) != cmdutil.ExitFindings || !strings.Contains(err.Error(), "2 tables differ") {
		t.Fatalf("err = %v\n%s", err, out)
	}
	for _, w := range []string{"core.users", "DIFFERS: SQLite has", "the row with id=5 has other values in PostgreSQL", "core.tags", "is missing in PostgreSQL", "2 of 10 tables differ"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if cmdutil.ExitCode(runMigrate(context.Background(), &MigrateOptions{F: o.F, Data: "core", SQLite: path, Verify: true, DryRun: true, LockTimeout: o.LockTimeout})) != cmdutil.ExitUsage {
		t.Error("--verify --dry-run was accepted")
	}
}

// --data all is the default: a missing instrumentation file is a note; both
// databases go into one PostgreSQL database with two schemas, as Posit's
// operator configures it (issue 14 item 1, issue 12 item 10).
func TestDataAllDefault(t *testing.T) {
	url, db := newTarget(t)
	dataDir := t.TempDir()
	core := filepath.Join(dataDir, CoreFile)
	if err := sqlitegen.Generate(context.Background(), core, 200, 1); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "rstudio-connect.gcfg")
	write := func(body string) {
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("[SQLite]\nDir = " + dataDir + "\n[Postgres]\nURL = \"" + url + "\"\n")
	o, out, errOut := newOpts(t, "")
	o.Data = "all"
	o.F.Globals.ConfigPath, o.F.Globals.ConfigExplicit = cfg, true
	if err := runMigrate(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "note: no instrumentation database at "+filepath.Join(dataDir, InstrumentationFile)) || !strings.Contains(out.String(), "note: no instrumentation database") {
		t.Fatalf("no note about the missing instrumentation file:\n%s\n%s", errOut, out)
	}
	// Explicitly asked for: a missing instrumentation file is an error.
	o, _, _ = newOpts(t, "")
	o.Data = "instrumentation"
	o.F.Globals.ConfigPath, o.F.Globals.ConfigExplicit = cfg, true
	if err := runMigrate(context.Background(), o); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("--data instrumentation without the file: %v", err)
	}

	// One database, two schemas.
	db2 := srv.NewDatabase(t, "")
	_ = db
	role := srv.NewRole(t, sentinel)
	srv.MustExec(t, db2, "CREATE SCHEMA connect AUTHORIZATION "+role)
	srv.MustExec(t, db2, "CREATE SCHEMA metrics AUTHORIZATION "+role)
	srv.MustExec(t, db2, "GRANT CONNECT ON DATABASE "+db2+" TO "+role)
	if err := sqlitegen.GenerateInstrumentation(context.Background(), filepath.Join(dataDir, InstrumentationFile), 300, 2); err != nil {
		t.Fatal(err)
	}
	u1 := srv.URL(role, sentinel, db2, "sslmode=disable", "options=-csearch_path=connect")
	u2 := srv.URL(role, sentinel, db2, "sslmode=disable", "options=-csearch_path=metrics")
	write("[SQLite]\nDir = " + dataDir + "\n[Postgres]\nURL = \"" + u1 + "\"\nInstrumentationURL = \"" + u2 + "\"\n")
	o, out, _ = newOpts(t, "")
	o.Data = "all"
	o.F.Globals.ConfigPath, o.F.Globals.ConfigExplicit = cfg, true
	if err := runMigrate(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "schema connect") || !strings.Contains(out.String(), "schema metrics") {
		t.Fatalf("output:\n%s", out)
	}
	if n := tableRows(t, db2, "connect.users"); n == 0 {
		t.Fatal("connect.users is empty")
	}
	if n := tableRows(t, db2, "metrics.shiny_usage"); n == 0 {
		t.Fatal("metrics.shiny_usage is empty")
	}
	var misplaced int
	if err := srv.Conn(t, db2).QueryRow(context.Background(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&misplaced); err != nil || misplaced != 0 {
		t.Fatalf("%d tables in public (%v)", misplaced, err)
	}
	// --verify over both schemas.
	o, out, _ = newOpts(t, "")
	o.Data, o.Verify = "all", true
	o.F.Globals.ConfigPath, o.F.Globals.ConfigExplicit = cfg, true
	if err := runMigrate(context.Background(), o); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Contains(out.String()+errOut.String(), sentinel) {
		t.Fatal("the password appears in the output")
	}
}

// A dry run against a database where Connect created its (empty) tables
// shows the column mapping and every conversion; a mismatch is a problem
// (exit 1). Then the load itself (issue 14 item 4).
func TestDryRunAndLoadIntoConnectSchema(t *testing.T) {
	url, db := newTarget(t)
	ddl, err := os.ReadFile("../../migrate/testdata/connect-like-schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	path := gen(t, 300)
	if err := execSQLite(path, "UPDATE settings SET value = json_quote(value)"); err != nil {
		t.Fatal(err)
	}
	c := connectAs(t, url)
	if _, err := c.Exec(context.Background(), string(ddl)); err != nil {
		t.Fatal(err)
	}
	o, out, _ := newOpts(t, url)
	o.SQLite, o.DryRun = path, true
	if err := runMigrate(context.Background(), o); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, w := range []string{"existing, empty tables of schema public (created by Connect)", `core.users → "public"."users"`,
		"active BOOLEAN → boolean (0/1 → false/true)", "exit_code INT → integer (range-checked)", "value TEXT → jsonb (validated JSON)",
		"status INTEGER → smallint (range-checked)", "created_time DATETIME → timestamptz"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("dry run lacks %q:\n%s", w, out)
		}
	}
	if _, err := c.Exec(context.Background(), "ALTER TABLE apps ADD COLUMN color text"); err != nil {
		t.Fatal(err)
	}
	o, out, _ = newOpts(t, url)
	o.SQLite, o.DryRun = path, true
	if err := runMigrate(context.Background(), o); cmdutil.ExitCode(err) != cmdutil.ExitFindings || !strings.Contains(out.String(), "core: column apps.color is in PostgreSQL but not in SQLite") {
		t.Fatalf("err = %v\n%s", err, out)
	}
	if _, err := c.Exec(context.Background(), "ALTER TABLE apps DROP COLUMN color"); err != nil {
		t.Fatal(err)
	}
	o, out, _ = newOpts(t, url)
	o.SQLite = path
	if err := runMigrate(context.Background(), o); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "the existing (Connect-created) tables of schema public") {
		t.Fatalf("report:\n%s", out)
	}
	if tableRows(t, db, "users") == 0 {
		t.Fatal("users is empty")
	}
}

func connectAs(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}
