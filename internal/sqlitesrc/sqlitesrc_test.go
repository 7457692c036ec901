package sqlitesrc

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMain doubles as a helper process that holds a SQLite database open
// the way a running Connect would (see holdDB).
func TestMain(m *testing.M) {
	if mode := os.Getenv("SQLITESRC_HOLD"); mode != "" {
		os.Exit(hold(mode, os.Getenv("SQLITESRC_PATH")))
	}
	os.Exit(m.Run())
}

func hold(mode, path string) int {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	switch mode {
	case "wal-idle":
		_, err = conn.ExecContext(ctx, "SELECT count(*) FROM t")
	case "writing":
		_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE; INSERT INTO t VALUES (99, 'x')")
	case "idle":
		_, err = conn.ExecContext(ctx, "SELECT count(*) FROM t")
	case "connectdb":
		// Another connectdb: the same program, holding a read snapshot.
		conn.Close()
		db.Close()
		var src *DB
		if src, err = Open(ctx, path); err == nil {
			var snap *Snapshot
			if snap, err = src.Begin(ctx); err == nil {
				_, err = snap.Count(ctx, "t")
			}
		}
	}
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n') // until the test closes stdin
	return 0
}

// holdDB starts a helper process holding path in mode and stops it when
// the test ends.
func holdDB(t *testing.T, mode, path string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SQLITESRC_HOLD="+mode, "SQLITESRC_PATH="+path)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("helper: %q", line)
	}
	return cmd.Process.Pid
}

func makeDB(t *testing.T, wal bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "connect.db")
	db, err := sql.Open("sqlite", "file:"+p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := []string{"CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)", "INSERT INTO t VALUES (1, 'a')"}
	if wal {
		stmts = append([]string{"PRAGMA journal_mode=WAL"}, stmts...)
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestRefusesDatabaseInUse(t *testing.T) {
	cases := []struct {
		mode string
		wal  bool
		want string
	}{
		{"wal-idle", true, "has it open"},
		{"writing", false, "has it open"},
		{"writing", true, "has it open"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s-wal=%v", c.mode, c.wal), func(t *testing.T) {
			p := makeDB(t, c.wal)
			pid := holdDB(t, c.mode, p)
			_, err := Open(context.Background(), p)
			var iu *InUseError
			if !errors.As(err, &iu) || !errors.Is(err, ErrInUse) {
				t.Fatalf("Open = %v, want InUseError", err)
			}
			if iu.PID != pid {
				t.Errorf("pid = %d, want %d", iu.PID, pid)
			}
			for _, w := range []string{c.want, "stop Connect first", fmt.Sprintf("process %d", pid)} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestOpenIsReadOnly(t *testing.T) {
	p := makeDB(t, false)
	before, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	db, err := Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.db.Exec("INSERT INTO t VALUES (2, 'b')"); err == nil {
		t.Fatal("a write through the migrate connection succeeded")
	}
	snap, err := db.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := snap.Count(context.Background(), "t"); err != nil || n != 1 {
		t.Fatalf("count = %d, %v", n, err)
	}
	snap.Close()
	db.Close()
	after, _ := os.ReadFile(p)
	st2, _ := os.Stat(p)
	if string(before) != string(after) || !st.ModTime().Equal(st2.ModTime()) {
		t.Fatal("the database file changed")
	}
	for _, suffix := range []string{"-journal", "-wal"} {
		if _, err := os.Stat(p + suffix); err == nil {
			t.Errorf("%s was created", suffix)
		}
	}
}

func TestHotJournalRefused(t *testing.T) {
	p := makeDB(t, false)
	if err := os.WriteFile(p+"-journal", []byte("not empty"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), p); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "rollback journal") {
		t.Fatalf("Open = %v", err)
	}
}

func TestSchema(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.db")
	db, _ := sql.Open("sqlite", "file:"+p)
	for _, s := range []string{
		"CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT NOT NULL UNIQUE, n INT DEFAULT 3)",
		"CREATE TABLE child (a INT, b TEXT, p INTEGER REFERENCES parent ON DELETE CASCADE, PRIMARY KEY (b, a)) WITHOUT ROWID",
		"CREATE INDEX child_p ON child (p DESC, a)",
		"CREATE INDEX child_expr ON child (lower(b))",
		"CREATE TABLE gen (x INT, y INT GENERATED ALWAYS AS (x * 2))",
		"INSERT INTO parent (code) VALUES ('a'), ('b')",
		"DELETE FROM parent WHERE code = 'b'",
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	db.Close()
	src, err := Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	snap, _ := src.Begin(context.Background())
	defer snap.Close()
	s, err := snap.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	par, ch, gen := s.Table("parent"), s.Table("child"), s.Table("gen")
	if par == nil || ch == nil || gen == nil {
		t.Fatalf("tables = %+v", s.Tables)
	}
	if !par.Autoincrement || par.Sequence != 2 || par.RowIDAlias() != "id" || par.Columns[2].Default != "3" {
		t.Errorf("parent = %+v", par)
	}
	if !ch.WithoutRowID || strings.Join(ch.PrimaryKey, ",") != "b,a" || ch.RowIDAlias() != "" {
		t.Errorf("child = %+v", ch)
	}
	if len(ch.ForeignKeys) != 1 || ch.ForeignKeys[0].Parent != "parent" || ch.ForeignKeys[0].To[0] != "" || ch.ForeignKeys[0].OnDelete != "CASCADE" {
		t.Errorf("child fks = %+v", ch.ForeignKeys)
	}
	var idx, expr *Index
	for i := range ch.Indexes {
		switch ch.Indexes[i].Name {
		case "child_p":
			idx = &ch.Indexes[i]
		case "child_expr":
			expr = &ch.Indexes[i]
		}
	}
	if idx == nil || len(idx.Columns) != 2 || !idx.Columns[0].Desc || idx.Columns[1].Name != "a" || idx.Origin != "c" {
		t.Errorf("child_p = %+v", idx)
	}
	if expr == nil || !expr.Columns[0].Expr {
		t.Errorf("child_expr = %+v", expr)
	}
	if !gen.Columns[1].Generated {
		t.Errorf("gen = %+v", gen.Columns)
	}
	var uniq bool
	for _, ix := range par.Indexes {
		uniq = uniq || (ix.Origin == "u" && ix.Unique && ix.Columns[0].Name == "code")
	}
	if !uniq {
		t.Errorf("parent indexes = %+v", par.Indexes)
	}
}

// A second connectdb reading the same file is named as such, not as
// Connect (issue 16 item 10).
func TestInUseByAnotherConnectdb(t *testing.T) {
	p := makeDB(t, false)
	pid := holdDB(t, "connectdb", p)
	_, err := Open(context.Background(), p)
	var iu *InUseError
	if !errors.As(err, &iu) || !iu.Connectdb || iu.PID != pid {
		t.Fatalf("Open = %v (%+v), want another connectdb with pid %d", err, iu, pid)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("another connectdb (process %d)", pid)) || strings.Contains(err.Error(), "stop Connect") {
		t.Fatalf("error = %q", err)
	}
}

// Paths that are not a regular SQLite file are bad input, refused without
// blocking (a FIFO is never opened) and named (issue 16 items 7, 8, 10).
func TestCheckFileRefusals(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.db")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "rstudio-connect.gcfg")
	if err := os.WriteFile(text, []byte("[Database]\nProvider = sqlite\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ path, want string }{
		{dir, "is a directory"},
		{fifo, "is not a regular file (a FIFO)"},
		{"/dev/null", "is not a regular file (a character device)"},
		{empty, "is empty (0 bytes): it holds no Connect tables"},
		{text, "is not a SQLite database (29 bytes"},
		{filepath.Join(dir, "absent.db"), "does not exist"},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			_, err := Open(context.Background(), c.path)
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
				t.Fatalf("Open(%s) = %v, want bad input saying %q", c.path, err, c.want)
			}
		})
	}
}

// A damaged page names the file and the table (issue 16 item 10).
func TestCorruptPageNamesFileAndTable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "connect.db")
	db, _ := sql.Open("sqlite", "file:"+p)
	for _, s := range []string{
		"CREATE TABLE a (id INTEGER PRIMARY KEY, s TEXT)",
		"CREATE TABLE b (id INTEGER PRIMARY KEY, s TEXT)",
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000) INSERT INTO b SELECT i, printf('%0100d', i) FROM n",
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	var root, pageSize int64
	if err := db.QueryRow("SELECT rootpage FROM sqlite_schema WHERE name = 'b'").Scan(&root); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("PRAGMA page_size").Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	db.Close()
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	garbage := []byte(strings.Repeat("\xff", 64))
	if _, err := f.WriteAt(garbage, (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
	f.Close()

	src, err := Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	snap, err := src.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	sc, err := snap.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := snap.Rows(context.Background(), sc.Table("b"))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	rows.Close()
	err = rows.Err()
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "table b") || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("reading a damaged table: %v", err)
	}
	if _, err := snap.Count(context.Background(), "b"); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "table b") {
		t.Fatalf("counting a damaged table: %v", err)
	}
}

// FTS5 virtual tables and their shadow tables are listed as skipped, not
// copied as ordinary tables (issue 16 item 10).
func TestVirtualAndShadowTablesSkipped(t *testing.T) {
	p := filepath.Join(t.TempDir(), "connect.db")
	db, _ := sql.Open("sqlite", "file:"+p)
	for _, s := range []string{
		"CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)",
		"CREATE VIRTUAL TABLE docs USING fts5(title, body)",
		"INSERT INTO docs VALUES ('a', 'b c')",
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	src, err := Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	snap, _ := src.Begin(context.Background())
	defer snap.Close()
	sc, err := snap.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Tables) != 1 || sc.Tables[0].Name != "t" {
		t.Fatalf("tables = %v", sc.Tables)
	}
	got := map[string]string{}
	for _, sk := range sc.Skipped {
		got[sk.Name] = sk.Reason
	}
	if !strings.Contains(got["docs"], "virtual table (fts5)") {
		t.Errorf("docs: %q", got["docs"])
	}
	for _, sh := range []string{"docs_data", "docs_idx", "docs_content", "docs_docsize", "docs_config"} {
		if !strings.Contains(got[sh], "shadow table of virtual table docs") {
			t.Errorf("%s: %q", sh, got[sh])
		}
	}
}
