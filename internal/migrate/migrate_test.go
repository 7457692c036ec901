package migrate

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/config"
	"github.com/connectdb/connectdb/internal/migrate/sqlitegen"
	"github.com/connectdb/connectdb/internal/pgtest"
	"github.com/connectdb/connectdb/internal/target"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, pgtest.Options{}, &srv)) }

// env is a fresh target database owned by a fresh role.
type env struct {
	role, pw, db string
	url          string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	pw := "s3cret-Sentinel-pw"
	role := srv.NewRole(t, pw)
	db := srv.NewDatabase(t, role)
	return &env{role: role, pw: pw, db: db, url: srv.URL(role, pw, db, "sslmode=disable")}
}

func (e *env) target(t testing.TB) *target.Target {
	t.Helper()
	f := &cmdutil.Factory{Globals: &cmdutil.Globals{URL: e.url}, Getenv: func(string) string { return "" }}
	set, err := target.FromConfig(context.Background(), f, config.Default())
	if err != nil {
		t.Fatal(err)
	}
	return set.Primary
}

func testOptions() Options {
	return Options{LockKey: DefaultLockKey, LockTimeout: 5 * time.Second, ConnectTimeout: 10 * time.Second, Log: io.Discard}
}

var genCache = map[int]string{}

// genCore returns a generated core database with about rows rows (a
// read-only file shared by the tests of this package run).
func genCore(t testing.TB, rows int) string {
	t.Helper()
	if p, ok := genCache[rows]; ok {
		return copyFile(t, p)
	}
	dir, err := os.MkdirTemp("", "migrate-gen")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "connect.db")
	if err := sqlitegen.Generate(context.Background(), p, rows, 1); err != nil {
		t.Fatal(err)
	}
	genCache[rows] = p
	return copyFile(t, p)
}

func copyFile(t testing.TB, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "connect.db")
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestMigrateAppDatabase(t *testing.T) {
	ctx := context.Background()
	path := genCore(t, 20000)
	before := fileHash(t, path)
	e := newEnv(t)
	rep, err := Run(ctx, []Job{{Target: e.target(t), Sources: []Source{{Label: "core", Path: path}}}}, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Committed || rep.Rows < 15000 {
		t.Fatalf("report: committed=%v rows=%d", rep.Committed, rep.Rows)
	}
	for _, tr := range rep.Databases[0].Tables {
		if !tr.Verified {
			t.Errorf("table %s not verified", tr.Table)
		}
	}
	if fileHash(t, path) != before {
		t.Fatal("the SQLite file changed")
	}
	compareAll(t, path, e.db)

	conn := srv.Conn(t, e.db)
	// Sequences continue past the highest id and past sqlite_sequence.
	var seq, maxID int64
	mustScan(t, conn, "SELECT seq FROM (SELECT 1) x, LATERAL (SELECT max(id) AS seq FROM audit_logs) y", &maxID)
	_ = seq
	var newID int64
	mustScan(t, conn, "INSERT INTO audit_logs (action, event_time) VALUES ('x', now()) RETURNING id", &newID)
	if newID != maxID+4 {
		t.Errorf("new audit_logs id = %d, want %d (past the deleted rows recorded in sqlite_sequence)", newID, maxID+4)
	}
	mustScan(t, conn, "INSERT INTO users (guid, username) VALUES ('new', 'n') RETURNING id", &newID)
	mustScan(t, conn, "SELECT max(id) FROM users WHERE guid <> 'new'", &maxID)
	if newID != maxID+1 {
		t.Errorf("new users id = %d, want %d", newID, maxID+1)
	}
	// Keys, indexes and foreign keys exist.
	var n int
	mustScan(t, conn, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace", &n)
	if n != 8 {
		t.Errorf("foreign keys = %d, want 8", n)
	}
	mustScan(t, conn, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'", &n)
	if n < 14 {
		t.Errorf("indexes = %d, want at least 14", n)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO group_members (group_id, user_id) VALUES (999999, 1)"); err == nil {
		t.Error("a foreign key violation was accepted")
	}
	// Defaults were translated.
	var active bool
	mustScan(t, conn, "SELECT active FROM users WHERE guid = 'new'", &active)
	if !active {
		t.Error("users.active default is not true")
	}
	// Statistics exist after the run.
	mustScan(t, conn, "SELECT count(*) FROM pg_stats WHERE schemaname = 'public' AND tablename = 'jobs'", &n)
	if n == 0 {
		t.Error("jobs was not analyzed")
	}
}

func mustScan(t testing.TB, conn *pgx.Conn, q string, dst ...any) {
	t.Helper()
	if err := conn.QueryRow(context.Background(), q).Scan(dst...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func fileHash(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sumBytes(b))
}

func sumBytes(b []byte) uint64 {
	var h rowHasher
	h.buf = b
	return h.sum()
}

// compareAll compares every table value by value, independently of the
// migrate checksum: each row is rendered by test code on both sides.
func compareAll(t *testing.T, sqlitePath, db string) {
	t.Helper()
	ctx := context.Background()
	lite, err := sql.Open("sqlite", "file:"+sqlitePath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	conn := srv.Conn(t, db)
	rows, err := lite.Query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("only %d tables", len(tables))
	}
	for _, table := range tables {
		pr, err := conn.Query(ctx, "SELECT * FROM "+quoteIdent(table))
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		var oids []uint32
		for _, fd := range pr.FieldDescriptions() {
			cols = append(cols, quoteIdent(fd.Name))
			oids = append(oids, fd.DataTypeOID)
		}
		var pgRows []string
		for pr.Next() {
			vals, err := pr.Values()
			if err != nil {
				t.Fatal(err)
			}
			pgRows = append(pgRows, renderPG(t, vals, oids))
		}
		pr.Close()
		sel := make([]string, len(cols))
		for i, c := range cols {
			sel[i] = "+" + c
		}
		lr, err := lite.Query("SELECT " + strings.Join(sel, ", ") + " FROM " + quoteIdent(table))
		if err != nil {
			t.Fatal(err)
		}
		var liteRows []string
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for lr.Next() {
			if err := lr.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			liteRows = append(liteRows, renderSQLite(t, vals, oids))
		}
		lr.Close()
		slices.Sort(pgRows)
		slices.Sort(liteRows)
		if len(pgRows) != len(liteRows) {
			t.Fatalf("table %s: %d rows in PostgreSQL, %d in SQLite", table, len(pgRows), len(liteRows))
		}
		for i := range pgRows {
			if pgRows[i] != liteRows[i] {
				t.Fatalf("table %s differs:\n pg:     %s\n sqlite: %s", table, pgRows[i], liteRows[i])
			}
		}
	}
}

// renderJSON renders a decoded JSON value in one form for both sides.
func renderJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return "j:" + string(b)
}

func renderPG(t *testing.T, vals []any, oids []uint32) string {
	var parts []string
	for i, v := range vals {
		if v != nil && (oids[i] == pgtype.JSONBOID || oids[i] == pgtype.JSONOID) {
			parts = append(parts, renderJSON(t, v))
			continue
		}
		switch x := v.(type) {
		case nil:
			parts = append(parts, "NULL")
		case int32:
			parts = append(parts, fmt.Sprintf("i:%d", x))
		case int16:
			parts = append(parts, fmt.Sprintf("i:%d", x))
		case int64:
			parts = append(parts, fmt.Sprintf("i:%d", x))
		case bool:
			if x {
				parts = append(parts, "i:1")
			} else {
				parts = append(parts, "i:0")
			}
		case string:
			parts = append(parts, fmt.Sprintf("s:%q", x))
		case []byte:
			parts = append(parts, fmt.Sprintf("b:%x", x))
		case float64:
			parts = append(parts, fmt.Sprintf("f:%v", x))
		case time.Time:
			parts = append(parts, "t:"+x.UTC().Format(time.RFC3339Nano))
		case pgtype.Numeric:
			f, _ := x.Float64Value()
			parts = append(parts, fmt.Sprintf("f:%v", f.Float64))
		default:
			t.Fatalf("unexpected PostgreSQL value %T", v)
		}
	}
	return strings.Join(parts, "|")
}

var testLayouts = []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02"}

func renderSQLite(t *testing.T, vals []any, oids []uint32) string {
	var parts []string
	for i, v := range vals {
		if v == nil {
			parts = append(parts, "NULL")
			continue
		}
		switch oids[i] {
		case pgtype.JSONBOID, pgtype.JSONOID:
			var j any
			if err := json.Unmarshal([]byte(v.(string)), &j); err != nil {
				t.Fatal(err)
			}
			parts = append(parts, renderJSON(t, j))
		case pgtype.TimestamptzOID, pgtype.DateOID:
			var tm time.Time
			switch x := v.(type) {
			case int64:
				tm = time.Unix(x, 0)
			case string:
				ok := false
				for _, l := range testLayouts {
					if p, err := time.Parse(l, x); err == nil {
						tm, ok = p, true
						break
					}
				}
				if !ok {
					t.Fatalf("test cannot parse %q", x)
				}
			}
			parts = append(parts, "t:"+tm.Round(time.Microsecond).UTC().Format(time.RFC3339Nano))
		case pgtype.Float8OID, pgtype.NumericOID:
			switch x := v.(type) {
			case int64:
				parts = append(parts, fmt.Sprintf("f:%v", float64(x)))
			case float64:
				parts = append(parts, fmt.Sprintf("f:%v", x))
			}
		default:
			switch x := v.(type) {
			case int64:
				parts = append(parts, fmt.Sprintf("i:%d", x))
			case string:
				parts = append(parts, fmt.Sprintf("s:%q", x))
			case []byte:
				parts = append(parts, fmt.Sprintf("b:%x", x))
			default:
				t.Fatalf("unexpected SQLite value %T for oid %d", v, oids[i])
			}
		}
	}
	return strings.Join(parts, "|")
}
