package migrate

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// makeDB writes a SQLite database from SQL statements.
func makeDB(t testing.TB, stmts ...string) string {
	t.Helper()
	return makeDBAt(t, filepath.Join(t.TempDir(), "connect.db"), stmts...)
}

// makeDBAt runs statements on the SQLite database at p (created when
// absent) and returns p.
func makeDBAt(t testing.TB, p string, stmts ...string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return p
}

// tableCount is the number of tables in the public schema of db.
func tableCount(t testing.TB, db string) int {
	t.Helper()
	var n int
	mustScan(t, srv.Conn(t, db), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", &n)
	return n
}

func TestBadData(t *testing.T) {
	cases := []struct {
		name   string
		stmts  []string
		strip  bool
		want   []string // substrings of the error; nil: success
		column string
	}{
		{"nul", []string{"CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)", "INSERT INTO notes VALUES (1, 'ok'), (7, 'a' || char(0) || 'b')"},
			false, []string{"table notes", "id 7", "column body", "NUL byte at offset 1", "--strip-nul"}, "body"},
		{"invalid utf8", []string{"CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)", "INSERT INTO notes VALUES (3, CAST(x'61ff62' AS TEXT))"},
			false, []string{"table notes", "id 3", "column body", "not valid UTF-8", "0xff at offset 1"}, "body"},
		{"text in integer", []string{"CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)", "INSERT INTO t VALUES (1, 5), (2, 'five')"},
			false, []string{"table t", "id 2", "column n", "TEXT value", "bigint"}, "n"},
		{"real in integer", []string{"CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)", "INSERT INTO t VALUES (4, 1.5)"},
			false, []string{"id 4", "column n", "real number 1.5"}, "n"},
		{"blob in text", []string{"CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)", "INSERT INTO t VALUES (9, x'00ff')"},
			false, []string{"id 9", "column s", "2-byte BLOB"}, "s"},
		{"boolean 2", []string{"CREATE TABLE t (id INTEGER PRIMARY KEY, b BOOLEAN)", "INSERT INTO t VALUES (1, 1), (2, 2)"},
			false, []string{"id 2", "column b", "integer 2 is not a boolean"}, "b"},
		{"bad timestamp", []string{"CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME)", "INSERT INTO t VALUES (1, '2024-01-01 10:00:00'), (2, 'yesterday')"},
			false, []string{"id 2", "column at", `"yesterday" is not a timestamp`}, "at"},
		{"epoch milliseconds", []string{"CREATE TABLE t (id INTEGER PRIMARY KEY, at TIMESTAMP)", "INSERT INTO t VALUES (5, 1700000000000)"},
			false, []string{"id 5", "column at", "not a plausible Unix time"}, "at"},
		{"without rowid identity", []string{"CREATE TABLE kv (k TEXT, n INTEGER, v INTEGER, PRIMARY KEY (k, n)) WITHOUT ROWID", "INSERT INTO kv VALUES ('a', 1, 'x')"},
			false, []string{"table kv", "k=a, n=1", "column v"}, "v"},
		{"rowid table without key", []string{"CREATE TABLE log (msg TEXT, n INT)", "INSERT INTO log VALUES ('a', 1), ('b', 'two')"},
			false, []string{"table log", "rowid 2", "column n"}, "n"},
		{"foreign key violation", []string{"CREATE TABLE p (id INTEGER PRIMARY KEY)", "CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id))", "INSERT INTO p VALUES (1)", "INSERT INTO c VALUES (1, 1), (2, 42)"},
			false, []string{"table c", "id 2", "column p_id", "foreign key to p points at no row"}, "p_id"},
		{"null primary key", []string{"CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT)", "INSERT INTO settings VALUES ('a', '1'), (NULL, '2')"},
			false, []string{"table settings", "rowid 2", "column key", "NULL in a PRIMARY KEY column"}, "key"},
		{"nul stripped", []string{"CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)", "INSERT INTO notes VALUES (7, 'a' || char(0) || 'b')"},
			true, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := makeDB(t, c.stmts...)
			e := newEnv(t)
			opts := testOptions()
			opts.StripNUL = c.strip
			rep, err := Run(context.Background(), []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, opts)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				var body string
				mustScan(t, srv.Conn(t, e.db), "SELECT body FROM notes WHERE id = 7", &body)
				if body != "ab" || rep.Databases[0].Tables[0].NULStripped != 1 {
					t.Fatalf("body %q, stripped %d", body, rep.Databases[0].Tables[0].NULStripped)
				}
				return
			}
			if err == nil {
				t.Fatal("migration succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if c.column != "" {
				var bad *BadValueError
				if !errors.As(err, &bad) || bad.Column != c.column {
					t.Errorf("error %v is not a BadValueError for column %s", err, c.column)
				}
			}
			if n := tableCount(t, e.db); n != 0 {
				t.Errorf("%d tables left in the target after a failed run", n)
			}
			// The dry run reports the same problem without a target.
			dr, err := DryRun(context.Background(), []Job{{Sources: []Source{{Label: "core", Path: path}}}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			if c.column != "" && (len(dr.Problems) != 1 || dr.Problems[0].Column != c.column) {
				t.Errorf("dry run problems = %+v", dr.Problems)
			}
		})
	}
}

// TestEdgeValues copies extreme but valid values of every kind and checks
// them value by value (and so the binary verification path).
func TestEdgeValues(t *testing.T) {
	path := makeDB(t,
		"CREATE TABLE edge (id INTEGER PRIMARY KEY, i INTEGER, r REAL, n NUMERIC, b BOOLEAN, ts DATETIME, d DATE, t TEXT, bl BLOB)",
		"INSERT INTO edge VALUES (1, -9223372036854775808, -0.0, '-0.000100', 0, '1969-12-31 23:59:59.999999', '1900-01-01', '', x'')",
		"INSERT INTO edge VALUES (2, 9223372036854775807, 1e308, 12345678901234567890, 1, '0001-01-01 00:00:00', '2999-12-31', 'ünï 🎉', x'00')",
		"INSERT INTO edge VALUES (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
		"INSERT INTO edge VALUES (4, 0, 5e-324, '1e5', 'true', -86400, '2000-01-01', 'x', 'text in blob')",
	)
	e := newEnv(t)
	rep, err := Run(context.Background(), []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Databases[0].Tables[0].Verified || rep.Databases[0].Tables[0].Rows != 4 {
		t.Fatalf("report %+v", rep.Databases[0].Tables[0])
	}
	var ts, d string
	mustScan(t, srv.Conn(t, e.db), "SELECT ts AT TIME ZONE 'UTC' || '', d::text FROM edge WHERE id = 1", &ts, &d)
	if ts != "1969-12-31 23:59:59.999999" || d != "1900-01-01" {
		t.Errorf("ts %q d %q", ts, d)
	}
	var n string
	mustScan(t, srv.Conn(t, e.db), "SELECT n::text FROM edge WHERE id = 4", &n)
	if n != "100000" {
		t.Errorf("n = %q", n)
	}
}
