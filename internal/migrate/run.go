package migrate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/connectdb/connectdb/internal/locks"
	"github.com/connectdb/connectdb/internal/sqlitesrc"
)

// maxProblems bounds the problems a dry run lists.
const maxProblems = 100

// DryRun plans every job and scans every row for values that would not
// convert, without connecting to PostgreSQL.
func DryRun(ctx context.Context, jobs []Job, opts Options) (*Report, error) {
	start := time.Now()
	rep := &Report{DryRun: true}
	for _, job := range jobs {
		srcs, plan, err := openJob(ctx, job, true)
		if err != nil {
			return nil, err
		}
		var mismatch []string
		if job.Target != nil {
			var note string
			plan, mismatch, note = dryRunTarget(ctx, job, srcs, plan, opts)
			if note != "" {
				plan.Warnings = append(plan.Warnings, note)
			}
		}
		for _, m := range mismatch {
			if len(rep.Problems) < maxProblems {
				rep.Problems = append(rep.Problems, Problem{Source: job.Sources[0].Label, Reason: m})
			}
		}
		var sqlText strings.Builder
		plan.Render(&sqlText)
		dr := DatabaseReport{Sources: job.Sources, Warnings: plan.Warnings, Plan: plan, PlanSQL: sqlText.String()}
		if opts.Progress != nil {
			opts.Progress.Begin(len(plan.Tables), plan.Rows())
		}
		if job.Target != nil {
			dr.Target, dr.Schema = job.Target.Redacted, job.Target.Schema
		}
		err = func() error {
			defer func() {
				for _, s := range srcs {
					s.close()
				}
			}()
			for _, s := range srcs {
				v, err := s.snap.ForeignKeyViolations(ctx, maxProblems)
				if err != nil {
					return err
				}
				for _, fk := range v {
					if len(rep.Problems) < maxProblems {
						rep.Problems = append(rep.Problems, fkProblem(s.Label, s.schema, fk))
					}
				}
			}
			for i, t := range plan.Tables {
				tstart := time.Now()
				src, err := newTableSource(ctx, sourceOf(srcs, t.Source).snap, t, opts.StripNUL)
				if err != nil {
					return err
				}
				if opts.Progress != nil {
					src.bar = opts.Progress.Table(t.Source, t.Table.Name, i+1, len(plan.Tables), t.Rows)
				}
				src.collect = func(e *BadValueError) bool {
					if len(rep.Problems) < maxProblems {
						rep.Problems = append(rep.Problems, Problem{Source: e.Source, Table: e.Table, Row: e.Row, Column: e.Column, Reason: e.Reason})
					}
					return true
				}
				for src.Next() {
				}
				src.close()
				if src.bar != nil {
					src.bar.Done()
				}
				if err := src.Err(); err != nil {
					return err
				}
				tr := TableReport{Source: t.Source, Table: t.Table.Name, Rows: t.Rows, Bytes: src.sum.Bytes,
					Seconds: time.Since(tstart).Seconds(), Checksum: src.sum.String(),
					NULStripped: src.stats.NULStripped, TimestampsRounded: src.stats.TimestampsRounded}
				dr.Tables = append(dr.Tables, tr)
				rep.Rows += t.Rows
				rep.Bytes += tr.Bytes
			}
			return nil
		}()
		if err != nil {
			return nil, err
		}
		rep.Databases = append(rep.Databases, dr)
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func fkProblem(label string, s *sqlitesrc.Schema, v sqlitesrc.FKViolation) Problem {
	p := Problem{Source: label, Table: v.Table, Row: fmt.Sprintf("rowid %d", v.RowID), Reason: fmt.Sprintf("the foreign key to %s points at no row of %s", v.Parent, v.Parent)}
	if t := s.Table(v.Table); t != nil {
		if a := t.RowIDAlias(); a != "" {
			p.Row = fmt.Sprintf("%s %d", a, v.RowID)
		}
		for _, fk := range t.ForeignKeys {
			if fk.ID == v.FKID {
				p.Column = strings.Join(fk.From, ", ")
			}
		}
	}
	return p
}

// TablesExistError reports target tables that are already there.
type TablesExistError struct {
	Database string
	Schema   string
	Tables   []string
	// Difference, when every table exists, is the first one that differs
	// from SQLite.
	Difference string
}

func (e *TablesExistError) Error() string {
	names := e.Tables
	more := ""
	if len(names) > 5 {
		names, more = names[:5], fmt.Sprintf(" and %d more", len(e.Tables)-5)
	}
	if e.Difference != "" {
		return fmt.Sprintf("database %s already has every table to create in schema %s, but they differ from SQLite (%s); check what wrote them, or rerun with --drop-all to replace them", e.Database, e.Schema, e.Difference)
	}
	return fmt.Sprintf("database %s already has %d of the tables to create in schema %s (%s%s); it was probably migrated already: check it, or rerun with --drop-all to replace them", e.Database, len(e.Tables), e.Schema, strings.Join(names, ", "), more)
}

// running is a job whose transaction is open and verified.
type running struct {
	// already: the target held a complete, verified copy; nothing to do.
	already bool
	// lostCommit: COMMIT's answer was lost, and a new connection found
	// the transaction committed and verified.
	lostCommit bool
	job        Job
	conn       *pgx.Conn
	tx         pgx.Tx
	locked     bool
	plan       *Plan
	srcs       []*openSource
	report     DatabaseReport
}

func (r *running) cleanup(ctx context.Context, key locks.Key) {
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	if r.tx != nil {
		_ = r.tx.Rollback(cctx)
	}
	if r.conn != nil {
		if r.locked && !r.conn.IsClosed() {
			_ = releaseLock(cctx, r.conn, key)
		}
		_ = r.conn.Close(cctx)
	}
	for _, s := range r.srcs {
		s.close()
	}
}

// Run copies every job. Each job's transaction is verified before any is
// committed; then they are committed one after the other. On any error,
// every open transaction is rolled back and every lock released.
func Run(ctx context.Context, jobs []Job, opts Options) (rep *Report, err error) {
	start := time.Now()
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	rep = &Report{LockID: opts.LockKey.String()}
	var runs []*running
	ambiguous := false // a COMMIT lost its answer: say only what was found
	var lockedDBs []string
	defer func() {
		for _, r := range runs {
			r.cleanup(ctx, opts.LockKey)
		}
		if err != nil && ctx.Err() != nil && !ambiguous {
			err = fmt.Errorf("interrupted: the migration was rolled back and nothing was committed; run it again when ready (%w)", ctx.Err())
		}
	}()
	for _, job := range jobs {
		r := &running{job: job}
		runs = append(runs, r)
		dbKey := fmt.Sprintf("%s:%d/%s", job.Target.Host, job.Target.Port, job.Target.Database)
		if err := prepare(ctx, r, opts, slices.Contains(lockedDBs, dbKey)); err != nil {
			if r.tx != nil && !IsBadData(err) && ctx.Err() == nil {
				err = fmt.Errorf("%w; nothing was committed and a re-run needs no clean-up", err)
			}
			return nil, err
		}
		rep.Rows += sumRows(r.report.Tables)
		lockedDBs = append(lockedDBs, dbKey)
	}
	already := 0
	for i, r := range runs {
		if r.already {
			already++
			continue
		}
		start := time.Now()
		var xid int64
		if err := r.tx.QueryRow(ctx, "SELECT txid_current()").Scan(&xid); err != nil {
			return nil, fmt.Errorf("reading the migration's transaction id: %w", err)
		}
		if opts.beforeCommit != nil {
			opts.beforeCommit()
		}
		err := r.tx.Commit(ctx)
		r.phase("commit", start)
		if err != nil {
			// The COMMIT may have happened although its answer was lost
			// (the connection died while it waited, say for synchronous
			// replication): ask a new connection what became of it.
			r.tx = nil
			committed, rerr := resolveCommit(ctx, r, xid, opts)
			if rerr == nil && committed {
				r.lostCommit = true
				rep.CommitRecovered = true
				r.report.Warnings = append(r.report.Warnings, "the connection was lost during COMMIT ("+err.Error()+"); a new connection found the transaction committed and every table verified")
				continue
			}
			ambiguous = true
			switch {
			case rerr == nil:
				err = fmt.Errorf("%w; a new connection found the transaction rolled back: nothing of it was committed", err)
			case committed:
				err = fmt.Errorf("%w; a new connection found the transaction committed, but %w", err, rerr)
			default:
				err = fmt.Errorf("%w; whether it was committed is unknown: %w; run 'connectdb migrate --verify' to compare the target with SQLite", err, rerr)
			}
			if i > 0 {
				// Two databases cannot commit atomically together: say
				// exactly what is in place.
				var done []string
				for _, d := range runs[:i] {
					for _, s := range d.job.Sources {
						done = append(done, s.Label+" into "+d.job.Target.Redacted)
					}
				}
				return nil, fmt.Errorf("committing the migration into %s failed (%w) after %s had been committed; rerun with --data for the rest only", r.job.Target.Redacted, err, strings.Join(done, " and "))
			}
			return nil, fmt.Errorf("committing the migration into %s: %w", r.job.Target.Redacted, err)
		}
		r.tx = nil
	}
	rep.Committed = true
	rep.AlreadyMigrated = already == len(runs)
	for _, r := range runs {
		start := time.Now()
		switch {
		case r.already:
		case r.lostCommit:
			r.report.Warnings = append(r.report.Warnings, "ANALYZE was not run after the lost COMMIT; run ANALYZE on the copied tables")
		default:
			r.report.Warnings = append(r.report.Warnings, analyze(ctx, r, opts)...)
			r.phase("analyze", start)
		}
		for _, t := range r.report.Tables {
			rep.Bytes += t.Bytes
		}
		rep.Databases = append(rep.Databases, r.report)
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// analyze runs ANALYZE on every copied table after the commit, on the
// migration connection and on one more connection at the same time (the
// data is committed, so any session sees it). It returns warnings: a failed
// ANALYZE does not undo a committed migration.
func analyze(ctx context.Context, r *running, opts Options) []string {
	tables := slices.Clone(r.report.Tables)
	slices.SortFunc(tables, func(a, b TableReport) int { return cmp.Compare(b.Bytes, a.Bytes) })
	work := make(chan string, len(tables))
	for _, t := range tables {
		work <- quoteIdent(r.report.Schema) + "." + quoteIdent(t.Table)
	}
	close(work)
	conns := []*pgx.Conn{r.conn}
	if len(tables) > 1 {
		if extra, err := r.job.Target.Connect(ctx, opts.ConnectTimeout); err == nil {
			defer func() {
				cctx, cancel := cleanupCtx(ctx)
				defer cancel()
				_ = extra.Close(cctx)
			}()
			conns = append(conns, extra)
		}
	}
	var mu sync.Mutex
	var warnings []string
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				if _, err := c.Exec(ctx, "ANALYZE "+name); err != nil {
					mu.Lock()
					warnings = append(warnings, fmt.Sprintf("ANALYZE %s failed after the commit (%v); run ANALYZE yourself", name, err))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	slices.Sort(warnings)
	return warnings
}

func sumRows(ts []TableReport) int64 {
	var n int64
	for _, t := range ts {
		n += t.Rows
	}
	return n
}

// orphan names the first SQLite row whose foreign key points nowhere. It
// runs only once PostgreSQL has refused a foreign key, so a clean database
// does not pay for PRAGMA foreign_key_check.
func (r *running) orphan(ctx context.Context) error {
	for _, s := range r.srcs {
		v, err := s.snap.ForeignKeyViolations(ctx, 1)
		if err != nil || len(v) == 0 {
			continue
		}
		p := fkProblem(s.Label, s.schema, v[0])
		return &BadValueError{Source: s.Label, Table: p.Table, Row: p.Row, Column: p.Column, Reason: p.Reason,
			Fix: "delete or correct the orphaned row in SQLite (with Connect stopped, after a backup); 'connectdb migrate --dry-run' lists them all"}
	}
	return nil
}

// phase adds the time since start to the named phase of the report.
func (r *running) phase(name string, start time.Time) {
	if r.report.Phases == nil {
		r.report.Phases = map[string]float64{}
	}
	r.report.Phases[name] += time.Since(start).Seconds()
}

// prepare runs one job up to, not including, the commit.
//
// lockedBefore is true when an earlier job of the same run holds the
// advisory lock on the same database (core and instrumentation in two
// schemas of one database): a second session would wait for it forever.
func prepare(ctx context.Context, r *running, opts Options, lockedBefore bool) error {
	t := r.job.Target
	var err error
	r.srcs, r.plan, err = openJob(ctx, r.job, opts.Progress != nil)
	if err != nil {
		return err
	}
	r.report = DatabaseReport{Target: t.Redacted, Sources: r.job.Sources, Warnings: r.plan.Warnings, Plan: r.plan}

	if opts.Progress != nil {
		opts.Progress.Begin(len(r.plan.Tables), r.plan.Rows())
	}
	r.conn, err = t.Connect(ctx, opts.ConnectTimeout)
	if err != nil {
		return errUnreachable(err)
	}
	r.report.Warnings = append(r.report.Warnings[:len(r.report.Warnings):len(r.report.Warnings)], t.Warnings...) // connection setup, such as an ignored ~/.pgpass
	if !lockedBefore {
		if err := acquireLock(ctx, r.conn, opts.LockKey, opts.LockTimeout, t.Database, opts.Log); err != nil {
			return err
		}
		r.locked = true
	}

	var schema *string
	var canCreate *bool
	if err := r.conn.QueryRow(ctx, `SELECT current_schema(), CASE WHEN current_schema() IS NULL THEN NULL ELSE has_schema_privilege(current_schema(), 'CREATE') END`).Scan(&schema, &canCreate); err != nil {
		return fmt.Errorf("checking the target schema in %s: %w", t.Redacted, err)
	}
	if schema == nil {
		return fmt.Errorf("no schema of the search_path exists in database %s; create the schema Connect uses (options=-csearch_path=...) first", t.Database)
	}
	r.report.Schema = *schema
	if r.plan, err = r.plan.InSchema(*schema); err != nil {
		return err
	}
	r.report.Plan = r.plan
	if !*canCreate {
		return fmt.Errorf("user %s cannot create tables in schema %s of database %s; grant it CREATE on the schema (or make it the owner) and run again", t.User, *schema, t.Database)
	}
	var names []string
	for _, tp := range r.plan.Tables {
		names = append(names, tp.Table.Name)
	}
	rows, err := r.conn.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r','p','v','m','f') AND c.relname = ANY($1) ORDER BY 1`, names)
	if err != nil {
		return fmt.Errorf("listing existing tables in %s: %w", t.Redacted, err)
	}
	existing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("listing existing tables in %s: %w", t.Redacted, err)
	}
	if len(existing) > 0 && !opts.DropExisting {
		// Empty tables: the schema Connect created itself (started once
		// against the empty database, then stopped). Load into them.
		empty, err := targetEmpty(ctx, r.conn, *schema, existing)
		if err != nil {
			return err
		}
		if empty {
			if r.plan, err = planExisting(ctx, r.conn, r, *schema, existing); err != nil {
				return err
			}
			r.report.Plan, r.report.ExistingSchema = r.plan, true
			if r.tx, err = r.conn.Begin(ctx); err != nil {
				return fmt.Errorf("starting the migration transaction: %w", err)
			}
			if _, err := r.tx.Exec(ctx, "SET LOCAL maintenance_work_mem = '256MB'; SET LOCAL work_mem = '64MB'"); err != nil {
				return fmt.Errorf("setting memory for foreign-key validation: %w", err)
			}
			return loadExisting(ctx, r, opts)
		}
		e := &TablesExistError{Database: t.Database, Schema: *schema, Tables: existing}
		if len(existing) < len(r.plan.Tables) {
			return e
		}
		// Every table is there: a re-run after a migration that did
		// commit (its answer lost, say) is a success once verified.
		cp, err := adaptToTarget(ctx, r.conn, r.plan)
		if err != nil {
			return err
		}
		trs, err := compareTables(ctx, r.conn, r.srcs, cp, opts)
		if err != nil {
			return err
		}
		for _, tr := range trs {
			if !tr.Verified {
				e.Difference = tr.Table + ": " + tr.Difference
				return e
			}
		}
		r.already, r.report.Tables = true, trs
		return nil
	}

	var drop []DroppedTable
	for _, name := range existing {
		var n int64
		if err := r.conn.QueryRow(ctx, "SELECT count(*) FROM "+quoteIdent(*schema)+"."+quoteIdent(name)).Scan(&n); err != nil {
			return fmt.Errorf("counting the rows of %s before dropping it: %w", name, pgErr(err))
		}
		drop = append(drop, DroppedTable{Table: name, Rows: n})
	}
	if len(drop) > 0 && opts.ConfirmDrop != nil {
		if err := opts.ConfirmDrop(ctx, DropPlan{Database: t.Database, Host: t.Host, Schema: *schema, Tables: drop}); err != nil {
			return err
		}
	}
	r.tx, err = r.conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("starting the migration transaction: %w", err)
	}
	// Index builds and foreign-key validation run after the data; give them
	// memory for this transaction only.
	if _, err := r.tx.Exec(ctx, "SET LOCAL maintenance_work_mem = '256MB'; SET LOCAL work_mem = '64MB'"); err != nil {
		return fmt.Errorf("setting memory for index builds: %w", err)
	}
	for _, d := range drop {
		if _, err := r.tx.Exec(ctx, "DROP TABLE IF EXISTS "+quoteIdent(*schema)+"."+quoteIdent(d.Table)+" CASCADE"); err != nil {
			return fmt.Errorf("dropping the existing table %s (--drop-all): %w", d.Table, pgErr(err))
		}
	}
	r.report.Dropped = drop
	for _, tp := range r.plan.Tables {
		if _, err := r.tx.Exec(ctx, tp.Create); err != nil {
			return fmt.Errorf("creating table %s: %w", tp.Table.Name, pgErr(err))
		}
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
	for _, stmt := range r.plan.PostData() {
		if _, err := r.tx.Exec(ctx, stmt); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "23503" { // foreign_key_violation
				if bad := r.orphan(ctx); bad != nil {
					return bad
				}
			}
			return fmt.Errorf("%s: %w", stmt, pgErr(err))
		}
	}
	for _, tp := range r.plan.Tables {
		if tp.Identity == "" {
			continue
		}
		var maxID int64
		if err := r.tx.QueryRow(ctx, fmt.Sprintf("SELECT coalesce(max(%s), 0) FROM %s", quoteIdent(tp.Identity), tp.QName)).Scan(&maxID); err != nil {
			return fmt.Errorf("reading the highest id of %s: %w", tp.Table.Name, err)
		}
		next := max(maxID, tp.Table.Sequence) + 1
		if next < 1 {
			next = 1
		}
		if _, err := r.tx.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s RESTART WITH %d", tp.QName, quoteIdent(tp.Identity), next)); err != nil {
			return fmt.Errorf("restarting the identity of %s: %w", tp.Table.Name, err)
		}
	}
	return nil
}

func copyTable(ctx context.Context, r *running, tp *TablePlan, i, n int, opts Options) (TableReport, error) {
	start := time.Now()
	src, err := newTableSource(ctx, sourceOf(r.srcs, tp.Source).snap, tp, opts.StripNUL)
	if err != nil {
		return TableReport{}, err
	}
	if opts.Progress != nil {
		src.bar = opts.Progress.Table(tp.Source, tp.Table.Name, i+1, n, tp.Rows)
	}
	copied, err := copyFreeze(ctx, r.tx, tp, src)
	src.close()
	if src.bar != nil {
		src.bar.Done()
	}
	if err != nil {
		var bad *BadValueError
		if errors.As(src.err, &bad) {
			return TableReport{}, bad
		}
		return TableReport{}, fmt.Errorf("copying table %s: %w", tp.Table.Name, pgErr(err))
	}
	if copied != src.sum.Rows {
		return TableReport{}, fmt.Errorf("copying table %s: PostgreSQL received %d rows, %d were sent", tp.Table.Name, copied, src.sum.Rows)
	}
	r.phase("copy", start)
	vstart := time.Now()
	post, err := pgChecksum(ctx, r.tx, tp)
	r.phase("verify", vstart)
	if err != nil {
		return TableReport{}, err
	}
	if post != src.sum {
		return TableReport{}, &VerifyError{Table: tp.Table.Name, SQLite: src.sum, Post: post}
	}
	tp.Rows = src.sum.Rows
	return TableReport{Source: tp.Source, Table: tp.Table.Name, Rows: src.sum.Rows, Bytes: src.sum.Bytes,
		Seconds: time.Since(start).Seconds(), Checksum: src.sum.String(), Verified: true,
		NULStripped: src.stats.NULStripped, TimestampsRounded: src.stats.TimestampsRounded}, nil
}

// pgErr keeps PostgreSQL's message and detail on one line.
func pgErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Detail != "" {
		return fmt.Errorf("%w (%s)", err, pe.Detail)
	}
	return err
}

// commitWait bounds how long resolveCommit waits for a transaction that
// is still finishing its COMMIT (waiting for a synchronous standby, say).
const commitWait = 2 * time.Minute

// resolveCommit finds out, on a new connection, whether the transaction
// xid whose COMMIT lost its answer was committed; when it was, it verifies
// every table against SQLite again.
func resolveCommit(ctx context.Context, r *running, xid int64, opts Options) (bool, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitWait+opts.ConnectTimeout)
	defer cancel()
	conn, err := r.job.Target.Connect(cctx, opts.ConnectTimeout)
	if err != nil {
		return false, fmt.Errorf("no new connection could be made (%w)", err)
	}
	defer conn.Close(cctx)
	var status *string
	for {
		if err := conn.QueryRow(cctx, "SELECT txid_status($1)", xid).Scan(&status); err != nil {
			return false, fmt.Errorf("reading the status of transaction %d: %w", xid, err)
		}
		if status == nil || *status != "in progress" {
			break
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-cctx.Done():
			t.Stop()
			return false, fmt.Errorf("transaction %d was still committing after %s", xid, commitWait)
		case <-t.C:
		}
	}
	if status == nil || *status != "committed" {
		return false, nil
	}
	tx, err := conn.BeginTx(cctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return true, err
	}
	defer tx.Rollback(cctx)
	trs, err := compareTables(cctx, tx, r.srcs, r.plan, opts)
	if err != nil {
		return true, fmt.Errorf("transaction %d was committed, but verifying it failed: %w", xid, err)
	}
	for _, tr := range trs {
		if !tr.Verified {
			return true, fmt.Errorf("transaction %d was committed, but table %s differs from SQLite: %s", xid, tr.Table, tr.Difference)
		}
	}
	return true, nil
}

// dryRunTarget looks at the target of a dry run, read-only: when it holds
// Connect-created, empty tables the plan becomes the load into them (and
// mismatches are returned); when it cannot be reached the derived plan is
// kept with a note.
func dryRunTarget(ctx context.Context, job Job, srcs []*openSource, plan *Plan, opts Options) (*Plan, []string, string) {
	conn, err := job.Target.Connect(ctx, opts.ConnectTimeout)
	if err != nil {
		return plan, nil, fmt.Sprintf("the target %s could not be reached (%v): the plan assumes an empty database", job.Target.Redacted, err)
	}
	defer func() {
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	var schema *string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil || schema == nil {
		return plan, nil, "the target has no schema on its search_path: the plan assumes an empty database"
	}
	var names []string
	for _, tp := range plan.Tables {
		names = append(names, tp.Table.Name)
	}
	rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_class c WHERE c.relnamespace = $2::regnamespace AND c.relkind IN ('r','p') AND c.relname = ANY($1) ORDER BY 1`, names, quoteIdent(*schema))
	if err != nil {
		return plan, nil, fmt.Sprintf("listing the target's tables failed (%v)", err)
	}
	existing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(existing) == 0 {
		return plan, nil, ""
	}
	qp, err := plan.InSchema(*schema)
	if err != nil {
		return plan, nil, err.Error()
	}
	empty, err := targetEmpty(ctx, conn, *schema, existing)
	if err != nil || !empty {
		return plan, nil, fmt.Sprintf("the target already holds data in %d of these tables: the migration will verify them or refuse (see --drop-all)", len(existing))
	}
	r := &running{job: job, srcs: srcs, plan: qp}
	ep, err := planExisting(ctx, conn, r, *schema, existing)
	var sm *SchemaMismatchError
	if errors.As(err, &sm) {
		return plan, sm.Problems, "the target holds Connect-created tables that do not match SQLite (see the problems below)"
	}
	if err != nil {
		return plan, nil, err.Error()
	}
	return ep, nil, ""
}
