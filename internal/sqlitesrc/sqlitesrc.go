// Package sqlitesrc reads a SQLite database that Posit Connect uses, strictly
// read-only: it refuses a database another process has open for writing,
// reads the schema (tables, columns, keys, indexes, foreign keys) and streams
// rows exactly as SQLite stores them.
package sqlitesrc

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// ErrBadInput marks a path that is not a readable SQLite database file: a
// directory, a FIFO or device, an unreadable, empty, foreign or damaged
// file. Commands report it as a usage error (exit 2).
var ErrBadInput = errors.New("not a readable SQLite database")

// InputError says what is wrong with a SQLite path and how to fix it.
type InputError struct {
	Path   string
	Reason string // a complete sentence ending with the remedy
}

func (e *InputError) Error() string { return e.Path + " " + e.Reason }

func (e *InputError) Unwrap() error { return ErrBadInput }

// sqliteHeader starts every SQLite database file (https://sqlite.org/fileformat.html §1.3).
const sqliteHeader = "SQLite format 3\x00"

// CheckFile refuses what is not a regular, readable SQLite file without
// blocking: it never opens a FIFO or a device.
func CheckFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return &InputError{Path: path, Reason: "does not exist; check the path (or set SQLite.Dir in the Connect config)."}
		}
		return &InputError{Path: path, Reason: fmt.Sprintf("cannot be read (%v); run connectdb as a user that can read it.", errors.Unwrap(err))}
	}
	switch {
	case fi.IsDir():
		return &InputError{Path: path, Reason: "is a directory; pass the SQLite database file inside it (such as connect.db)."}
	case !fi.Mode().IsRegular():
		return &InputError{Path: path, Reason: fmt.Sprintf("is not a regular file (%s); copy the database into a regular file first (sqlite3 SRC '.backup FILE').", fileKind(fi.Mode()))}
	case fi.Size() == 0:
		return &InputError{Path: path, Reason: "is empty (0 bytes): it holds no Connect tables; check the path (a mistyped '.backup' path creates such a file)."}
	}
	f, err := os.Open(path)
	if err != nil {
		return &InputError{Path: path, Reason: fmt.Sprintf("cannot be read (%v); run connectdb as a user that can read it.", errors.Unwrap(err))}
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, head); err != nil || string(head) != sqliteHeader {
		return &InputError{Path: path, Reason: fmt.Sprintf("is not a SQLite database (%d bytes without SQLite's file header); check the path.", fi.Size())}
	}
	return nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	}
	return "not a file"
}

// corrupt reports whether err is SQLite's "database disk image is
// malformed" (SQLITE_CORRUPT) or "file is not a database" (SQLITE_NOTADB).
func corrupt(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 11, 26:
			return true
		}
	}
	return strings.Contains(err.Error(), "malformed") || strings.Contains(err.Error(), "not a database")
}

// readError wraps an error met while reading what of path: a damaged file
// is bad input that names the file and the table.
func readError(path, what string, err error) error {
	if corrupt(err) {
		return &InputError{Path: path, Reason: fmt.Sprintf("is damaged: reading %s failed (%v); restore it from a backup or rebuild it with sqlite3's '.recover', then run again.", what, err)}
	}
	return fmt.Errorf("reading %s of %s: %w", what, path, err)
}

// ErrInUse reports that another process has the database open.
var ErrInUse = errors.New("the SQLite database is in use")

// InUseError says which process holds the database and how.
type InUseError struct {
	Path   string
	PID    int // 0 or -1 when unknown
	Detail string
	// Connectdb is true when the holder is another connectdb (a migrate
	// or --verify of the same file), not Connect.
	Connectdb bool
}

// heldByConnectdb reports whether another connectdb has path open: every
// connectdb holds a shared flock(2) on the databases it reads (see Open).
// SQLite itself locks with fcntl(2) only, so Connect never holds one.
func heldByConnectdb(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	}
	return errors.Is(err, syscall.EWOULDBLOCK)
}

func (e *InUseError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = fmt.Sprintf("process %d", e.PID)
	}
	if e.Connectdb {
		return fmt.Sprintf("%s is in use: another connectdb (%s) %s; wait for that connectdb (a migrate or --verify of the same file) to finish, then run again", e.Path, who, e.Detail)
	}
	return fmt.Sprintf("%s is in use: %s %s; stop Connect first (systemctl stop rstudio-connect) and run the migration again", e.Path, who, e.Detail)
}

func (e *InUseError) Unwrap() error { return ErrInUse }

// CheckNotInUse refuses a database that another process has open or is
// writing: a lock on the database file, an open WAL connection (a lock on
// the -shm file) or a hot rollback journal. It never writes. Call it before
// opening the database in this process.
func CheckNotInUse(path string) error {
	if err := CheckFile(path); err != nil {
		return err
	}
	pid, err := lockHolder(path, pendingByte, lockRangeLen)
	if err != nil {
		return err
	}
	if pid != 0 {
		return &InUseError{Path: path, PID: pid, Detail: "has it open (it holds a SQLite lock on the file)", Connectdb: heldByConnectdb(path)}
	}
	if fi, err := os.Stat(path + "-shm"); err == nil && fi.Size() > shmDMSByte {
		pid, err := lockHolder(path+"-shm", shmDMSByte, 1)
		if err != nil {
			return err
		}
		if pid != 0 {
			return &InUseError{Path: path, PID: pid, Detail: "has it open in WAL mode", Connectdb: heldByConnectdb(path)}
		}
	}
	if fi, err := os.Stat(path + "-journal"); err == nil && fi.Size() > 0 {
		return &InUseError{Path: path, Detail: "left a rollback journal (" + path + "-journal) of an unfinished write; start and stop Connect once so SQLite recovers it"}
	}
	return nil
}

// DB is a read-only SQLite database.
type DB struct {
	Path string
	db   *sql.DB
	// mark holds a shared flock(2) on the file while it is open, so that
	// another connectdb can tell it apart from Connect.
	mark *os.File
}

// Open checks that no other process uses path and opens it read-only
// (mode=ro: SQLite itself refuses every write).
func Open(ctx context.Context, path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := CheckNotInUse(abs); err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&_pragma=busy_timeout(2000)&_pragma=query_only(1)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		db.Close()
		if corrupt(err) {
			return nil, &InputError{Path: abs, Reason: fmt.Sprintf("is not a readable SQLite database (%v); check the path, or restore the file from a backup.", err)}
		}
		return nil, fmt.Errorf("%s is not a readable SQLite database: %w", path, err)
	}
	d := &DB{Path: abs, db: db}
	if f, err := os.Open(abs); err == nil {
		if syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) == nil {
			d.mark = f
		} else {
			f.Close()
		}
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error {
	err := d.db.Close()
	if d.mark != nil {
		// Closing the descriptor would drop this process's fcntl locks on
		// the file: only after SQLite has closed its own.
		d.mark.Close()
	}
	return err
}

// Snapshot is a read transaction on one connection: every read through it
// sees the same consistent state of the database.
type Snapshot struct {
	conn *sql.Conn
	path string
}

// Begin starts a read transaction. The transaction is an explicit BEGIN on a
// dedicated connection (not a sql.Tx) so that Rows can stream through the
// driver on the same connection, inside the same transaction.
func (d *DB) Begin(ctx context.Context) (*Snapshot, error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", d.Path, err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("starting a read transaction on %s: %w", d.Path, err)
	}
	return &Snapshot{conn: conn, path: d.Path}, nil
}

// Close ends the read transaction.
func (s *Snapshot) Close() error {
	_, _ = s.conn.ExecContext(context.Background(), "ROLLBACK")
	return s.conn.Close()
}

// Schema reads the schema inside the snapshot.
func (s *Snapshot) Schema(ctx context.Context) (*Schema, error) {
	sc, err := readSchema(ctx, s.conn)
	if err != nil && corrupt(err) {
		return nil, readError(s.path, "the schema", err)
	}
	return sc, err
}

// Count returns the number of rows of table.
func (s *Snapshot) Count(ctx context.Context, table string) (int64, error) {
	var n int64
	err := s.conn.QueryRowContext(ctx, "SELECT count(*) FROM "+QuoteIdent(table)).Scan(&n)
	if err != nil {
		return 0, readError(s.path, "table "+table, err)
	}
	return n, nil
}

// MaxText returns max(column) of table as text, "" when the table is empty.
func (s *Snapshot) MaxText(ctx context.Context, table, column string) (string, error) {
	var v sql.NullString
	err := s.conn.QueryRowContext(ctx, "SELECT CAST(max("+QuoteIdent(column)+") AS TEXT) FROM "+QuoteIdent(table)).Scan(&v)
	if err != nil {
		return "", readError(s.path, "table "+table, err)
	}
	return v.String, nil
}

// Rows streams the rows of a table in storage order. Each row's values
// are exactly SQLite's: nil, int64, float64, string (TEXT, possibly invalid
// UTF-8) or []byte. The row identity (rowid, or the primary key of a
// WITHOUT ROWID table) comes first.
//
// A goroutine reads batches of rows through the driver (no database/sql
// per-row locking or copying) while the caller converts and sends the
// previous batch. Nothing else may use the snapshot until Close.
type Rows struct {
	idCols  int
	batches chan *batch
	free    chan *batch
	stop    chan struct{}
	done    chan struct{}
	stopped bool
	cur     *batch
	pos     int
	err     error
}

type batch struct {
	rows [][]driver.Value
	n    int
	err  error
}

const (
	batchRows = 256
	batches   = 4
)

// Rows starts reading t.
func (s *Snapshot) Rows(ctx context.Context, t *Table) (*Rows, error) {
	var sel []string
	idCols := 1
	if t.WithoutRowID {
		for _, c := range t.PrimaryKey {
			sel = append(sel, "+"+QuoteIdent(c))
		}
		idCols = len(t.PrimaryKey)
	} else {
		sel = append(sel, "_rowid_")
	}
	for _, c := range t.Columns {
		// Unary + keeps the value and its storage class but hides the
		// declared type, so the driver returns the stored value instead of
		// interpreting DATETIME or BOOLEAN columns.
		sel = append(sel, "+"+QuoteIdent(c.Name))
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + QuoteIdent(t.Name)
	if !t.WithoutRowID {
		q += " ORDER BY _rowid_"
	}
	r := &Rows{idCols: idCols, batches: make(chan *batch, batches), free: make(chan *batch, batches),
		stop: make(chan struct{}), done: make(chan struct{})}
	for range batches {
		b := &batch{rows: make([][]driver.Value, batchRows)}
		for i := range b.rows {
			b.rows[i] = make([]driver.Value, len(sel))
		}
		r.free <- b
	}
	go r.produce(ctx, s.conn, q, t.Name, s.path)
	return r, nil
}

func (r *Rows) produce(ctx context.Context, conn *sql.Conn, q, table, path string) {
	defer close(r.done)
	defer close(r.batches)
	err := conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return errors.New("the SQLite driver cannot run queries directly")
		}
		rows, err := qc.QueryContext(ctx, q, nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		for {
			var b *batch
			select {
			case b = <-r.free:
			case <-r.stop:
				return nil
			}
			b.n, b.err = 0, nil
			var end error
			for b.n < len(b.rows) {
				if end = rows.Next(b.rows[b.n]); end != nil {
					break
				}
				b.n++
			}
			if b.n > 0 {
				select {
				case r.batches <- b:
				case <-r.stop:
					return nil
				}
			}
			if end == io.EOF {
				return nil
			}
			if end != nil {
				return end
			}
		}
	})
	if err != nil {
		select {
		case r.batches <- &batch{err: readError(path, "table "+table, err)}:
		case <-r.stop:
		}
	}
}

// Next advances to the next row; false at the end or on error (see Err).
func (r *Rows) Next() bool {
	for {
		if r.cur != nil && r.pos < r.cur.n {
			r.pos++
			return true
		}
		if r.cur != nil {
			r.free <- r.cur
			r.cur = nil
		}
		b, ok := <-r.batches
		if !ok {
			return false
		}
		if b.err != nil {
			r.err = b.err
			return false
		}
		r.cur, r.pos = b, 0
	}
}

// Row returns the row identity values and the column values of the current
// row. The slices are reused once Next moves past the current batch; the
// values themselves (strings, byte slices) are never overwritten.
func (r *Rows) Row() (id, vals []driver.Value, err error) {
	row := r.cur.rows[r.pos-1]
	return row[:r.idCols], row[r.idCols:], nil
}

// Err returns the error that ended the iteration.
func (r *Rows) Err() error { return r.err }

// Close stops the reader and waits for it, after which the snapshot may be
// used again.
func (r *Rows) Close() error {
	if !r.stopped {
		r.stopped = true
		close(r.stop)
	}
	<-r.done
	return nil
}

// FKViolation is one row whose foreign key points at no parent row.
type FKViolation struct {
	Table  string
	RowID  int64 // 0 for WITHOUT ROWID tables
	Parent string
	FKID   int
}

// ForeignKeyViolations runs PRAGMA foreign_key_check and returns at most
// limit violations.
func (s *Snapshot) ForeignKeyViolations(ctx context.Context, limit int) ([]FKViolation, error) {
	rows, err := s.conn.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return nil, fmt.Errorf("checking foreign keys: %w", err)
	}
	defer rows.Close()
	var out []FKViolation
	for rows.Next() && len(out) < limit {
		var v FKViolation
		var rowid sql.NullInt64
		if err := rows.Scan(&v.Table, &rowid, &v.Parent, &v.FKID); err != nil {
			return nil, err
		}
		v.RowID = rowid.Int64
		out = append(out, v)
	}
	return out, rows.Err()
}

// QuoteIdent quotes a SQLite identifier.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
