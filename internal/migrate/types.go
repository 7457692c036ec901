package migrate

import "strings"

// Kind is the PostgreSQL type a SQLite column becomes, which also decides
// how its values are converted.
type Kind int

const (
	KindBigint    Kind = iota // INTEGER affinity
	KindText                  // TEXT affinity, and untyped columns holding text
	KindBytea                 // BLOB
	KindDouble                // REAL affinity
	KindNumeric               // NUMERIC affinity
	KindBoolean               // declared BOOLEAN/BOOL: 0/1
	KindTimestamp             // declared DATETIME/TIMESTAMP: text or Unix epoch
	KindDate                  // declared DATE: text or Unix epoch

	// Kinds only for loading into an existing (Connect-created) schema.
	KindInt4  // integer: range-checked
	KindInt2  // smallint: range-checked
	KindJSON  // json: text, validated, copied exactly
	KindJSONB // jsonb: text, validated, copied in canonical form
)

// PGType is the PostgreSQL type name of k.
func (k Kind) PGType() string {
	return [...]string{"bigint", "text", "bytea", "double precision", "numeric", "boolean", "timestamptz", "date",
		"integer", "smallint", "json", "jsonb"}[k]
}

// String names the kind as the plan prints it.
func (k Kind) String() string { return k.PGType() }

// KindOf maps a SQLite declared type to the PostgreSQL type it becomes,
// using SQLite's affinity rules (https://sqlite.org/datatype3.html §3.1)
// after three declared types that carry a meaning SQLite itself ignores:
// BOOLEAN, DATETIME/TIMESTAMP and DATE.
func KindOf(decl string) Kind {
	d := strings.ToUpper(strings.TrimSpace(decl))
	base := d
	if i := strings.IndexByte(base, '('); i >= 0 {
		base = strings.TrimSpace(base[:i])
	}
	switch base {
	case "BOOLEAN", "BOOL":
		return KindBoolean
	case "DATETIME", "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITHOUT TIME ZONE":
		return KindTimestamp
	case "DATE":
		return KindDate
	}
	switch {
	case strings.Contains(d, "INT"):
		return KindBigint
	case strings.Contains(d, "CHAR"), strings.Contains(d, "CLOB"), strings.Contains(d, "TEXT"):
		return KindText
	case strings.Contains(d, "BLOB"):
		return KindBytea
	case d == "":
		// No declared type: SQLite stores values as given. Connect's
		// schemas always declare types; an untyped column is copied as
		// text and any non-text value in it is reported as bad data.
		return KindText
	case strings.Contains(d, "REAL"), strings.Contains(d, "FLOA"), strings.Contains(d, "DOUB"):
		return KindDouble
	}
	return KindNumeric
}
