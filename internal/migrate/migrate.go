// Package migrate copies the SQLite databases Posit Connect uses into
// PostgreSQL: it plans a PostgreSQL schema from the SQLite one, streams the
// rows with COPY inside one transaction per target database, verifies a
// per-table row count and order-independent checksum before committing,
// and refuses bad data instead of changing it.
package migrate

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/locks"
	"github.com/connectdb/connectdb/internal/sqlitesrc"
	"github.com/connectdb/connectdb/internal/target"
)

// Source is one SQLite database to copy.
type Source struct {
	Label string `json:"data"` // "core" or "instrumentation"
	Path  string `json:"sqlite"`
}

// Job copies one or more sources into one target database, in one
// transaction.
type Job struct {
	Target  *target.Target // nil in a dry run without a target
	Sources []Source
}

// Options control a run.
type Options struct {
	DropExisting   bool
	StripNUL       bool
	LockKey        locks.Key
	LockTimeout    time.Duration
	ConnectTimeout time.Duration
	// ConfirmDrop, when set, is asked before tables are dropped
	// (DropExisting); an error stops the run before anything is written.
	ConfirmDrop func(ctx context.Context, d DropPlan) error
	Progress    Progress  // nil: no progress display
	Log         io.Writer // messages while waiting for the lock; nil discards them
	// beforeCommit, in tests, runs just before each COMMIT is sent.
	beforeCommit func()
}

// DropPlan is what --drop-all is about to drop in one target database.
type DropPlan struct {
	Database, Host, Schema string
	Tables                 []DroppedTable
}

// DroppedTable is one table dropped (or to be dropped) and the rows it
// held.
type DroppedTable struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
}

// Progress shows the copy of each table.
type Progress interface {
	// Begin announces the tables and rows of the next target database.
	Begin(tables int, rows int64)
	Table(source, table string, index, total int, rows int64) ProgressBar
}

// ProgressBar follows the rows of one table.
type ProgressBar interface {
	Add(rows int)
	Done()
}

// Report is the outcome of a run; it is also the --output json shape.
type Report struct {
	DryRun    bool             `json:"dry_run"`
	Committed bool             `json:"committed"`
	LockID    string           `json:"lock_id,omitempty"`
	Databases []DatabaseReport `json:"databases"`
	Rows      int64            `json:"rows"`
	Bytes     int64            `json:"bytes"`
	Seconds   float64          `json:"seconds"`
	Problems  []Problem        `json:"problems,omitempty"`
	// VerifyOnly marks a --verify report; Differences counts its tables
	// that differ.
	VerifyOnly  bool `json:"verify_only,omitempty"`
	Differences int  `json:"differences,omitempty"`
	// AlreadyMigrated is set when every target already held a complete,
	// verified copy: nothing was written.
	AlreadyMigrated bool `json:"already_migrated,omitempty"`
	// CommitRecovered is set when the connection was lost during COMMIT
	// and a new connection found the data committed and verified.
	CommitRecovered bool `json:"commit_recovered,omitempty"`
	// Notes are facts worth knowing that changed nothing, such as a
	// missing instrumentation file under --data all.
	Notes []string `json:"notes,omitempty"`
}

// DatabaseReport is one target database.
type DatabaseReport struct {
	Target   string        `json:"target,omitempty"`
	Schema   string        `json:"schema,omitempty"`
	Sources  []Source      `json:"sources"`
	Tables   []TableReport `json:"tables"`
	Warnings []string      `json:"warnings"`
	// ExistingSchema is true when the data was loaded into tables that
	// already existed, empty (the schema Connect created itself).
	ExistingSchema bool `json:"existing_schema,omitempty"`
	// Dropped lists the tables --drop-all dropped before copying.
	Dropped []DroppedTable `json:"dropped,omitempty"`
	Plan    *Plan          `json:"-"`
	PlanSQL string         `json:"plan_sql,omitempty"` // dry run only
	// Phases holds the seconds spent in each step: copy, verify,
	// constraints (keys, indexes, foreign keys, identities), commit, analyze.
	Phases map[string]float64 `json:"phases,omitempty"`
}

// TableReport is one copied (or, in a dry run, scanned) table.
type TableReport struct {
	Source            string  `json:"data"`
	Table             string  `json:"table"`
	Rows              int64   `json:"rows"`
	Bytes             int64   `json:"bytes"`
	Seconds           float64 `json:"seconds"`
	Checksum          string  `json:"checksum,omitempty"`
	Verified          bool    `json:"verified"`
	NULStripped       int64   `json:"nul_stripped,omitempty"`
	TimestampsRounded int64   `json:"timestamps_rounded_to_microseconds,omitempty"`
	// Verify only: PostgreSQL's side, and what differs ("" when equal).
	PostgresRows     *int64 `json:"postgres_rows,omitempty"`
	PostgresChecksum string `json:"postgres_checksum,omitempty"`
	Difference       string `json:"difference,omitempty"`
}

// Problem is a value the dry run found that would stop the migration.
type Problem struct {
	Source string `json:"data"`
	Table  string `json:"table"`
	Row    string `json:"row"`
	Column string `json:"column"`
	Reason string `json:"reason"`
}

// openSource is a SQLite database held in one read transaction.
type openSource struct {
	Source
	db     *sqlitesrc.DB
	snap   *sqlitesrc.Snapshot
	schema *sqlitesrc.Schema
}

func (o *openSource) close() {
	if o.snap != nil {
		_ = o.snap.Close()
	}
	if o.db != nil {
		_ = o.db.Close()
	}
}

// openJob opens the sources of a job and plans its schema.
// With count, every table's rows are counted (for the dry run and the
// progress bars).
func openJob(ctx context.Context, job Job, count bool) ([]*openSource, *Plan, error) {
	var srcs []*openSource
	fail := func(err error) ([]*openSource, *Plan, error) {
		for _, s := range srcs {
			s.close()
		}
		return nil, nil, err
	}
	var plans []SourcePlan
	var schemas []*sqlitesrc.Schema
	for _, s := range job.Sources {
		o := &openSource{Source: s}
		var err error
		if o.db, err = sqlitesrc.Open(ctx, s.Path); err != nil {
			return fail(fmt.Errorf("%s SQLite database: %w", s.Label, err))
		}
		srcs = append(srcs, o)
		if o.snap, err = o.db.Begin(ctx); err != nil {
			return fail(err)
		}
		if o.schema, err = o.snap.Schema(ctx); err != nil {
			return fail(err)
		}
		if len(o.schema.Tables) == 0 {
			return fail(noTables(s, o))
		}
		plans = append(plans, SourcePlan{Label: s.Label, Path: o.db.Path, Skipped: o.schema.Skipped})
		schemas = append(schemas, o.schema)
	}
	plan, err := BuildPlan(plans, schemas)
	if err != nil {
		return fail(err)
	}
	for _, t := range plan.Tables {
		if !count {
			break
		}
		o := sourceOf(srcs, t.Source)
		if t.Rows, err = o.snap.Count(ctx, t.Table.Name); err != nil {
			return fail(err)
		}
	}
	return srcs, plan, nil
}

// Rows is the number of rows the plan's tables held when they were counted.
func (p *Plan) Rows() int64 {
	var n int64
	for _, t := range p.Tables {
		n += t.Rows
	}
	return n
}

func sourceOf(srcs []*openSource, label string) *openSource {
	for _, s := range srcs {
		if s.Label == label {
			return s
		}
	}
	return nil
}

// rowIdentity renders a row's identity for error messages.
func rowIdentity(t *sqlitesrc.Table, id []driver.Value) string {
	if !t.WithoutRowID {
		if a := t.RowIDAlias(); a != "" {
			return fmt.Sprintf("%s %v", a, id[0])
		}
		return fmt.Sprintf("rowid %v", id[0])
	}
	s := ""
	for i, c := range t.PrimaryKey {
		if i > 0 {
			s += ", "
		}
		v := id[i]
		if b, ok := v.([]byte); ok {
			v = fmt.Sprintf("x'%x'", b)
		}
		s += fmt.Sprintf("%s=%v", c, v)
	}
	return s
}

// tableSource streams one SQLite table into COPY, converting and hashing
// every row on the way. It implements pgx.CopyFromSource.
type tableSource struct {
	ctx     context.Context
	label   string
	plan    *TablePlan
	rows    *sqlitesrc.Rows
	conv    []converter
	out     []any
	hasher  rowHasher
	sum     Checksum
	stats   convStats
	bar     ProgressBar
	pending int
	id      []driver.Value // the identity of the current row
	err     error
	// collect, when set, records problems instead of stopping (dry run).
	collect func(*BadValueError) bool
}

func newTableSource(ctx context.Context, snap *sqlitesrc.Snapshot, t *TablePlan, stripNUL bool) (*tableSource, error) {
	rows, err := snap.Rows(ctx, t.Table)
	if err != nil {
		return nil, err
	}
	s := &tableSource{ctx: ctx, label: t.Source, plan: t, rows: rows, out: make([]any, len(t.Columns))}
	for _, c := range t.Columns {
		// SQLite lets a non-integer PRIMARY KEY of a rowid table hold NULL;
		// PostgreSQL does not.
		inPK := slices.Contains(t.Table.PrimaryKey, c.Name)
		s.conv = append(s.conv, converter{kind: c.Kind, stripNUL: stripNUL, notNull: inPK})
	}
	return s, nil
}

// Next reads and converts the next row.
func (s *tableSource) Next() bool {
	for s.rows.Next() {
		id, vals, err := s.rows.Row()
		s.id = id
		if err != nil {
			s.err = fmt.Errorf("reading %s: %w", s.plan.Table.Name, err)
			return false
		}
		s.hasher.reset()
		size, bad := 0, false
		for i := range s.conv {
			v, p := s.conv[i].convert(vals[i], &s.stats)
			if p != nil {
				e := &BadValueError{Source: s.label, Table: s.plan.Table.Name, Row: rowIdentity(s.plan.Table, id), Column: s.plan.Columns[i].Name, Reason: p.reason, Fix: p.fix}
				if s.collect == nil {
					s.err = e
					return false
				}
				if !s.collect(e) {
					return false
				}
				bad = true
				continue
			}
			s.out[i] = v
			size += valueSize(v)
			if err := s.hasher.add(v); err != nil {
				s.err = err
				return false
			}
		}
		if s.bar != nil {
			if s.pending++; s.pending == 1024 {
				s.bar.Add(s.pending)
				s.pending = 0
			}
		}
		if bad {
			continue
		}
		s.sum.addRow(&s.hasher, size)
		return true
	}
	return false
}

// Values returns the current row for COPY.
func (s *tableSource) Values() ([]any, error) {
	for i, c := range s.plan.Columns {
		if c.Kind == KindNumeric && s.out[i] != nil {
			var n pgtype.Numeric
			if err := n.Scan(s.out[i].(string)); err != nil {
				return nil, fmt.Errorf("table %s column %s: %w", s.plan.Table.Name, c.Name, err)
			}
			s.out[i] = n
		}
	}
	return s.out, nil
}

// Err is the error that stopped the stream.
func (s *tableSource) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}

func (s *tableSource) close() {
	_ = s.rows.Close()
	if s.bar != nil {
		s.bar.Add(s.pending)
		s.pending = 0
	}
}

// VerifyError reports a table whose PostgreSQL copy differs from SQLite.
type VerifyError struct {
	Table        string
	SQLite, Post Checksum
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("verification failed for table %s: SQLite has %d rows (checksum %s), PostgreSQL %d rows (checksum %s); the transaction was rolled back", e.Table, e.SQLite.Rows, e.SQLite, e.Post.Rows, e.Post)
}

// queryer is what reading a table back needs: a transaction or a
// connection.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pgChecksum re-reads a table inside the migration transaction and hashes
// it the same way as the SQLite rows.
func pgChecksum(ctx context.Context, q queryer, t *TablePlan) (Checksum, error) {
	var sum Checksum
	err := pgRows(ctx, q, t, nil, func(h *rowHasher, size int, _ []byte) error {
		sum.addRow(h, size)
		return nil
	})
	return sum, err
}

// pgRows reads every row of t from PostgreSQL and calls fn with the row's
// canonical encoding (as rowHasher.add builds it from the SQLite values),
// its size and, when keyCols is given, the canonical encoding of those
// columns alone.
func pgRows(ctx context.Context, q queryer, t *TablePlan, keyCols []int, fn func(h *rowHasher, size int, key []byte) error) error {
	var cols string
	for i, c := range t.Columns {
		if i > 0 {
			cols += ", "
		}
		cols += quoteIdent(c.Name)
		if c.Kind == KindNumeric || c.Kind == KindJSON || c.Kind == KindJSONB {
			cols += "::text"
		}
	}
	rows, err := q.Query(ctx, "SELECT "+cols+" FROM "+t.QName)
	if err != nil {
		return fmt.Errorf("re-reading %s for verification: %w", t.Table.Name, err)
	}
	defer rows.Close()
	var h, kh rowHasher
	raw := true
	for i, fd := range rows.FieldDescriptions() {
		k := t.Columns[i].Kind
		if fd.Format != pgx.BinaryFormatCode && k != KindText && k != KindNumeric && k != KindJSON && k != KindJSONB {
			raw = false
		}
	}
	for rows.Next() {
		h.reset()
		kh.reset()
		size := 0
		if raw {
			// Hash the binary wire values directly: no decoding, no
			// allocation (see rowHasher.addWire).
			vals := rows.RawValues()
			for i, b := range vals {
				n, err := h.addWire(t.Columns[i].Kind, b)
				if err != nil {
					return fmt.Errorf("verifying %s.%s: %w", t.Table.Name, t.Columns[i].Name, err)
				}
				size += n
			}
			for _, i := range keyCols {
				if _, err := kh.addWire(t.Columns[i].Kind, vals[i]); err != nil {
					return err
				}
			}
		} else {
			vals, err := rows.Values()
			if err != nil {
				return err
			}
			for _, v := range vals {
				if err := h.add(v); err != nil {
					return err
				}
				size += valueSize(v)
			}
			for _, i := range keyCols {
				if err := kh.add(vals[i]); err != nil {
					return err
				}
			}
		}
		if err := fn(&h, size, kh.buf); err != nil {
			return err
		}
	}
	return rows.Err()
}

// errUnreachable marks connection failures for the exit code.
func errUnreachable(err error) error { return cmdutil.Unreachable(err) }

// cleanupCtx is a short context for rollback and unlock that survives the
// cancellation of the run's context.
func cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// IsBadData reports whether err is a bad-value error.
func IsBadData(err error) bool {
	var b *BadValueError
	return errors.As(err, &b)
}

// noTables is the error for a SQLite file without a table to copy: an
// empty database (such as a mistyped '.backup' path creates) must never
// "migrate" into an empty target.
func noTables(s Source, o *openSource) error {
	found := "no tables at all"
	if n := len(o.schema.Skipped); n > 0 {
		var names []string
		for _, sk := range o.schema.Skipped {
			names = append(names, sk.Name)
		}
		found = fmt.Sprintf("only %d virtual or shadow tables (%s)", n, strings.Join(names, ", "))
	}
	return &sqlitesrc.InputError{Path: o.db.Path, Reason: fmt.Sprintf("holds %s, not Connect's %s tables; check the path (the SQLite file Connect uses is %s in SQLite.Dir).", found, s.Label, defaultFile(s.Label))}
}

func defaultFile(label string) string {
	if label == "instrumentation" {
		return "instrumentation.db"
	}
	return "connect.db"
}
