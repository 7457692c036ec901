package sqlitesrc

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var moduleRE = regexp.MustCompile(`(?i)\bUSING\s+([A-Za-z0-9_]+)`)

// virtualModule names the module of a CREATE VIRTUAL TABLE statement.
func virtualModule(sql string) string {
	if m := moduleRE.FindStringSubmatch(sql); m != nil {
		return strings.ToLower(m[1])
	}
	return "unknown module"
}

// Schema is what a SQLite database holds, in name order.
type Schema struct {
	Tables  []*Table
	Skipped []Skipped // tables that cannot be copied (virtual tables)
}

// Skipped names a table left out and why.
type Skipped struct{ Name, Reason string }

// Table is one ordinary table.
type Table struct {
	Name          string
	Columns       []Column
	PrimaryKey    []string // in key order; empty for a plain rowid table
	WithoutRowID  bool
	Autoincrement bool
	Sequence      int64 // sqlite_sequence value for AUTOINCREMENT tables
	Indexes       []Index
	ForeignKeys   []ForeignKey
	SQL           string
}

// Column is one column as declared.
type Column struct {
	Name      string
	DeclType  string // as written, e.g. "VARCHAR(255)", "" when untyped
	NotNull   bool
	Default   string // the default expression as written, "" when none
	HasDflt   bool
	Generated bool // a generated (computed) column: not copied
}

// Index is an index or a UNIQUE/PRIMARY KEY constraint's index.
type Index struct {
	Name    string
	Unique  bool
	Origin  string // "c" CREATE INDEX, "u" UNIQUE constraint, "pk" PRIMARY KEY
	Partial bool
	Columns []IndexColumn
	SQL     string // CREATE INDEX statement, "" for constraint indexes
}

// IndexColumn is one key of an index.
type IndexColumn struct {
	Name      string // "" for an expression
	Expr      bool
	Desc      bool
	Collation string
}

// ForeignKey is one (possibly composite) foreign key.
type ForeignKey struct {
	ID       int
	Parent   string
	From     []string
	To       []string // empty names mean the parent's primary key
	OnUpdate string
	OnDelete string
}

// Table returns the named table or nil.
func (s *Schema) Table(name string) *Table {
	for _, t := range s.Tables {
		if strings.EqualFold(t.Name, name) {
			return t
		}
	}
	return nil
}

var autoincrementRE = regexp.MustCompile(`(?i)\bAUTOINCREMENT\b`)

// querier is what schema reading needs from a connection or transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readSchema(ctx context.Context, q querier) (*Schema, error) {
	type entry struct{ name, sql string }
	rows, err := q.QueryContext(ctx, `SELECT name, coalesce(sql, '') FROM sqlite_schema
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("reading the SQLite schema: %w", err)
	}
	var entries []entry
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.name, &e.sql); err != nil {
			rows.Close()
			return nil, err
		}
		entries = append(entries, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	seqs := map[string]int64{}
	var hasSeq int
	_ = q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_sequence'`).Scan(&hasSeq)
	if hasSeq > 0 {
		rows, err := q.QueryContext(ctx, `SELECT name, seq FROM sqlite_sequence`)
		if err != nil {
			return nil, fmt.Errorf("reading sqlite_sequence: %w", err)
		}
		for rows.Next() {
			var n string
			var v int64
			if err := rows.Scan(&n, &v); err == nil {
				seqs[n] = v
			}
		}
		rows.Close()
	}

	// pragma_table_list tells virtual tables and their shadow tables (the
	// ordinary tables an FTS5 or R*Tree module keeps its data in) apart.
	kinds := map[string]string{}
	if rows, err := q.QueryContext(ctx, `SELECT name, type FROM pragma_table_list WHERE schema = 'main'`); err == nil {
		for rows.Next() {
			var n, k string
			if rows.Scan(&n, &k) == nil {
				kinds[n] = k
			}
		}
		rows.Close()
	}
	var virtual []string
	for _, e := range entries {
		if kinds[e.name] == "virtual" || strings.HasPrefix(strings.ToUpper(strings.TrimSpace(e.sql)), "CREATE VIRTUAL") {
			virtual = append(virtual, e.name)
		}
	}
	s := &Schema{}
	for _, e := range entries {
		if slices.Contains(virtual, e.name) {
			s.Skipped = append(s.Skipped, Skipped{Name: e.name, Reason: "virtual table (" + virtualModule(e.sql) + "): its data is not copied; recreate it in PostgreSQL if you need it"})
			continue
		}
		if kinds[e.name] == "shadow" {
			owner := "a virtual table"
			for _, v := range virtual {
				if strings.HasPrefix(e.name, v+"_") {
					owner = "virtual table " + v
				}
			}
			s.Skipped = append(s.Skipped, Skipped{Name: e.name, Reason: "shadow table of " + owner + " (SQLite keeps that module's data in it): not copied"})
			continue
		}
		t := &Table{Name: e.name, SQL: e.sql, Autoincrement: autoincrementRE.MatchString(e.sql), Sequence: seqs[e.name]}
		if err := readTable(ctx, q, t); err != nil {
			return nil, err
		}
		s.Tables = append(s.Tables, t)
	}
	return s, nil
}

func readTable(ctx context.Context, q querier, t *Table) error {
	var wr int
	if err := q.QueryRowContext(ctx, `SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?`, t.Name).Scan(&wr); err != nil {
		return fmt.Errorf("reading table %s: %w", t.Name, err)
	}
	t.WithoutRowID = wr == 1

	rows, err := q.QueryContext(ctx, `SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid`, t.Name)
	if err != nil {
		return fmt.Errorf("reading the columns of %s: %w", t.Name, err)
	}
	type pkcol struct {
		pos  int
		name string
	}
	var pks []pkcol
	for rows.Next() {
		var c Column
		var dflt sql.NullString
		var notnull, pk, hidden int
		if err := rows.Scan(&c.Name, &c.DeclType, &notnull, &dflt, &pk, &hidden); err != nil {
			rows.Close()
			return err
		}
		c.NotNull = notnull == 1
		c.Default, c.HasDflt = dflt.String, dflt.Valid
		c.Generated = hidden == 2 || hidden == 3
		if hidden == 1 {
			continue
		}
		if pk > 0 {
			pks = append(pks, pkcol{pk, c.Name})
		}
		t.Columns = append(t.Columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	t.PrimaryKey = make([]string, len(pks))
	for _, p := range pks {
		t.PrimaryKey[p.pos-1] = p.name
	}

	rows, err = q.QueryContext(ctx, `SELECT l.name, l."unique", l.origin, l.partial, coalesce(m.sql, '')
		FROM pragma_index_list(?) l LEFT JOIN sqlite_schema m ON m.type = 'index' AND m.name = l.name ORDER BY l.name`, t.Name)
	if err != nil {
		return fmt.Errorf("reading the indexes of %s: %w", t.Name, err)
	}
	for rows.Next() {
		var ix Index
		var unique, partial int
		if err := rows.Scan(&ix.Name, &unique, &ix.Origin, &partial, &ix.SQL); err != nil {
			rows.Close()
			return err
		}
		ix.Unique, ix.Partial = unique == 1, partial == 1
		t.Indexes = append(t.Indexes, ix)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range t.Indexes {
		ix := &t.Indexes[i]
		rows, err := q.QueryContext(ctx, `SELECT cid, coalesce(name, ''), "desc", coalesce(coll, '') FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno`, ix.Name)
		if err != nil {
			return fmt.Errorf("reading index %s: %w", ix.Name, err)
		}
		for rows.Next() {
			var c IndexColumn
			var cid, desc int
			if err := rows.Scan(&cid, &c.Name, &desc, &c.Collation); err != nil {
				rows.Close()
				return err
			}
			c.Expr = cid == -2
			c.Desc = desc == 1
			if cid == -1 {
				c.Name = rowidAlias(t)
			}
			ix.Columns = append(ix.Columns, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}

	rows, err = q.QueryContext(ctx, `SELECT id, "table", "from", coalesce("to", ''), on_update, on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`, t.Name)
	if err != nil {
		return fmt.Errorf("reading the foreign keys of %s: %w", t.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int
		var parent, from, to, upd, del string
		if err := rows.Scan(&id, &parent, &from, &to, &upd, &del); err != nil {
			return err
		}
		n := len(t.ForeignKeys)
		if n == 0 || t.ForeignKeys[n-1].ID != id {
			t.ForeignKeys = append(t.ForeignKeys, ForeignKey{ID: id, Parent: parent, OnUpdate: upd, OnDelete: del})
			n++
		}
		fk := &t.ForeignKeys[n-1]
		fk.From = append(fk.From, from)
		fk.To = append(fk.To, to)
	}
	return rows.Err()
}

// rowidAlias returns the INTEGER PRIMARY KEY column that aliases the rowid,
// or "rowid".
func rowidAlias(t *Table) string {
	if a := t.RowIDAlias(); a != "" {
		return a
	}
	return "rowid"
}

// RowIDAlias returns the column that is an alias for the rowid (declared
// exactly INTEGER PRIMARY KEY), or "".
func (t *Table) RowIDAlias() string {
	if t.WithoutRowID || len(t.PrimaryKey) != 1 {
		return ""
	}
	for _, c := range t.Columns {
		if c.Name == t.PrimaryKey[0] && strings.EqualFold(strings.TrimSpace(c.DeclType), "INTEGER") {
			return c.Name
		}
	}
	return ""
}
