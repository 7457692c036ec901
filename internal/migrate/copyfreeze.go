package migrate

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// oidOf is the PostgreSQL type OID of each kind.
func oidOf(k Kind) uint32 {
	return [...]uint32{pgtype.Int8OID, pgtype.TextOID, pgtype.ByteaOID, pgtype.Float8OID, pgtype.NumericOID,
		pgtype.BoolOID, pgtype.TimestamptzOID, pgtype.DateOID, pgtype.Int4OID, pgtype.Int2OID, pgtype.JSONOID, pgtype.JSONBOID}[k]
}

// copyFreeze streams src into table with COPY … (FORMAT binary, FREEZE).
// The table was created in this transaction, so PostgreSQL may write the
// rows already frozen: nothing has to revisit them after the commit to set
// hint bits or the visibility map. It returns the rows PostgreSQL counted.
func copyFreeze(ctx context.Context, tx pgx.Tx, t *TablePlan, src *tableSource) (int64, error) {
	cols := make([]string, len(t.Columns))
	oids := make([]uint32, len(t.Columns))
	for i, c := range t.Columns {
		cols[i], oids[i] = quoteIdent(c.Name), oidOf(c.Kind)
	}
	opt := "FORMAT binary, FREEZE"
	if t.Existing && !t.Truncated {
		opt = "FORMAT binary" // FREEZE needs a table created or truncated in this transaction
	}
	q := fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (%s)", t.QName, strings.Join(cols, ", "), opt)
	r := &copyReader{src: src, oids: oids, m: tx.Conn().TypeMap()}
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, r, q)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// copyReader produces PostgreSQL's binary COPY format from a tableSource,
// about 64 KiB at a time.
type copyReader struct {
	src    *tableSource
	oids   []uint32
	m      *pgtype.Map
	buf    []byte
	off    int
	header bool
	done   bool
}

// appendWire appends the length-prefixed binary wire form of the converted
// values whose encoding is fixed by PostgreSQL's send/recv functions; ok is
// false for anything else (numeric), which goes through pgx's encoder.
func appendWire(b []byte, k Kind, v any) ([]byte, bool) {
	if k == KindNumeric {
		return b, false
	}
	switch x := v.(type) {
	case int64:
		switch k {
		case KindInt4:
			b = binary.BigEndian.AppendUint32(b, 4)
			return binary.BigEndian.AppendUint32(b, uint32(int32(x))), true
		case KindInt2:
			b = binary.BigEndian.AppendUint32(b, 2)
			return binary.BigEndian.AppendUint16(b, uint16(int16(x))), true
		}
		b = binary.BigEndian.AppendUint32(b, 8)
		return binary.BigEndian.AppendUint64(b, uint64(x)), true
	case float64:
		b = binary.BigEndian.AppendUint32(b, 8)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(x)), true
	case bool:
		if x {
			return append(binary.BigEndian.AppendUint32(b, 1), 1), true
		}
		return append(binary.BigEndian.AppendUint32(b, 1), 0), true
	case string:
		if k == KindJSONB {
			// jsonb's binary form: a version byte, then the text.
			b = binary.BigEndian.AppendUint32(b, uint32(len(x)+1))
			return append(append(b, 1), x...), true
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
		return append(b, x...), true
	case []byte:
		b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
		return append(b, x...), true
	case time.Time:
		us := x.UnixMicro() - pgEpochMicros
		if k == KindDate {
			// date: days since 2000-01-01 (the converter yields midnight UTC).
			if us%86400_000000 != 0 {
				return b, false
			}
			b = binary.BigEndian.AppendUint32(b, 4)
			return binary.BigEndian.AppendUint32(b, uint32(int32(us/86400_000000))), true
		}
		// timestamptz: microseconds since 2000-01-01 UTC.
		b = binary.BigEndian.AppendUint32(b, 8)
		return binary.BigEndian.AppendUint64(b, uint64(us)), true
	}
	return b, false
}

var copyHeader = []byte("PGCOPY\n\377\r\n\000\000\000\000\000\000\000\000\000")

func (r *copyReader) Read(p []byte) (int, error) {
	for r.off >= len(r.buf) {
		if r.done {
			return 0, io.EOF
		}
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

func (r *copyReader) fill() error {
	r.buf, r.off = r.buf[:0], 0
	if !r.header {
		r.buf = append(r.buf, copyHeader...)
		r.header = true
	}
	for len(r.buf) < 64<<10 {
		if !r.src.Next() {
			if err := r.src.Err(); err != nil {
				return err
			}
			r.buf = append(r.buf, 0xff, 0xff) // file trailer
			r.done = true
			return nil
		}
		vals, err := r.src.Values()
		if err != nil {
			return err
		}
		r.buf = binary.BigEndian.AppendUint16(r.buf, uint16(len(vals)))
		for i, v := range vals {
			if v == nil {
				r.buf = binary.BigEndian.AppendUint32(r.buf, 0xffffffff)
				continue
			}
			if b, ok := appendWire(r.buf, r.src.plan.Columns[i].Kind, v); ok {
				r.buf = b
				continue
			}
			at := len(r.buf)
			r.buf = append(r.buf, 0, 0, 0, 0)
			out, err := r.m.Encode(r.oids[i], pgtype.BinaryFormatCode, v, r.buf)
			if err != nil {
				return fmt.Errorf("encoding %s.%s: %w", r.src.plan.Table.Name, r.src.plan.Columns[i].Name, err)
			}
			if out == nil { // the value encodes as NULL
				r.buf = binary.BigEndian.AppendUint32(r.buf[:at], 0xffffffff)
				continue
			}
			r.buf = out
			binary.BigEndian.PutUint32(r.buf[at:], uint32(len(r.buf)-at-4))
		}
	}
	return nil
}
