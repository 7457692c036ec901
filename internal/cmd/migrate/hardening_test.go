package migrate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/locks/lockstest"
	"github.com/connectdb/connectdb/internal/migrate"
)

// Inputs that are not a Connect SQLite database are usage errors (exit 2)
// that say what was found; none "migrates" (issue 16 items 7, 8, 10).
func TestSQLiteInputRefused(t *testing.T) {
	url, _ := newTarget(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	noTables := filepath.Join(dir, "notables.db")
	if err := execSQLite(noTables, "PRAGMA user_version = 7"); err != nil {
		t.Fatal(err)
	}
	onlyFTS := filepath.Join(dir, "fts.db")
	if err := execSQLite(onlyFTS, "CREATE VIRTUAL TABLE docs USING fts5(body)"); err != nil {
		t.Fatal(err)
	}
	notSQLite := filepath.Join(dir, "rstudio-connect.gcfg")
	if err := os.WriteFile(notSQLite, []byte("[Database]\nProvider = sqlite\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, want string
	}{
		{"empty file", empty, "is empty (0 bytes)"},
		{"dev null", "/dev/null", "is not a regular file (a character device)"},
		{"no tables", noTables, "holds no tables at all, not Connect's core tables"},
		{"only virtual tables", onlyFTS, "holds only 6 virtual or shadow tables (docs, docs_config"},
		{"directory", dir, "is a directory"},
		{"not sqlite", notSQLite, "is not a SQLite database"},
	}
	for _, c := range cases {
		for _, dry := range []bool{false, true} {
			t.Run(c.name+map[bool]string{true: " dry run"}[dry], func(t *testing.T) {
				o, out, _ := newOpts(t, url)
				o.SQLite, o.DryRun = c.path, dry
				err := runMigrate(context.Background(), o)
				if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
					t.Fatalf("err = %v (exit %d), want exit 2 saying %q", err, cmdutil.ExitCode(err), c.want)
				}
				if strings.Contains(out.String(), "committed") {
					t.Fatalf("output claims a migration:\n%s", out)
				}
			})
		}
	}
}

// --dry-run fails on an explicit --config it cannot use, like every other
// command (issue 16 item 10).
func TestDryRunExplicitConfig(t *testing.T) {
	good := gen(t, 20)
	dir := t.TempDir()
	malformed := filepath.Join(dir, "bad.gcfg")
	if err := os.WriteFile(malformed, []byte("[Postgres\nURL = x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, path string }{
		{"missing", filepath.Join(dir, "absent.gcfg")},
		{"malformed", malformed},
		{"directory", dir},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, _, _ := newOpts(t, "")
			o.SQLite, o.DryRun = good, true
			o.F.Globals.ConfigPath, o.F.Globals.ConfigExplicit = c.path, true
			err := runMigrate(context.Background(), o)
			if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), c.path) {
				t.Fatalf("err = %v (exit %d), want exit 2 naming %s", err, cmdutil.ExitCode(err), c.path)
			}
		})
	}
	// Without --config, an absent default config is fine for a dry run.
	o, _, _ := newOpts(t, "")
	o.SQLite, o.DryRun = good, true
	if err := runMigrate(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}

// FTS5 tables are listed and skipped; a table named pg_class lands in the
// target schema, not in pg_catalog (issue 16 item 10).
func TestVirtualTablesAndCatalogNames(t *testing.T) {
	url, db := newTarget(t)
	p := gen(t, 50)
	for _, s := range []string{
		"CREATE VIRTUAL TABLE docs USING fts5(title, body)",
		"INSERT INTO docs VALUES ('a', 'b c')",
		"CREATE TABLE pg_class (id INTEGER PRIMARY KEY, relname TEXT)",
		"INSERT INTO pg_class VALUES (1, 'x'), (2, 'y')",
		"CREATE TABLE pg_attribute (attname TEXT)",
		"INSERT INTO pg_attribute VALUES ('z')",
	} {
		if err := execSQLite(p, s); err != nil {
			t.Fatal(err)
		}
	}
	o, out, _ := newOpts(t, url)
	o.SQLite, o.DryRun = p, true
	if err := runMigrate(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"table docs is not copied: virtual table (fts5)", "table docs_data is not copied: shadow table of virtual table docs", "core.pg_class"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("dry run lacks %q:\n%s", w, out)
		}
	}
	o, out, _ = newOpts(t, url)
	o.SQLite = p
	if err := runMigrate(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := srv.Conn(t, db).QueryRow(context.Background(), `SELECT count(*) FROM public.pg_class`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("public.pg_class rows = %d, %v\n%s", n, err, out)
	}
	if err := srv.Conn(t, db).QueryRow(context.Background(), `SELECT count(*) FROM public.pg_attribute`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("public.pg_attribute rows = %d, %v", n, err)
	}
	for _, absent := range []string{"docs", "docs_data", "docs_idx"} {
		var exists bool
		if err := srv.Conn(t, db).QueryRow(context.Background(), `SELECT to_regclass('public.'||$1) IS NOT NULL`, absent).Scan(&exists); err != nil || exists {
			t.Errorf("table %s was created (%v)", absent, err)
		}
	}
}

// --lock-timeout below a second is printed as given (issue 16 item 10).
func TestShortLockTimeoutPrinted(t *testing.T) {
	url, db := newTarget(t)
	lockstest.Hold(t, srv, db, "other", "SELECT pg_advisory_lock("+migrate.DefaultLockKey.String()+")")
	o, _, errOut := newOpts(t, url)
	o.SQLite = gen(t, 20)
	o.LockTimeout = 200_000_000
	err := runMigrate(context.Background(), o)
	if cmdutil.ExitCode(err) != cmdutil.ExitFindings || !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(errOut.String(), "waiting up to 200ms") {
		t.Fatalf("stderr = %q", errOut)
	}
}
