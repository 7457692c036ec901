package migrate

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"testing"
	"testing/quick"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

func TestKindOf(t *testing.T) {
	cases := map[string]Kind{
		"INTEGER": KindBigint, "int": KindBigint, "BIGINT": KindBigint, "UNSIGNED BIG INT": KindBigint, "INT8": KindBigint,
		"TEXT": KindText, "VARCHAR(255)": KindText, "NCHAR(10)": KindText, "CLOB": KindText, "": KindText,
		"BLOB": KindBytea, "REAL": KindDouble, "DOUBLE": KindDouble, "DOUBLE PRECISION": KindDouble, "FLOAT": KindDouble,
		"NUMERIC": KindNumeric, "DECIMAL(10,5)": KindNumeric,
		"BOOLEAN": KindBoolean, "bool": KindBoolean, "DATETIME": KindTimestamp, "timestamp": KindTimestamp, "DATE": KindDate,
		// SQLite's rule order: INT wins over CHAR ("POINT" contains INT).
		"CHARINT": KindBigint, "FLOATING POINT": KindBigint,
	}
	for decl, want := range cases {
		if got := KindOf(decl); got != want {
			t.Errorf("KindOf(%q) = %s, want %s", decl, got, want)
		}
	}
}

func TestConvert(t *testing.T) {
	ts := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v.UTC() }
	cases := []struct {
		kind    Kind
		in      any
		want    any
		problem string
	}{
		{KindBigint, int64(5), int64(5), ""},
		{KindBigint, 1.5, nil, "real number 1.5"},
		{KindBigint, "x", nil, "TEXT value"},
		{KindText, "héllo", "héllo", ""},
		{KindText, "a\x00b", nil, "NUL byte at offset 1"},
		{KindText, "a\xffb", nil, "not valid UTF-8"},
		{KindText, int64(3), nil, "INTEGER value"},
		{KindBytea, []byte{1}, []byte{1}, ""},
		{KindBytea, "abc", []byte("abc"), ""},
		{KindBytea, int64(1), nil, "INTEGER value"},
		{KindDouble, int64(2), 2.0, ""},
		{KindDouble, int64(1 << 60), nil, "cannot be stored exactly"},
		{KindNumeric, int64(-12), "-12", ""},
		{KindNumeric, 0.1, "0.1", ""},
		{KindNumeric, "007.50", "7.50", ""},
		{KindNumeric, "12abc", nil, "TEXT value"},
		{KindNumeric, math.Inf(1), nil, "infinity"},
		{KindBoolean, int64(0), false, ""},
		{KindBoolean, int64(1), true, ""},
		{KindBoolean, "TRUE", true, ""},
		{KindBoolean, int64(2), nil, "not a boolean"},
		{KindBoolean, "yes", nil, "not a boolean"},
		{KindTimestamp, "2024-03-04 05:06:07", ts("2024-03-04T05:06:07Z"), ""},
		{KindTimestamp, "2024-03-04 05:06:07.123456789-05:00", ts("2024-03-04T10:06:07.123457Z"), ""},
		{KindTimestamp, "2024-03-04T05:06:07Z", ts("2024-03-04T05:06:07Z"), ""},
		{KindTimestamp, "2024-03-04 05:06:07.5 +0200 +0200", ts("2024-03-04T03:06:07.5Z"), ""},
		{KindTimestamp, "2024-03-04 05:06:07 +0000 UTC m=+0.000000001", ts("2024-03-04T05:06:07Z"), ""},
		{KindTimestamp, "2024-03-04", ts("2024-03-04T00:00:00Z"), ""},
		{KindTimestamp, int64(1700000000), time.Unix(1700000000, 0).UTC(), ""},
		{KindTimestamp, 1700000000.25, time.Unix(1700000000, 250000000).UTC(), ""},
		{KindTimestamp, int64(1700000000000), nil, "plausible Unix time"},
		{KindTimestamp, "soon", nil, "not a timestamp"},
		{KindTimestamp, []byte{1}, nil, "BLOB value"},
		{KindDate, "2024-02-29", ts("2024-02-29T00:00:00Z"), ""},
		{KindDate, "2024-02-30", nil, "not a date"},
		{KindText, nil, nil, ""},
	}
	for _, c := range cases {
		conv := converter{kind: c.kind}
		var st convStats
		got, p := conv.convert(c.in, &st)
		if c.problem != "" {
			if p == nil || !strings.Contains(p.reason, c.problem) {
				t.Errorf("%s %#v: problem %+v, want %q", c.kind, c.in, p, c.problem)
			}
			continue
		}
		if p != nil {
			t.Errorf("%s %#v: unexpected problem %s", c.kind, c.in, p.reason)
			continue
		}
		var h1, h2 rowHasher
		h1.add(got)
		h2.add(c.want)
		if h1.sum() != h2.sum() {
			t.Errorf("%s %#v = %#v, want %#v", c.kind, c.in, got, c.want)
		}
	}
}

func TestStripNULCounts(t *testing.T) {
	conv := converter{kind: KindText, stripNUL: true}
	var st convStats
	got, p := conv.convert("\x00a\x00", &st)
	if p != nil || got != "a" || st.NULStripped != 1 {
		t.Fatalf("got %q %v %d", got, p, st.NULStripped)
	}
}

// Property: canonicalDecimal keeps the value and is idempotent.
func TestCanonicalDecimalProperty(t *testing.T) {
	f := func(i int32, frac uint16, neg bool, zeros uint8) bool {
		s := strings.Repeat("0", int(zeros%4)) + strings.TrimPrefix(itoa(int64(i)), "-")
		if frac > 0 {
			s += "." + itoa(int64(frac))
		}
		if neg {
			s = "-" + s
		}
		c := canonicalDecimal(s)
		if canonicalDecimal(c) != c {
			return false
		}
		return strings.TrimLeft(strings.TrimPrefix(c, "-"), "0") == strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+"), "0") ||
			c == "0" || strings.HasPrefix(strings.TrimPrefix(c, "-"), "0.")
	}
	if err := quick.Check(f, nil); err != nil {
		t.Error(err)
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

// Property: the row hash never depends on row order (sum is commutative)
// and distinguishes values that differ only by type.
func TestChecksumOrderIndependent(t *testing.T) {
	rows := [][]any{{int64(1), "a"}, {int64(2), nil}, {int64(3), []byte("a")}, {int64(4), true}}
	sum := func(order []int) Checksum {
		var c Checksum
		var h rowHasher
		for _, i := range order {
			h.reset()
			for _, v := range rows[i] {
				h.add(v)
			}
			c.addRow(&h, 1)
		}
		return c
	}
	if sum([]int{0, 1, 2, 3}) != sum([]int{3, 1, 0, 2}) {
		t.Error("checksum depends on order")
	}
	distinct := []any{nil, "", []byte{}, int64(0), 0.0, false, true, "a", []byte("a"), time.Unix(0, 0)}
	seen := map[uint64]any{}
	for _, v := range distinct {
		var h rowHasher
		h.add(v)
		if prev, ok := seen[h.sum()]; ok {
			t.Errorf("%#v and %#v hash alike", prev, v)
		}
		seen[h.sum()] = v
	}
}

func TestTranslateDefault(t *testing.T) {
	cases := []struct {
		in   string
		kind Kind
		want string
		ok   bool
	}{
		{"0", KindBoolean, "false", true},
		{"'t'", KindBoolean, "true", true},
		{"2", KindBoolean, "", false},
		{"NULL", KindText, "", true},
		{"'it''s'", KindText, "'it''s'", true},
		{"(42)", KindBigint, "42", true},
		{"-1.5e3", KindDouble, "-1.5e3", true},
		{"'7'", KindBigint, "7", true},
		{"CURRENT_TIMESTAMP", KindTimestamp, "CURRENT_TIMESTAMP", true},
		{"current_date", KindDate, "CURRENT_DATE", true},
		{"X'00FF'", KindBytea, `'\x00ff'::bytea`, true},
		{"(datetime('now'))", KindTimestamp, "", false},
		{"TRUE", KindBigint, "1", true},
		{"'abc'", KindBigint, "", false},
	}
	for _, c := range cases {
		got, ok := translateDefault(c.in, c.kind)
		if got != c.want || ok != c.ok {
			t.Errorf("translateDefault(%q, %s) = %q, %v; want %q, %v", c.in, c.kind, got, ok, c.want, c.ok)
		}
	}
}

func TestPGName(t *testing.T) {
	if got := pgName("users", "pkey"); got != "users_pkey" {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("é", 40)
	a, b := pgName(long+"a", "fkey"), pgName(long+"b", "fkey")
	if len(a) > 63 || a == b || !utf8.ValidString(a) || !strings.HasSuffix(a, "_fkey") {
		t.Errorf("pgName long: %q %q", a, b)
	}
}

// FuzzTimestamp: parsing never panics, and a parsed value is whole
// microseconds in UTC.
func FuzzTimestamp(f *testing.F) {
	for _, s := range []string{"2024-01-02 03:04:05.123456789-07:00", "2024-01-02", "x", "2024-01-02T03:04Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		conv := converter{kind: KindTimestamp}
		var st convStats
		v, p := conv.convert(s, &st)
		if p != nil {
			return
		}
		tm := v.(time.Time)
		if tm.Location() != time.UTC || tm.Nanosecond()%1000 != 0 {
			t.Fatalf("%q → %v", s, tm)
		}
	})
}

func FuzzCanonicalDecimal(f *testing.F) {
	for _, s := range []string{"1", "-0.50", "+007", ".5", "5."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !decimalRE.MatchString(s) {
			return
		}
		c := canonicalDecimal(s)
		if canonicalDecimal(c) != c || !decimalRE.MatchString(c) {
			t.Fatalf("%q → %q", s, c)
		}
	})
}

// The binary verification path hashes exactly like the Go-value path.
func TestAddWireMatchesAdd(t *testing.T) {
	m := pgtype.NewMap()
	cases := []struct {
		kind Kind
		oid  uint32
		v    any
	}{
		{KindBigint, pgtype.Int8OID, int64(-1 << 63)},
		{KindBigint, pgtype.Int8OID, int64(42)},
		{KindDouble, pgtype.Float8OID, math.Copysign(0, -1)},
		{KindDouble, pgtype.Float8OID, math.NaN()},
		{KindDouble, pgtype.Float8OID, 1e308},
		{KindBoolean, pgtype.BoolOID, true},
		{KindBoolean, pgtype.BoolOID, false},
		{KindText, pgtype.TextOID, ""},
		{KindText, pgtype.TextOID, "ünï"},
		{KindBytea, pgtype.ByteaOID, []byte{}},
		{KindBytea, pgtype.ByteaOID, []byte{0, 1, 2}},
		{KindTimestamp, pgtype.TimestamptzOID, time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{KindTimestamp, pgtype.TimestamptzOID, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{KindDate, pgtype.DateOID, time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
		{KindDate, pgtype.DateOID, time.Date(2999, 12, 31, 0, 0, 0, 0, time.UTC)},
		{KindText, pgtype.TextOID, nil},
	}
	for _, c := range cases {
		var wire []byte
		if c.v != nil {
			var err error
			if wire, err = m.Encode(c.oid, pgtype.BinaryFormatCode, c.v, []byte{}); err != nil {
				t.Fatal(err)
			}
		}
		var a, b rowHasher
		a.add(c.v)
		if _, err := b.addWire(c.kind, wire); err != nil {
			t.Fatal(err)
		}
		if a.sum() != b.sum() {
			t.Errorf("%s %#v: wire hash differs", c.kind, c.v)
		}
	}
}

// slowTimestamp is the reference: time.Parse over every layout.
func slowTimestamp(s string) (time.Time, bool) {
	for _, l := range timestampLayouts {
		if p, err := time.Parse(l, s); err == nil {
			return p, true
		}
	}
	return time.Time{}, false
}

func TestParseTimestampFast(t *testing.T) {
	for _, s := range []string{"2024-02-29 23:59:59", "2024-02-29T23:59:59.123456789Z", "2023-02-29 00:00:00", "2024-01-02 03:04:05.5-07:30",
		"2024-01-02 03:04:05+14:00", "2024-13-01 00:00:00", "2024-01-02 24:00:00", "2024-01-02 03:04:05.", "2024-01-02 03:04:05.1234567890", "0001-01-01 00:00:00,5"} {
		f, fok := parseTimestampFast(s)
		p, pok := slowTimestamp(s)
		if fok && (!pok || !f.Equal(p)) {
			t.Errorf("%q: fast %v %v, time.Parse %v %v", s, f, fok, p, pok)
		}
	}
	if _, ok := parseTimestampFast("2024-01-02 03:04:05.123-07:00"); !ok {
		t.Error("the common form is not on the fast path")
	}
}

func FuzzParseTimestampFast(f *testing.F) {
	for _, s := range []string{"2024-02-29 23:59:59", "2024-01-02T03:04:05.123456789-07:00", "1999-12-31 23:59:59Z", "2024-01-02 03:04:05,5+01:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast, ok := parseTimestampFast(s)
		if !ok {
			return
		}
		slow, sok := slowTimestamp(s)
		if !sok || !fast.Equal(slow) {
			t.Fatalf("%q: fast %v, time.Parse %v (%v)", s, fast, slow, sok)
		}
	})
}

// appendWire writes exactly what pgx's encoder writes.
func TestAppendWireMatchesPgx(t *testing.T) {
	m := pgtype.NewMap()
	cases := []struct {
		kind Kind
		v    any
	}{
		{KindBigint, int64(-5)}, {KindDouble, math.Copysign(0, -1)}, {KindDouble, 1e-300}, {KindBoolean, true}, {KindBoolean, false},
		{KindText, ""}, {KindText, "ünï"}, {KindBytea, []byte{}}, {KindBytea, []byte{0, 255}},
		{KindTimestamp, time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)}, {KindTimestamp, time.Date(2024, 2, 29, 1, 2, 3, 4000, time.UTC)},
		{KindDate, time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}, {KindDate, time.Date(2999, 12, 31, 0, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		got, ok := appendWire(nil, c.kind, c.v)
		if !ok {
			t.Fatalf("%s %#v: not encoded", c.kind, c.v)
		}
		want, err := m.Encode(oidOf(c.kind), pgtype.BinaryFormatCode, c.v, []byte{})
		if err != nil {
			t.Fatal(err)
		}
		if string(got[4:]) != string(want) || int(binary.BigEndian.Uint32(got)) != len(want) {
			t.Errorf("%s %#v: %x, pgx %x", c.kind, c.v, got, want)
		}
	}
	if _, ok := appendWire(nil, KindNumeric, "1.5"); ok {
		t.Error("numeric must go through pgx")
	}
}

// Property: changing any single bit of a row changes its hash.
func TestRowHashBitFlips(t *testing.T) {
	f := func(data []byte, pos uint16, bit uint8) bool {
		if len(data) == 0 {
			return true
		}
		var a, b rowHasher
		a.buf = append([]byte(nil), data...)
		b.buf = append([]byte(nil), data...)
		b.buf[int(pos)%len(data)] ^= 1 << (bit % 8)
		return a.sum() != b.sum()
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 20000}); err != nil {
		t.Error(err)
	}
}
