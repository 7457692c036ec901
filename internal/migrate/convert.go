package migrate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// BadValueError is a SQLite value that cannot be copied without changing
// it. Nothing is committed when one is found.
type BadValueError struct {
	Source string // "core" or "instrumentation"
	Table  string
	Row    string // "rowid 42" or "id=7, name=x" for WITHOUT ROWID tables
	Column string
	Reason string
	Fix    string
}

func (e *BadValueError) Error() string {
	return fmt.Sprintf("bad data in table %s, %s, column %s: %s; %s", e.Table, e.Row, e.Column, e.Reason, e.Fix)
}

const fixInSQLite = "correct the value in SQLite (with Connect stopped, after a backup) and run the migration again"

// problem is a conversion failure before the table, row and column are known.
type problem struct{ reason, fix string }

// convStats counts the documented, reported adjustments of values.
type convStats struct {
	NULStripped       int64 // text values that had NUL bytes removed (--strip-nul)
	TimestampsRounded int64 // timestamps with sub-microsecond digits, rounded to microseconds
}

// converter turns SQLite values of one column into the Go value copied to
// PostgreSQL. The result is also what the checksum covers: nil, int64,
// float64, string, []byte, bool, time.Time, or for numeric columns the
// canonical decimal string.
type converter struct {
	kind     Kind
	stripNUL bool
	notNull  bool // a primary key column: NULL is bad data
	layout   int  // timestamp layout that matched last (speeds up parsing)
}

func (c *converter) convert(v any, st *convStats) (any, *problem) {
	if v == nil {
		if c.notNull {
			return nil, &problem{"NULL in a PRIMARY KEY column (SQLite allows it outside INTEGER PRIMARY KEY; PostgreSQL does not)", fixInSQLite}
		}
		return nil, nil
	}
	switch c.kind {
	case KindBigint:
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			return nil, &problem{fmt.Sprintf("the real number %s does not fit an INTEGER column (bigint)", fmtFloat(x)), fixInSQLite}
		}
	case KindText:
		switch x := v.(type) {
		case string:
			return c.text(x, st)
		case []byte:
			return nil, &problem{fmt.Sprintf("a %d-byte BLOB is stored in a TEXT column", len(x)), fixInSQLite}
		}
	case KindBytea:
		switch x := v.(type) {
		case []byte:
			if x == nil {
				// The driver returns a nil slice for a zero-length
				// BLOB; pgx would send a nil slice as NULL.
				x = []byte{}
			}
			return x, nil
		case string:
			// A BLOB column has no affinity: text stored in it is copied
			// byte for byte.
			return []byte(x), nil
		}
	case KindDouble:
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			if x > 1<<53 || x < -(1<<53) {
				return nil, &problem{fmt.Sprintf("the integer %d cannot be stored exactly as double precision", x), fixInSQLite}
			}
			return float64(x), nil
		}
	case KindNumeric:
		switch x := v.(type) {
		case int64:
			return strconv.FormatInt(x, 10), nil
		case float64:
			if math.IsInf(x, 0) {
				return nil, &problem{"infinity does not fit a numeric column", fixInSQLite}
			}
			if math.IsNaN(x) {
				return "NaN", nil
			}
			return strconv.FormatFloat(x, 'f', -1, 64), nil
		case string:
			if decimalRE.MatchString(x) {
				return canonicalDecimal(x), nil
			}
		}
	case KindBoolean:
		switch x := v.(type) {
		case int64:
			if x == 0 || x == 1 {
				return x == 1, nil
			}
			return nil, &problem{fmt.Sprintf("the integer %d is not a boolean (0 or 1)", x), fixInSQLite}
		case string:
			switch strings.ToLower(x) {
			case "true", "t":
				return true, nil
			case "false", "f":
				return false, nil
			}
			return nil, &problem{fmt.Sprintf("the text %s is not a boolean (0, 1, true or false)", quoteShort(x)), fixInSQLite}
		}
	case KindInt4, KindInt2:
		lo, hi := int64(math.MinInt32), int64(math.MaxInt32)
		if c.kind == KindInt2 {
			lo, hi = math.MinInt16, math.MaxInt16
		}
		switch x := v.(type) {
		case int64:
			if x < lo || x > hi {
				return nil, &problem{fmt.Sprintf("the integer %d does not fit the target column's type %s", x, c.kind.PGType()), fixInSQLite}
			}
			return x, nil
		case float64:
			return nil, &problem{fmt.Sprintf("the real number %s does not fit an integer column (%s)", fmtFloat(x), c.kind.PGType()), fixInSQLite}
		}
	case KindJSON, KindJSONB:
		if x, ok := v.(string); ok {
			t, p := c.text(x, st)
			if p != nil {
				return nil, p
			}
			s := t.(string)
			if !json.Valid([]byte(s)) {
				return nil, &problem{fmt.Sprintf("the text %s is not valid JSON for a %s column", quoteShort(s), c.kind.PGType()), fixInSQLite}
			}
			if c.kind == KindJSONB {
				return canonicalJSON(s)
			}
			return s, nil
		}
	case KindTimestamp:
		return c.timestamp(v, st)
	case KindDate:
		if s, ok := v.(string); ok {
			t, err := time.Parse("2006-01-02", s)
			if err != nil {
				return nil, &problem{fmt.Sprintf("the text %s is not a date (YYYY-MM-DD)", quoteShort(s)), fixInSQLite}
			}
			return t, nil
		}
	}
	return nil, &problem{fmt.Sprintf("a %s value is stored in a column declared %s", storageClass(v), c.kind.PGType()), fixInSQLite}
}

func (c *converter) text(s string, st *convStats) (any, *problem) {
	if !utf8.ValidString(s) {
		i := 0
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return nil, &problem{fmt.Sprintf("the text is not valid UTF-8 (byte 0x%02x at offset %d)", s[i], i), fixInSQLite}
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		if !c.stripNUL {
			return nil, &problem{fmt.Sprintf("the text contains a NUL byte at offset %d, which PostgreSQL cannot store", i),
				"rerun with --strip-nul to remove NUL bytes from text, or " + fixInSQLite}
		}
		st.NULStripped++
		return strings.ReplaceAll(s, "\x00", ""), nil
	}
	return s, nil
}

// timestampLayouts are the text forms SQLite's date functions, Go's
// database/sql drivers and time.Time.String produce. Text without a zone
// is UTC.
var timestampLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999 -0700 -0700", // time.Time.String with an unnamed zone
	"2006-01-02 15:04:05.999999999 -0700",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04Z07:00",
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// maxEpochSeconds bounds integers read as Unix seconds (year 5138): larger
// ones are probably milliseconds, which are reported, not guessed.
const maxEpochSeconds = 1e11

func (c *converter) timestamp(v any, st *convStats) (any, *problem) {
	var t time.Time
	switch x := v.(type) {
	case string:
		s := x
		if i := strings.Index(s, " m=+"); i > 0 { // time.Time.String's monotonic clock reading
			s = s[:i]
		}
		p, ok := parseTimestampFast(s)
		if ok {
			t = p
		}
		for k := 0; !ok && k < len(timestampLayouts); k++ {
			i := (c.layout + k) % len(timestampLayouts)
			if p, err := time.Parse(timestampLayouts[i], s); err == nil {
				t, ok, c.layout = p, true, i
				break
			}
		}
		if !ok {
			return nil, &problem{fmt.Sprintf("the text %s is not a timestamp connectdb can read (such as 2006-01-02 15:04:05.000-07:00)", quoteShort(x)), fixInSQLite}
		}
	case int64:
		if x > maxEpochSeconds || x < -maxEpochSeconds {
			return nil, &problem{fmt.Sprintf("the integer %d is not a plausible Unix time in seconds (milliseconds are not guessed)", x), fixInSQLite}
		}
		t = time.Unix(x, 0)
	case float64:
		if math.IsNaN(x) || x > maxEpochSeconds || x < -maxEpochSeconds {
			return nil, &problem{fmt.Sprintf("the real number %s is not a plausible Unix time in seconds", fmtFloat(x)), fixInSQLite}
		}
		sec, frac := math.Modf(x)
		t = time.Unix(int64(sec), int64(math.Round(frac*1e9)))
	default:
		return nil, &problem{fmt.Sprintf("a %s value is stored in a timestamp column", storageClass(v)), fixInSQLite}
	}
	if t.Year() < -4712 || t.Year() > 294275 {
		return nil, &problem{fmt.Sprintf("the timestamp %s is outside PostgreSQL's range", t.Format(time.RFC3339)), fixInSQLite}
	}
	if r := t.Round(time.Microsecond); !r.Equal(t) {
		st.TimestampsRounded++
		t = r
	}
	return t.UTC(), nil
}

var decimalRE = regexp.MustCompile(`^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$`)

// canonicalDecimal writes a decimal literal the way PostgreSQL prints it
// as numeric: no sign for positives, no leading zeros, a 0 before the point.
func canonicalDecimal(s string) string {
	s = strings.TrimSpace(s)
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	intPart, frac, hasPoint := strings.Cut(s, ".")
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if hasPoint && frac != "" {
		out += "." + frac
	}
	if neg && strings.Trim(out, "0.") != "" {
		out = "-" + out
	}
	return out
}

func storageClass(v any) string {
	switch v.(type) {
	case int64:
		return "INTEGER"
	case float64:
		return "REAL"
	case string:
		return "TEXT"
	case []byte:
		return "BLOB"
	}
	return fmt.Sprintf("%T", v)
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}

// canonicalJSON rewrites valid JSON text in one canonical form (keys
// sorted, the last of duplicate keys kept, no insignificant space, numbers
// as PostgreSQL's numeric prints them) that denotes the same jsonb value,
// so that a jsonb column's checksum does not depend on how jsonb prints it.
func canonicalJSON(s string) (any, *problem) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, &problem{fmt.Sprintf("the text %s is not valid JSON (%v)", quoteShort(s), err), fixInSQLite}
	}
	v = canonicalNumbers(v)
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, &problem{fmt.Sprintf("the JSON text %s cannot be re-encoded (%v)", quoteShort(s), err), fixInSQLite}
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func canonicalNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = canonicalNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = canonicalNumbers(e)
		}
	case json.Number:
		return json.Number(numericText(string(x)))
	}
	return v
}

// numericText prints a JSON number the way PostgreSQL's numeric does: no
// exponent, the scale of the literal (adjusted by its exponent).
func numericText(n string) string {
	mant, exp := n, 0
	if i := strings.IndexAny(n, "eE"); i >= 0 {
		mant = n[:i]
		e, err := strconv.Atoi(strings.TrimPrefix(n[i+1:], "+"))
		if err != nil {
			return n
		}
		exp = e
	}
	scale := 0
	if _, frac, ok := strings.Cut(mant, "."); ok {
		scale = len(frac)
	}
	scale = max(scale-exp, 0)
	r, ok := new(big.Rat).SetString(n)
	if !ok {
		return n
	}
	return r.FloatString(scale)
}
