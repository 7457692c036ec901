package migrate

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Checksum summarises a table's rows independently of their order: the
// row count, the wrapping sum of a 64-bit hash of each row's
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

// pgEpochMicros is 2000-01-01 UTC, PostgreSQL's timestamp epoch, in Unix
// microseconds.
const pgEpochMicros = 946684800000000

// addWire adds a value in PostgreSQL's binary wire format (nil for NULL)
// for a column of kind k, encoding it exactly as add does for the Go value
// it stands for. It returns the value's size for the report.
func (h *rowHasher) addWire(k Kind, b []byte) (int, error) {
	if b == nil {
		h.buf = append(h.buf, 'N')
		return 0, nil
	}
	fixed := func(n int) error {
		if len(b) != n {
			return fmt.Errorf("internal error: %d-byte %s value", len(b), k.PGType())
		}
		return nil
	}
	switch k {
	case KindBigint:
		if err := fixed(8); err != nil {
			return 0, err
		}
		h.buf = append(append(h.buf, 'I'), b...)
		return 8, nil
	case KindDouble:
		if err := fixed(8); err != nil {
			return 0, err
		}
		bits := binary.BigEndian.Uint64(b)
		if math.IsNaN(math.Float64frombits(bits)) {
			bits = math.Float64bits(math.NaN())
		}
		h.buf = binary.BigEndian.AppendUint64(append(h.buf, 'F'), bits)
		return 8, nil
	case KindBoolean:
		if err := fixed(1); err != nil {
			return 0, err
		}
		if b[0] != 0 {
			h.buf = append(h.buf, 'T')
		} else {
			h.buf = append(h.buf, 'F', 'F')
		}
		return 1, nil
	case KindInt4:
		if err := fixed(4); err != nil {
			return 0, err
		}
		h.buf = binary.BigEndian.AppendUint64(append(h.buf, 'I'), uint64(int64(int32(binary.BigEndian.Uint32(b)))))
		return 8, nil
	case KindInt2:
		if err := fixed(2); err != nil {
			return 0, err
		}
		h.buf = binary.BigEndian.AppendUint64(append(h.buf, 'I'), uint64(int64(int16(binary.BigEndian.Uint16(b)))))
		return 8, nil
	case KindJSONB: // read as ::text
		c, p := canonicalJSON(string(b))
		if p != nil {
			return 0, fmt.Errorf("reading back jsonb: %s", p.reason)
		}
		t := c.(string)
		h.buf = binary.BigEndian.AppendUint32(append(h.buf, 'S'), uint32(len(t)))
		h.buf = append(h.buf, t...)
		return len(t), nil
	case KindText, KindNumeric, KindJSON: // numeric and json are read as ::text
		h.buf = binary.BigEndian.AppendUint32(append(h.buf, 'S'), uint32(len(b)))
		h.buf = append(h.buf, b...)
		return len(b), nil
	case KindBytea:
		h.buf = binary.BigEndian.AppendUint32(append(h.buf, 'B'), uint32(len(b)))
		h.buf = append(h.buf, b...)
		return len(b), nil
	case KindTimestamp:
		if err := fixed(8); err != nil {
			return 0, err
		}
		us := int64(binary.BigEndian.Uint64(b)) + pgEpochMicros
		h.buf = binary.BigEndian.AppendUint64(append(h.buf, 'D'), uint64(us))
		return 8, nil
	case KindDate:
		if err := fixed(4); err != nil {
			return 0, err
		}
		days := int64(int32(binary.BigEndian.Uint32(b)))
		h.buf = binary.BigEndian.AppendUint64(append(h.buf, 'D'), uint64(days*86400_000000+pgEpochMicros))
		return 8, nil
	}
	return 0, fmt.Errorf("internal error: no wire encoding for %s", k.PGType())
}

// sum returns a 64-bit hash of the row's canonical encoding, taken eight
// bytes at a time (multiply-xorshift per word, then MurmurHash3's final
// avalanche). It is a checksum against accidental change, not a
// cryptographic hash.
func (h *rowHasher) sum() uint64 {
	const k = 0x9E3779B97F4A7C15
	b := h.buf
	s := uint64(len(b)) * k
	for len(b) >= 8 {
		s = (s ^ binary.LittleEndian.Uint64(b)) * k
		s ^= s >> 32
		b = b[8:]
	}
	var tail uint64
	for i, c := range b {
		tail |= uint64(c) << (8 * i)
	}
	s = (s ^ tail ^ uint64(len(b))<<56) * k
	s ^= s >> 33
	s *= 0xff51afd7ed558ccd
	s ^= s >> 33
	s *= 0xc4ceb9fe1a85ec53
	s ^= s >> 33
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
