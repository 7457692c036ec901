// Package sqlitegen writes SQLite databases shaped like Posit Connect's, for
// the migrate tests and benchmarks: many tables, foreign keys, indexes,
// booleans, timestamps in several forms, blobs, NULLs and Unicode text.
package sqlitegen

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	_ "modernc.org/sqlite" // "sqlite" driver
)

// CoreSchema is the schema of the generated core database.
const CoreSchema = `
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  guid TEXT NOT NULL UNIQUE,
  username VARCHAR(255) NOT NULL,
  email TEXT,
  active BOOLEAN NOT NULL DEFAULT 1,
  created_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  last_login TIMESTAMP,
  avatar BLOB,
  score REAL,
  balance NUMERIC(12,2) DEFAULT 0
);
CREATE TABLE groups (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  owner_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
  UNIQUE (name)
);
CREATE TABLE group_members (
  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id),
  role TEXT DEFAULT 'viewer',
  PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE TABLE apps (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  guid TEXT NOT NULL,
  name TEXT,
  owner_id INTEGER NOT NULL REFERENCES users(id),
  created DATETIME,
  updated DATETIME,
  is_public BOOLEAN DEFAULT FALSE,
  bundle BLOB,
  CONSTRAINT apps_guid UNIQUE (guid)
);
CREATE INDEX apps_owner ON apps (owner_id);
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  app_id INTEGER REFERENCES apps(id),
  status INTEGER NOT NULL DEFAULT 0,
  started_at TIMESTAMP,
  finished_at TIMESTAMP,
  exit_code INT,
  log TEXT
);
CREATE INDEX jobs_app_status ON jobs (app_id, status DESC);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT, updated DATE);
CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE NOT NULL, parent_id INTEGER REFERENCES tags(id));
CREATE UNIQUE INDEX tags_name ON tags (name);
CREATE TABLE app_tags (app_id INTEGER NOT NULL REFERENCES apps(id), tag_id INTEGER NOT NULL REFERENCES tags(id));
CREATE INDEX app_tags_tag ON app_tags (tag_id);
CREATE TABLE audit_logs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER,
  action TEXT NOT NULL,
  event_time DATETIME NOT NULL,
  data BLOB,
  ratio DOUBLE
);
CREATE INDEX audit_time ON audit_logs (event_time);
CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, dirty BOOLEAN NOT NULL);
`

var words = []string{"alpha", "Ünïcødé", "日本語", "emoji 🎉", "O'Brien", `quote"d`, "tab\there", "new\nline", "back\\slash", "plain", "naïve café", "Ελληνικά", "кириллица", "עברית"}

func text(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.String()
}

func blob(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

var base = time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)

// TimeText renders t the way Go SQLite drivers store time.Time.
func TimeText(t time.Time) string { return t.Format("2006-01-02 15:04:05.999999999-07:00") }

func maybe[T any](r *rand.Rand, pNull float64, v T) any {
	if r.Float64() < pNull {
		return nil
	}
	return v
}

// Options vary the generated data.
type Options struct {
	// TextTimestamps stores every timestamp as text, never as a Unix epoch
	// integer (which pgloader cannot load), for the pgloader comparison.
	TextTimestamps bool
}

// Generate writes a core database with about rows rows in all (0.93 × rows
// + 100) to path, deterministically for a given seed.
func Generate(ctx context.Context, path string, rows int, seed uint64) error {
	return GenerateWith(ctx, path, rows, seed, Options{})
}

// create makes a new database at path, in WAL mode without syncs, on one
// connection, with the given schema.
func create(ctx context.Context, path, schema string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating the schema: %w", err)
	}
	return db, nil
}

// GenerateWith is Generate with options.
func GenerateWith(ctx context.Context, path string, rows int, seed uint64, o Options) error {
	db, err := create(ctx, path, CoreSchema)
	if err != nil {
		return err
	}
	defer db.Close()
	r := rand.New(rand.NewPCG(seed, 42))
	nUsers := max(rows/20, 5)
	nGroups := max(rows/200, 2)
	nApps := max(rows/20, 5)
	nTags := 20
	nJobs := rows * 35 / 100
	nAudit := rows * 35 / 100
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins := func(q string, n int, args func(i int) []any) error {
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		defer st.Close()
		for i := 1; i <= n; i++ {
			if _, err := st.ExecContext(ctx, args(i)...); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}
	steps := []struct {
		q    string
		n    int
		args func(i int) []any
	}{
		{"INSERT INTO users (id, guid, username, email, active, created_time, last_login, avatar, score, balance) VALUES (?,?,?,?,?,?,?,?,?,?)", nUsers, func(i int) []any {
			created := base.Add(time.Duration(i) * time.Minute)
			return []any{i, fmt.Sprintf("%08x-user", i), fmt.Sprintf("user%d %s", i, text(r, 1)), maybe(r, 0.2, fmt.Sprintf("u%d@example.com", i)),
				r.IntN(2), created.Format("2006-01-02 15:04:05"), maybe(r, 0.3, TimeText(created.Add(time.Duration(r.Int64N(1e15))).In(time.FixedZone("", -5*3600)))),
				maybe(r, 0.5, blob(r, r.IntN(64))), maybe(r, 0.1, r.Float64()*1000), maybe(r, 0.1, float64(r.IntN(100000))/100)}
		}},
		{"INSERT INTO groups (id, name, owner_id) VALUES (?,?,?)", nGroups, func(i int) []any {
			return []any{i, fmt.Sprintf("group %d %s", i, text(r, 2)), maybe(r, 0.2, 1+r.IntN(nUsers))}
		}},
		{"INSERT OR IGNORE INTO group_members (group_id, user_id, role) VALUES (?,?,?)", rows / 40, func(i int) []any {
			return []any{1 + r.IntN(nGroups), 1 + r.IntN(nUsers), maybe(r, 0.3, []string{"viewer", "publisher", "admin"}[r.IntN(3)])}
		}},
		{"INSERT INTO apps (id, guid, name, owner_id, created, updated, is_public, bundle) VALUES (?,?,?,?,?,?,?,?)", nApps, func(i int) []any {
			c := base.Add(time.Duration(i) * time.Hour)
			return []any{i, fmt.Sprintf("app-%d", i), maybe(r, 0.1, text(r, 3)), 1 + r.IntN(nUsers), TimeText(c), maybe(r, 0.5, c.Add(time.Duration(r.Int64N(1e12))).Format(time.RFC3339Nano)),
				maybe(r, 0.2, r.IntN(2)), maybe(r, 0.7, blob(r, 100+r.IntN(400)))}
		}},
		{"INSERT INTO jobs (id, app_id, status, started_at, finished_at, exit_code, log) VALUES (?,?,?,?,?,?,?)", nJobs, func(i int) []any {
			s := base.Unix() + int64(i)*7
			var started any = s
			if o.TextTimestamps {
				started = time.Unix(s, 0).UTC().Format("2006-01-02 15:04:05")
			}
			return []any{i, maybe(r, 0.05, 1+r.IntN(nApps)), r.IntN(4), started, maybe(r, 0.2, TimeText(time.Unix(s+int64(r.IntN(600)), int64(r.IntN(1e6))*1000).UTC())),
				maybe(r, 0.2, r.IntN(3)-1), maybe(r, 0.4, text(r, 1+r.IntN(8)))}
		}},
		{"INSERT INTO settings (key, value, updated) VALUES (?,?,?)", 50, func(i int) []any {
			return []any{fmt.Sprintf("Setting.%d", i), maybe(r, 0.1, text(r, 2)), maybe(r, 0.3, base.AddDate(0, 0, i).Format("2006-01-02"))}
		}},
		{"INSERT INTO tags (id, name, parent_id) VALUES (?,?,?)", nTags, func(i int) []any {
			var parent any
			if i > 1 {
				parent = maybe(r, 0.5, 1+r.IntN(i-1))
			}
			return []any{i, fmt.Sprintf("tag %d", i), parent}
		}},
		{"INSERT INTO app_tags (app_id, tag_id) VALUES (?,?)", rows / 20, func(i int) []any {
			return []any{1 + r.IntN(nApps), 1 + r.IntN(nTags)}
		}},
		{"INSERT INTO audit_logs (user_id, action, event_time, data, ratio) VALUES (?,?,?,?,?)", nAudit, func(i int) []any {
			return []any{maybe(r, 0.1, 1+r.IntN(nUsers)), []string{"login", "logout", "deploy", "delete"}[r.IntN(4)],
				TimeText(base.Add(time.Duration(i) * time.Second).In(time.FixedZone("", 3600*2))), maybe(r, 0.6, blob(r, r.IntN(32))), maybe(r, 0.3, r.NormFloat64())}
		}},
		{"INSERT INTO schema_migrations (version, dirty) VALUES (?, ?)", 30, func(i int) []any { return []any{20230000 + i, 0} }},
	}
	for _, s := range steps {
		if err := ins(s.q, s.n, s.args); err != nil {
			return err
		}
	}
	// Deleted rows leave sqlite_sequence ahead of max(id).
	if _, err := tx.ExecContext(ctx, "DELETE FROM audit_logs WHERE id > (SELECT max(id) - 3 FROM audit_logs)"); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return err
	}
	return nil
}

// InstrumentationSchema is the schema of the generated instrumentation database.
const InstrumentationSchema = `
CREATE TABLE content_visits (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  content_guid TEXT NOT NULL,
  user_guid TEXT,
  time DATETIME NOT NULL,
  path TEXT
);
CREATE INDEX content_visits_time ON content_visits (time);
CREATE TABLE shiny_usage (
  id INTEGER PRIMARY KEY,
  content_guid TEXT NOT NULL,
  started DATETIME NOT NULL,
  ended DATETIME,
  data_version INTEGER
);
`

// GenerateInstrumentation writes an instrumentation database with rows rows.
func GenerateInstrumentation(ctx context.Context, path string, rows int, seed uint64) error {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, InstrumentationSchema); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(seed, 7))
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for i := 1; i <= rows/2; i++ {
		t := base.Add(time.Duration(i) * time.Second)
		if _, err := tx.ExecContext(ctx, "INSERT INTO content_visits (content_guid, user_guid, time, path) VALUES (?,?,?,?)",
			fmt.Sprintf("app-%d", r.IntN(100)), maybe(r, 0.3, fmt.Sprintf("%08x-user", r.IntN(100))), TimeText(t), maybe(r, 0.2, "/"+text(r, 1))); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO shiny_usage (id, content_guid, started, ended, data_version) VALUES (?,?,?,?,?)",
			i, fmt.Sprintf("app-%d", r.IntN(100)), TimeText(t), maybe(r, 0.2, TimeText(t.Add(time.Minute))), 1); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// NarrowSchema is the schema of GenerateNarrow's database: the narrowest
// rows a migration moves, two 64-bit integers each, where per-row costs
// (not bytes) decide the speed.
const NarrowSchema = `CREATE TABLE pairs (id INTEGER PRIMARY KEY, value BIGINT NOT NULL);`

// GenerateNarrow writes a database with one table of rows rows of two
// integers (NarrowSchema), generated inside SQLite by a recursive query.
func GenerateNarrow(ctx context.Context, path string, rows int) error {
	db, err := create(ctx, path, NarrowSchema)
	if err != nil {
		return err
	}
	defer db.Close()
	q := `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO pairs (id, value) SELECT i, (i * 2654435761) % 4294967311 - 2147483648 FROM n`
	if _, err := db.ExecContext(ctx, q, rows); err != nil {
		return fmt.Errorf("filling pairs: %w", err)
	}
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return err
	}
	return nil
}
