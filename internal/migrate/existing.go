package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// VersionTable is the schema-version table compared, not copied, when
// loading into a schema Connect created: it must name the same version on
// both sides. (Connect's real table name is not public; this is the
// golang-migrate convention the test fixture uses.)
const VersionTable = "schema_migrations"

// SchemaMismatchError lists why the data cannot be loaded into an
// existing schema; it is raised before anything is written.
type SchemaMismatchError struct {
	Database string
	Schema   string
	Problems []string
}

func (e *SchemaMismatchError) Error() string {
	return fmt.Sprintf("cannot load into the existing tables of schema %s in database %s: %s; nothing was written (load into the schema the same Connect version created, or use an empty database)", e.Schema, e.Database, strings.Join(e.Problems, "; "))
}

// pgTypeKinds maps the PostgreSQL types connectdb can load into to the
// kind that converts and encodes values for them.
var pgTypeKinds = map[string]Kind{
	"int8": KindBigint, "int4": KindInt4, "int2": KindInt2,
	"text": KindText, "varchar": KindText, "bpchar": KindText,
	"bytea": KindBytea, "float8": KindDouble, "numeric": KindNumeric,
	"bool": KindBoolean, "timestamptz": KindTimestamp, "timestamp": KindTimestamp,
	"date": KindDate, "json": KindJSON, "jsonb": KindJSONB,
}

type targetColumn struct {
	name, typ, typname  string
	notNull, hasDefault bool
	identity, generated string
}

// targetEmpty reports whether every existing table (the version table
// aside) is empty: a schema Connect created and nothing filled yet.
func targetEmpty(ctx context.Context, conn *pgx.Conn, schema string, existing []string) (bool, error) {
	var names []string
	for _, name := range existing {
		if name != VersionTable {
			names = append(names, name)
		}
	}
	filled, err := firstFilled(ctx, conn, func(name string) string { return quoteIdent(schema) + "." + quoteIdent(name) }, names)
	return filled == "", err
}

// firstFilled returns the first of the tables that holds a row, "" when
// none does; qname gives the name to query for each.
func firstFilled(ctx context.Context, q queryer, qname func(string) string, tables []string) (string, error) {
	for _, name := range tables {
		var filled bool
		if err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+qname(name)+")").Scan(&filled); err != nil {
			return "", fmt.Errorf("looking into %s: %w", name, pgErr(err))
		}
		if filled {
			return name, nil
		}
	}
	return "", nil
}

// planExisting maps the plan onto the existing tables: columns by name,
// each value converted to the target column's type. Every mismatch is
// collected and returned before anything is written.
func planExisting(ctx context.Context, conn *pgx.Conn, r *running, schema string, existing []string) (*Plan, error) {
	p := *r.plan
	p.Tables = nil
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	for _, tp := range r.plan.Tables {
		if !containsFold(existing, tp.Table.Name) {
			bad("table %s is in SQLite but not in PostgreSQL", tp.Table.Name)
			continue
		}
		if tp.Table.Name == VersionTable {
			if msg, err := compareVersions(ctx, conn, r, tp); err != nil {
				return nil, err
			} else if msg != "" {
				bad("%s", msg)
			}
			if n, err := countRows(ctx, conn, tp.QName); err != nil {
				return nil, err
			} else if n > 0 {
				continue // the versions match: keep the target's
			}
		}
		cols, err := targetColumns(ctx, conn, tp.QName)
		if err != nil {
			return nil, err
		}
		nt := *tp
		nt.Existing = true
		nt.Columns = nil
		nt.Create, nt.Keys, nt.Indexes, nt.FKs = "", nil, nil, nil
		nt.Identity = ""
		used := map[string]bool{}
		for _, c := range tp.Columns {
			tc := findColumn(cols, c.Name)
			if tc == nil {
				bad("column %s.%s is in SQLite but not in PostgreSQL", tp.Table.Name, c.Name)
				continue
			}
			used[tc.name] = true
			k, ok := pgTypeKinds[tc.typname]
			if !ok {
				bad("column %s.%s has type %s, which connectdb cannot load into", tp.Table.Name, c.Name, tc.typ)
				continue
			}
			if tc.generated != "" {
				bad("column %s.%s is generated in PostgreSQL", tp.Table.Name, c.Name)
				continue
			}
			nt.Columns = append(nt.Columns, ColumnPlan{Name: tc.name, Decl: c.Decl, Kind: k, NotNull: tc.notNull, Identity: tc.identity != ""})
		}
		for _, tc := range cols {
			if used[tc.name] || tc.generated != "" {
				continue
			}
			if tc.notNull && !tc.hasDefault && tc.identity == "" {
				bad("column %s.%s is NOT NULL in PostgreSQL without a default and has no SQLite column", tp.Table.Name, tc.name)
			} else {
				bad("column %s.%s is in PostgreSQL but not in SQLite", tp.Table.Name, tc.name)
			}
		}
		p.Tables = append(p.Tables, &nt)
	}
	if len(problems) > 0 {
		return nil, &SchemaMismatchError{Database: r.job.Target.Database, Schema: schema, Problems: problems}
	}
	return &p, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func findColumn(cols []targetColumn, name string) *targetColumn {
	for i := range cols {
		if cols[i].name == name {
			return &cols[i]
		}
	}
	for i := range cols {
		if strings.EqualFold(cols[i].name, name) {
			return &cols[i]
		}
	}
	return nil
}

// adaptToTarget returns the plan with each column's kind taken from the
// type its existing PostgreSQL table really has, so that comparing (for
// --verify or a re-run) works the same after a load into a Connect-created
// schema as after a derived one. Missing tables and columns are left as
// planned: the comparison reports them.
func adaptToTarget(ctx context.Context, q queryer, plan *Plan) (*Plan, error) {
	p := *plan
	p.Tables = make([]*TablePlan, len(plan.Tables))
	for i, tp := range plan.Tables {
		nt := *tp
		p.Tables[i] = &nt
		var exists bool
		if err := q.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", tp.QName).Scan(&exists); err != nil {
			return nil, fmt.Errorf("looking for table %s: %w", tp.Table.Name, err)
		}
		if !exists {
			continue
		}
		cols, err := targetColumns(ctx, q, tp.QName)
		if err != nil {
			return nil, err
		}
		nt.Columns = slices.Clone(tp.Columns)
		for j, c := range nt.Columns {
			if tc := findColumn(cols, c.Name); tc != nil {
				if k, ok := pgTypeKinds[tc.typname]; ok {
					nt.Columns[j].Kind = k
				}
			}
		}
	}
	return &p, nil
}

func targetColumns(ctx context.Context, conn queryer, qname string) ([]targetColumn, error) {
	rows, err := conn.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname, a.attnotnull, a.atthasdef,
		a.attidentity::text, a.attgenerated::text
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, qname)
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", qname, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (targetColumn, error) {
		var c targetColumn
		err := row.Scan(&c.name, &c.typ, &c.typname, &c.notNull, &c.hasDefault, &c.identity, &c.generated)
		return c, err
	})
}

func countRows(ctx context.Context, conn *pgx.Conn, qname string) (int64, error) {
	var n int64
	err := conn.QueryRow(ctx, "SELECT count(*) FROM "+qname).Scan(&n)
	return n, err
}

// compareVersions compares the newest schema version in SQLite's and in
// PostgreSQL's version table; a difference means another Connect version
// created the PostgreSQL schema.
func compareVersions(ctx context.Context, conn *pgx.Conn, r *running, tp *TablePlan) (string, error) {
	snap := sourceOf(r.srcs, tp.Source).snap
	lite, err := snap.MaxText(ctx, tp.Table.Name, "version")
	if err != nil {
		return "", err
	}
	var pg *string
	if err := conn.QueryRow(ctx, "SELECT max(version)::text FROM "+tp.QName).Scan(&pg); err != nil {
		return "", fmt.Errorf("reading the schema version in PostgreSQL: %w", pgErr(err))
	}
	if pg == nil || lite == "" || *pg == lite {
		return "", nil
	}
	return fmt.Sprintf("the schema version differs: SQLite's %s is at %s, PostgreSQL's at %s (a different Connect version created the PostgreSQL schema; start and stop the Connect version that wrote the SQLite file against an empty database)", VersionTable, lite, *pg), nil
}

// loadExisting copies every table of plan into the existing tables,
// inside r.tx: the tables are locked and found empty again, the foreign
// keys touching them are dropped and their keys and indexes set aside
// (setIndexesAside), the tables are truncated so that COPY may FREEZE,
// each table is copied and verified, then keys, indexes and foreign keys
// are built again under their own names (so the order of tables and of
// rows does not matter), and identity and serial sequences are restarted
// past the copied ids (transactionally). A failure anywhere rolls all of
// it back.
func loadExisting(ctx context.Context, r *running, opts Options) error {
	var names []string
	for _, tp := range r.plan.Tables {
		names = append(names, tp.QName)
	}
	// The tables were empty when planned; lock them and look again, in
	// this transaction, before anything changes: a row that arrived since
	// (a Connect still running) must never be truncated away.
	if _, err := r.tx.Exec(ctx, "LOCK TABLE "+strings.Join(names, ", ")+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return fmt.Errorf("locking the target tables for the load: %w", pgErr(err))
	}
	qnames := map[string]string{}
	var tables []string
	for _, tp := range r.plan.Tables {
		qnames[tp.Table.Name] = tp.QName
		tables = append(tables, tp.Table.Name)
	}
	filled, err := firstFilled(ctx, r.tx, func(name string) string { return qnames[name] }, tables)
	if err != nil {
		return err
	}
	if filled != "" {
		return fmt.Errorf("table %s gained rows after the migration checked it was empty: is Connect running against this database? Stop every Connect node and run the migration again", filled)
	}
	type fk struct{ table, name, def string }
	rows, err := r.tx.Query(ctx, `SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
		WHERE contype = 'f' AND (conrelid = ANY($1::regclass[]) OR confrelid = ANY($1::regclass[])) ORDER BY 1, 2`, names)
	if err != nil {
		return fmt.Errorf("reading the foreign keys: %w", err)
	}
	fks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (fk, error) {
		var f fk
		err := row.Scan(&f.table, &f.name, &f.def)
		return f, err
	})
	if err != nil {
		return fmt.Errorf("reading the foreign keys: %w", err)
	}
	for _, f := range fks {
		if _, err := r.tx.Exec(ctx, "ALTER TABLE "+f.table+" DROP CONSTRAINT "+quoteIdent(f.name)); err != nil {
			return fmt.Errorf("setting foreign key %s aside for the load: %w", f.name, pgErr(err))
		}
	}
	rebuild, err := setIndexesAside(ctx, r.tx, names)
	if err != nil {
		return err
	}
	// Emptied in this transaction (they hold no rows: checked above under
	// the lock), the tables take COPY … FREEZE like new ones.
	if _, err := r.tx.Exec(ctx, "TRUNCATE "+strings.Join(names, ", ")); err != nil {
		return fmt.Errorf("preparing the empty target tables for COPY FREEZE: %w", pgErr(err))
	}
	for _, tp := range r.plan.Tables {
		tp.Truncated = true
	}
	for i, tp := range r.plan.Tables {
		tr, err := copyTable(ctx, r, tp, i, len(r.plan.Tables), opts)
		if err != nil {
			return err
		}
		r.report.Tables = append(r.report.Tables, tr)
	}
	cstart := time.Now()
	defer r.phase("constraints", cstart)
	for _, stmt := range rebuild {
		if _, err := r.tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("restoring the target's keys and indexes (%s): %w", stmt, pgErr(err))
		}
	}
	for _, f := range fks {
		if _, err := r.tx.Exec(ctx, "ALTER TABLE "+f.table+" ADD CONSTRAINT "+quoteIdent(f.name)+" "+f.def); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "23503" {
				if bad := r.orphan(ctx); bad != nil {
					return bad
				}
			}
			return fmt.Errorf("restoring foreign key %s on %s: %w", f.name, f.table, pgErr(err))
		}
	}
	for _, tp := range r.plan.Tables {
		for _, c := range tp.Columns {
			var seq *string
			if err := r.tx.QueryRow(ctx, "SELECT pg_get_serial_sequence($1, $2)", tp.QName, c.Name).Scan(&seq); err != nil {
				return fmt.Errorf("looking for the sequence of %s.%s: %w", tp.Table.Name, c.Name, err)
			}
			if seq == nil {
				continue
			}
			var maxID *int64
			if err := r.tx.QueryRow(ctx, fmt.Sprintf("SELECT max(%s)::bigint FROM %s", quoteIdent(c.Name), tp.QName)).Scan(&maxID); err != nil {
				return fmt.Errorf("reading the highest id of %s: %w", tp.Table.Name, err)
			}
			last := tp.Table.Sequence
			if maxID != nil {
				last = max(last, *maxID)
			}
			if last < 1 {
				continue
			}
			// ALTER SEQUENCE … RESTART is transactional (a new relfilenode);
			// setval() is not and would survive a rollback.
			if _, err := r.tx.Exec(ctx, fmt.Sprintf("ALTER SEQUENCE %s RESTART WITH %d", *seq, last+1)); err != nil {
				return fmt.Errorf("moving the sequence of %s.%s past the copied ids: %w", tp.Table.Name, c.Name, pgErr(err))
			}
		}
	}
	return nil
}

// setIndexesAside drops the primary keys, unique and exclusion constraints
// and indexes of tables for the load, inside tx, and returns the
// statements that build them again, keys first, under their own names: a
// COPY into indexed tables updates every index row by row, while one build
// afterwards sorts once (what pg_restore does too). Indexes whose loss a
// rebuild could not restore exactly (a comment, a tablespace, CLUSTER or
// REPLICA IDENTITY, a partition tree) stay in place. When something else
// depends on them, everything stays in place and the load is only slower.
func setIndexesAside(ctx context.Context, tx pgx.Tx, tables []string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),
		coalesce(c.conname, ''), coalesce(pg_get_constraintdef(c.oid), '')
		FROM pg_index i
		JOIN pg_class ic ON ic.oid = i.indexrelid
		JOIN pg_class tc ON tc.oid = i.indrelid
		LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')
		WHERE i.indrelid = ANY($1::regclass[]) AND tc.relkind = 'r' AND NOT tc.relispartition AND NOT ic.relispartition
		  AND i.indisvalid AND NOT i.indisclustered AND NOT i.indisreplident AND ic.reltablespace = 0
		  AND NOT EXISTS (SELECT 1 FROM pg_description d WHERE d.objoid = i.indexrelid OR d.objoid = c.oid)
		ORDER BY c.conname IS NULL, 1, 2`, tables)
	if err != nil {
		return nil, fmt.Errorf("reading the target's indexes: %w", err)
	}
	type index struct{ table, name, def, con, condef string }
	ixs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (index, error) {
		var x index
		err := row.Scan(&x.table, &x.name, &x.def, &x.con, &x.condef)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the target's indexes: %w", err)
	}
	if len(ixs) == 0 {
		return nil, nil
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT connectdb_indexes"); err != nil {
		return nil, fmt.Errorf("setting the target's indexes aside: %w", pgErr(err))
	}
	var rebuild []string
	for _, x := range ixs {
		drop, build := "DROP INDEX "+x.name, x.def
		if x.con != "" {
			drop = "ALTER TABLE " + x.table + " DROP CONSTRAINT " + quoteIdent(x.con)
			build = "ALTER TABLE " + x.table + " ADD CONSTRAINT " + quoteIdent(x.con) + " " + x.condef
		}
		if _, err := tx.Exec(ctx, drop); err != nil {
			// Something depends on it: keep every index and load into them.
			if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT connectdb_indexes"); rerr != nil {
				return nil, fmt.Errorf("keeping the target's indexes after %s failed (%w): %w", drop, pgErr(err), rerr)
			}
			return nil, nil
		}
		rebuild = append(rebuild, build)
	}
	if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT connectdb_indexes"); err != nil {
		return nil, fmt.Errorf("setting the target's indexes aside: %w", pgErr(err))
	}
	return rebuild, nil
}
