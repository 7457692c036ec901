package secrets

import (
	"bufio"
	"io"
	"strings"
)

// PgpassEntry is one line of a libpq password file
// (hostname:port:database:username:password).
type PgpassEntry struct {
	Host, Port, Database, User string // unescaped; see Any for wildcards
	Password                   Secret
	Line                       int // 1-based line number in the file

	// any marks fields written as a bare "*" (host, port, database, user).
	any [4]bool
}

// ParsePgpass reads a libpq password file. Blank lines, comments (#) and
// lines with fewer than five fields are skipped as libpq does. In the first
// four fields `\:` and `\\` stand for : and \; the password is the rest of
// the line with backslash escapes removed. A field that is exactly "*"
// matches anything.
func ParsePgpass(r io.Reader) ([]PgpassEntry, error) {
	var entries []PgpassEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, ok := parsePgpassLine(line)
		if !ok {
			continue
		}
		e.Line = n
		entries = append(entries, e)
	}
	return entries, sc.Err()
}

func parsePgpassLine(line string) (PgpassEntry, bool) {
	var e PgpassEntry
	fields := [4]*string{&e.Host, &e.Port, &e.Database, &e.User}
	rest := line
	for i := range fields {
		val, raw, after, ok := cutField(rest)
		if !ok {
			return PgpassEntry{}, false
		}
		*fields[i] = val
		e.any[i] = raw == "*"
		rest = after
	}
	e.Password = NewSecret(unescape(rest))
	return e, true
}

// cutField splits s at the first unescaped colon, returning the unescaped
// field, the raw field, and the text after the colon.
func cutField(s string) (val, raw, rest string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == ':':
			return b.String(), s[:i], s[i+1:], true
		default:
			b.WriteByte(c)
		}
	}
	return "", "", "", false
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Matches reports whether the entry applies to a connection. Like libpq,
// an empty host or a Unix socket directory (starting with /) matches
// "localhost", and an empty port matches "5432".
func (e PgpassEntry) Matches(host, port, database, user string) bool {
	if host == "" || strings.HasPrefix(host, "/") {
		host = "localhost"
	}
	if port == "" {
		port = "5432"
	}
	want := [4]string{host, port, database, user}
	got := [4]string{e.Host, e.Port, e.Database, e.User}
	for i := range want {
		if !e.any[i] && got[i] != want[i] {
			return false
		}
	}
	return true
}

// Any reports which of host, port, database and user are wildcards.
func (e PgpassEntry) Any() (host, port, database, user bool) {
	return e.any[0], e.any[1], e.any[2], e.any[3]
}

// LookupPgpass returns the first entry of a password file that matches.
func LookupPgpass(r io.Reader, host, port, database, user string) (PgpassEntry, bool, error) {
	entries, err := ParsePgpass(r)
	for _, e := range entries {
		if e.Matches(host, port, database, user) {
			return e, true, nil
		}
	}
	return PgpassEntry{}, false, err
}
