package migrate

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/sqlitesrc"
)

// maxDiffRows bounds the rows held in memory to name the first row that
// differs; a larger table is reported by its counts and checksums only.
const maxDiffRows = 2_000_000

// Verify compares each job's PostgreSQL target with its SQLite sources,
// read-only: it takes no advisory lock (a running Connect is not stopped)
// and reads in one READ ONLY, REPEATABLE READ transaction per database.
// Tables that differ are listed in the report with the first differing
// row; rep.Differences counts them.
func Verify(ctx context.Context, jobs []Job, opts Options) (*Report, error) {
	start := time.Now()
	rep := &Report{VerifyOnly: true}
	for _, job := range jobs {
		dr, err := verifyJob(ctx, job, opts)
		if err != nil {
			return nil, err
		}
		for _, t := range dr.Tables {
			rep.Rows += t.Rows
			rep.Bytes += t.Bytes
			if !t.Verified {
				rep.Differences++
			}
		}
		rep.Databases = append(rep.Databases, dr)
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func verifyJob(ctx context.Context, job Job, opts Options) (DatabaseReport, error) {
	srcs, plan, err := openJob(ctx, job, false)
	if err != nil {
		return DatabaseReport{}, err
	}
	defer func() {
		for _, s := range srcs {
			s.close()
		}
	}()
	conn, err := job.Target.Connect(ctx, opts.ConnectTimeout)
	if err != nil {
		return DatabaseReport{}, errUnreachable(err)
	}
	defer func() {
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	dr := DatabaseReport{Target: job.Target.Redacted, Sources: job.Sources, Warnings: plan.Warnings}
	var schema *string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return dr, fmt.Errorf("reading the target schema in %s: %w", job.Target.Redacted, err)
	}
	if schema == nil {
		return dr, fmt.Errorf("no schema of the search_path exists in database %s; check options=-csearch_path= in the URL", job.Target.Database)
	}
	dr.Schema = *schema
	if plan, err = plan.InSchema(*schema); err != nil {
		return dr, err
	}
	dr.Plan = plan
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return dr, fmt.Errorf("starting a read-only transaction in %s: %w", job.Target.Redacted, err)
	}
	defer func() {
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		_ = tx.Rollback(cctx)
	}()
	if plan, err = adaptToTarget(ctx, tx, plan); err != nil {
		return dr, err
	}
	dr.Tables, err = compareTables(ctx, tx, srcs, plan, opts)
	return dr, err
}

// compareTables compares every table of the plan in PostgreSQL (read
// through q) with SQLite: row counts and checksums, and for a table that
// differs the first row that does.
func compareTables(ctx context.Context, q queryer, srcs []*openSource, plan *Plan, opts Options) ([]TableReport, error) {
	var out []TableReport
	for _, tp := range plan.Tables {
		start := time.Now()
		snap := sourceOf(srcs, tp.Source).snap
		src, err := newTableSource(ctx, snap, tp, opts.StripNUL)
		if err != nil {
			return nil, err
		}
		for src.Next() {
		}
		src.close()
		if err := src.Err(); err != nil {
			return nil, err
		}
		tr := TableReport{Source: tp.Source, Table: tp.Table.Name, Rows: src.sum.Rows, Bytes: src.sum.Bytes,
			Checksum: src.sum.String(), NULStripped: src.stats.NULStripped, TimestampsRounded: src.stats.TimestampsRounded}
		var exists bool
		if err := q.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", tp.QName).Scan(&exists); err != nil {
			return nil, fmt.Errorf("looking for table %s: %w", tp.Table.Name, err)
		}
		if !exists {
			tr.Difference = "the table does not exist in PostgreSQL"
			out = append(out, tr)
			continue
		}
		post, err := pgChecksum(ctx, q, tp)
		if err != nil {
			var pe interface{ SQLState() string }
			if errors.As(err, &pe) {
				return nil, err
			}
			tr.Difference = fmt.Sprintf("its PostgreSQL columns do not have the types connectdb creates (%v)", err)
			out = append(out, tr)
			continue
		}
		rows := post.Rows
		tr.PostgresRows = &rows
		tr.PostgresChecksum = post.String()
		if post == src.sum {
			tr.Verified = true
		} else {
			tr.Difference, err = firstDiff(ctx, q, snap, tp, opts.StripNUL, src.sum, post)
			if err != nil {
				return nil, err
			}
		}
		tr.Seconds = time.Since(start).Seconds()
		out = append(out, tr)
	}
	return out, nil
}

// firstDiff names the first row (in SQLite's order) that differs between
// SQLite and PostgreSQL, by primary key.
func firstDiff(ctx context.Context, q queryer, snap *sqlitesrc.Snapshot, tp *TablePlan, stripNUL bool, lite, post Checksum) (string, error) {
	counts := fmt.Sprintf("SQLite has %d rows (checksum %s), PostgreSQL %d (checksum %s)", lite.Rows, lite, post.Rows, post)
	var keyCols []int
	var keyNames []string
	for _, k := range tp.Table.PrimaryKey {
		i := slices.IndexFunc(tp.Columns, func(c ColumnPlan) bool { return c.Name == k })
		if i < 0 {
			return counts + "; no row can be named (the primary key is not copied)", nil
		}
		keyCols, keyNames = append(keyCols, i), append(keyNames, k)
	}
	if len(keyCols) == 0 {
		return counts + "; the table has no primary key, so no row can be named", nil
	}
	if post.Rows > maxDiffRows || lite.Rows > maxDiffRows {
		return counts + fmt.Sprintf("; the table is too large (over %d rows) to name the first differing row", maxDiffRows), nil
	}
	pg := make(map[string]uint64, post.Rows)
	err := pgRows(ctx, q, tp, keyCols, func(h *rowHasher, _ int, key []byte) error {
		pg[string(key)] = h.sum()
		return nil
	})
	if err != nil {
		return "", err
	}
	src, err := newTableSource(ctx, snap, tp, stripNUL)
	if err != nil {
		return "", err
	}
	defer src.close()
	var kh rowHasher
	for src.Next() {
		kh.reset()
		for _, i := range keyCols {
			if err := kh.add(src.out[i]); err != nil {
				return "", err
			}
		}
		sum, ok := pg[string(kh.buf)]
		switch {
		case !ok:
			return fmt.Sprintf("%s; first difference: the row with %s is missing in PostgreSQL", counts, describeKey(kh.buf, keyNames)), nil
		case sum != src.hasher.sum():
			return fmt.Sprintf("%s; first difference: the row with %s has other values in PostgreSQL", counts, describeKey(kh.buf, keyNames)), nil
		}
		delete(pg, string(kh.buf))
	}
	if err := src.Err(); err != nil {
		return "", err
	}
	if len(pg) > 0 {
		keys := make([]string, 0, len(pg))
		for k := range pg {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return fmt.Sprintf("%s; first difference: the row with %s is only in PostgreSQL", counts, describeKey([]byte(keys[0]), keyNames)), nil
	}
	return counts, nil
}

// describeKey renders the canonical encoding of primary-key values (as
// rowHasher builds it) as "name=value, …".
func describeKey(b []byte, names []string) string {
	var parts []string
	for i := 0; len(b) > 0; i++ {
		name := "?"
		if i < len(names) {
			name = names[i]
		}
		var v string
		tag := b[0]
		b = b[1:]
		switch tag {
		case 'N':
			v = "NULL"
		case 'T':
			v = "true"
		case 'I', 'F', 'D':
			if len(b) < 8 {
				return strings.Join(parts, ", ")
			}
			x := binary.BigEndian.Uint64(b)
			b = b[8:]
			switch tag {
			case 'I':
				v = fmt.Sprint(int64(x))
			case 'F':
				v = fmt.Sprint(math.Float64frombits(x))
			case 'D':
				v = time.UnixMicro(int64(x)).UTC().Format(time.RFC3339Nano)
			}
		case 'S', 'B':
			if len(b) < 4 {
				return strings.Join(parts, ", ")
			}
			n := int(binary.BigEndian.Uint32(b))
			b = b[4:]
			if n > len(b) {
				n = len(b)
			}
			if tag == 'S' {
				v = fmt.Sprintf("%q", b[:n])
			} else {
				v = fmt.Sprintf("x'%x'", b[:n])
			}
			b = b[n:]
		default:
			return strings.Join(parts, ", ")
		}
		parts = append(parts, name+"="+v)
	}
	return strings.Join(parts, ", ")
}
