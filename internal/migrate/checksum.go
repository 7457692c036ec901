package migrate

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Checksum summarises a table's rows independently of their order: the
// row count, the wrapping sum of a 64-bit FNV-1a hash of each row's
// canonical encoding, and the number of value bytes.
type Checksum struct {
	Rows  int64
	Sum   uint64
	Bytes int64
}

// String renders the checksum for reports.
func (c Checksum) String() string { return fmt.Sprintf("%016x", c.Sum) }

// rowHasher builds the canonical encoding of one row: per value a type tag
// and its bytes, lengths prefixed, so no two different rows encode alike.
type rowHasher struct{ buf []byte }

func (h *rowHasher) reset() { h.buf = h.buf[:0] }

func (h *rowHasher) add(v any) error {
	b := h.buf
	switch x := v.(type) {
	case nil:
		b = append(b, 'N')
	case int64:
		b = binary.BigEndian.AppendUint64(append(b, 'I'), uint64(x))
	case float64:
		if math.IsNaN(x) {
			x = math.NaN()
		}
		b = binary.BigEndian.AppendUint64(append(b, 'F'), math.Float64bits(x))
	case bool:
		if x {
			b = append(b, 'T')
		} else {
			b = append(b, 'F', 'F')
		}
	case string:
		b = binary.BigEndian.AppendUint32(append(b, 'S'), uint32(len(x)))
		b = append(b, x...)
	case []byte:
		b = binary.BigEndian.AppendUint32(append(b, 'B'), uint32(len(x)))
		b = append(b, x...)
	case time.Time:
		b = binary.BigEndian.AppendUint64(append(b, 'D'), uint64(x.UnixMicro()))
	default:
		return fmt.Errorf("internal error: no canonical encoding for %T", v)
	}
	h.buf = b
	return nil
}

// sum returns the FNV-1a hash of the row.
func (h *rowHasher) sum() uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	s := uint64(offset)
	for _, c := range h.buf {
		s ^= uint64(c)
		s *= prime
	}
	return s
}

// addRow folds the row currently in h into c.
func (c *Checksum) addRow(h *rowHasher, valueBytes int) {
	c.Rows++
	c.Sum += h.sum()
	c.Bytes += int64(valueBytes)
}

// valueSize is the number of bytes a value occupies for the report.
func valueSize(v any) int {
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		return len(x)
	case []byte:
		return len(x)
	case bool:
		return 1
	}
	return 8
}
