package dsn

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors returned (wrapped) by [Parse], [Diagnose] and [Combine]. Test for
// them with errors.Is; the wrapping message says what to change.
var (
	// ErrNotURL: the text has no "scheme://" prefix.
	ErrNotURL = errors.New("not a URL")
	// ErrUnsupportedScheme: the scheme is not postgres or postgresql.
	ErrUnsupportedScheme = errors.New("unsupported URL scheme")
	// ErrMalformed: the URL has a problem [Diagnose] reports as an error.
	ErrMalformed = errors.New("malformed URL")
	// ErrEmptyHost: the URL names no host.
	ErrEmptyHost = errors.New("URL has no host")
)

// Severity says whether a [Diagnosis] stops the URL from working.
type Severity int

const (
	// SeverityError: parsers read the URL differently from what was meant,
	// or reject it.
	SeverityError Severity = iota
	// SeverityWarning: the URL is valid RFC 3986 but breaks a Connect rule
	// (a raw '!' or '$' in the userinfo) or is untidy (an empty query
	// parameter).
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Diagnosis is one problem [Diagnose] found in a hand-written URL. Problem
// and Fix are complete sentences; neither quotes the password (a single
// structural character such as '#' may be named).
type Diagnosis struct {
	Offset   int    // byte offset of the problem in the raw URL
	Field    string // "user", "password" or "url"
	Severity Severity
	Problem  string
	Fix      string
}

// String formats d as one line for a terminal.
func (d Diagnosis) String() string {
	return fmt.Sprintf("%s at byte %d (%s): %s %s", d.Severity, d.Offset, d.Field, d.Problem, d.Fix)
}

// layout holds where the parts of a raw URL are, as byte offsets into raw.
// An end offset of -1 (with its start) means the part is absent.
type layout struct {
	raw                  string
	scheme               string
	userStart, userEnd   int // userinfo user; userStart == -1 when no userinfo
	passStart, passEnd   int // password after the first ':'; -1 when no ':'
	hostStart, hostEnd   int // host list, with ports
	pathStart, pathEnd   int // database, after '/'; -1 when no '/'
	queryStart, queryEnd int // after '?'; -1 when no '?'
	fragStart            int // after '#'; -1 when no '#'
}

// analyze locates the parts of raw and reports every problem it finds.
// It returns an error only when raw is not a postgres URL at all.
func analyze(raw string) (*layout, []Diagnosis, error) {
	sep := strings.Index(raw, "://")
	if sep < 0 {
		return nil, nil, fmt.Errorf("the database URL has no scheme: write it as postgres://user@host/database: %w", ErrNotURL)
	}
	scheme := raw[:sep]
	if scheme != "postgres" && scheme != "postgresql" {
		return nil, nil, unsupportedScheme(scheme)
	}
	l := &layout{raw: raw, scheme: scheme, userStart: -1, passStart: -1, pathStart: -1, queryStart: -1, fragStart: -1}
	l.userEnd, l.passEnd, l.pathEnd, l.queryEnd = -1, -1, -1, -1
	start := sep + 3
	rest := raw[start:]

	at := chooseUserinfoEnd(rest)
	if at < 0 {
		// No plausible host after any '@': fall back to RFC 3986, where the
		// authority ends at the first '/', '?' or '#' and the userinfo at
		// its last '@'.
		auth := rest
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			auth = rest[:i]
		}
		at = strings.LastIndexByte(auth, '@')
	}
	hostStart := start
	if at >= 0 {
		l.userStart = start
		l.userEnd = start + at
		if c := strings.IndexByte(rest[:at], ':'); c >= 0 {
			l.userEnd = start + c
			l.passStart, l.passEnd = start+c+1, start+at
		}
		hostStart = start + at + 1
	}
	l.hostStart = hostStart
	l.hostEnd = len(raw)
	if i := strings.IndexAny(raw[hostStart:], "/?#"); i >= 0 {
		l.hostEnd = hostStart + i
	}
	p := l.hostEnd
	if p < len(raw) && raw[p] == '/' {
		l.pathStart = p + 1
		l.pathEnd = len(raw)
		if i := strings.IndexAny(raw[p+1:], "?#"); i >= 0 {
			l.pathEnd = p + 1 + i
		}
		p = l.pathEnd
	}
	if p < len(raw) && raw[p] == '?' {
		l.queryStart = p + 1
		l.queryEnd = len(raw)
		if i := strings.IndexByte(raw[p+1:], '#'); i >= 0 {
			l.queryEnd = p + 1 + i
		}
		p = l.queryEnd
	}
	if p < len(raw) && raw[p] == '#' {
		l.fragStart = p + 1
	}

	var diags []Diagnosis
	if l.userStart >= 0 {
		diags = checkUserinfo(diags, raw, l.userStart, l.userEnd, "user")
		if l.passStart >= 0 {
			diags = checkUserinfo(diags, raw, l.passStart, l.passEnd, "password")
		}
	}
	diags = checkHosts(diags, raw, l.hostStart, l.hostEnd)
	if l.pathStart >= 0 {
		diags = checkComponent(diags, raw, l.pathStart, l.pathEnd, "The database name")
		if i := strings.IndexByte(raw[l.pathStart:l.pathEnd], '@'); i >= 0 {
			diags = append(diags, Diagnosis{Offset: l.pathStart + i, Field: "url",
				Problem: "The database name contains a raw '@', which usually means the password contains a raw '/': everything after that '/' became the path.",
				Fix:     "Percent-encode the password's '/' as %2F (and its other special characters); if the '@' really belongs to the database name, encode it as %40."})
		}
	}
	if l.queryStart >= 0 {
		diags = checkQuery(diags, raw, l.queryStart, l.queryEnd)
	}
	if l.fragStart >= 0 {
		diags = append(diags, Diagnosis{
			Offset: l.fragStart - 1, Field: "url",
			Problem: "A '#' after the host starts a URL fragment, which PostgreSQL URLs do not use: Go's net/url drops everything after it, while libpq and pgx keep it as part of the database name or parameter value.",
			Fix:     "If the '#' belongs to the database name or a parameter value, percent-encode it as %23; otherwise delete it and what follows.",
		})
	}
	return l, allowSocketHost(l, diags), nil
}

func unsupportedScheme(scheme string) error {
	shown := "the URL"
	if validScheme(scheme) && len(scheme) <= 32 {
		shown = scheme + "://…"
	}
	return fmt.Errorf("%s: connectdb supports postgres:// and postgresql:// URLs (lowercase); write the URL as postgres://user@host/database: %w", shown, ErrUnsupportedScheme)
}

// validScheme reports whether s has RFC 3986 scheme syntax, so that it is
// safe to quote (it cannot hold the start of a password with odd bytes).
func validScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }

// validEscape reports whether s[i] starts a %XX escape that decoders accept
// (pgx and libpq refuse %00).
func validEscape(s string, i int) bool {
	return i+2 < len(s) && s[i] == '%' && isHex(s[i+1]) && isHex(s[i+2]) && (s[i+1] != '0' || s[i+2] != '0')
}

// chooseUserinfoEnd returns the index in rest (the URL after "://") of the
// '@' that ends the userinfo, or -1. It is the last '@' that is followed by
// a plausible host list and then '/', '?' or the end, unless that '@' is
// evidently inside a query parameter value (see inQueryValue).
//
// It runs in time linear in len(rest) however many '@' there are: what
// inQueryValue needs is worked out once for the query head and once per
// parameter, not once per '@'.
func chooseUserinfoEnd(rest string) int {
	q := strings.IndexByte(rest, '?')
	headOK := q >= 0 && queryHeadPlausible(rest[:q])
	// The parameter the current '@' is in starts at segStart; its key ends
	// at eq (-1: no '=' before the first '@' seen in it), and textKey says
	// whether that key is one of queryTextParams.
	segStart, eq, textKey := -1, -1, false
	for k := strings.LastIndexByte(rest, '@'); k >= 0; k = strings.LastIndexByte(rest[:k], '@') {
		if !plausibleHostThenEnd(rest[k+1:], false) {
			continue
		}
		if !headOK || k <= q {
			return k
		}
		if segStart < 0 || k <= segStart {
			segStart = q + 1
			if i := strings.LastIndexByte(rest[q+1:k], '&'); i >= 0 {
				segStart = q + 1 + i + 1
			}
			eq, textKey = strings.IndexByte(rest[segStart:k], '='), false
			if eq >= 0 {
				eq += segStart
				textKey = queryTextParams[strings.ToLower(rest[segStart:eq])]
			}
		}
		// An '@' before the key's '=' is in the key, not the value.
		if !textKey || eq < 0 || k < eq {
			return k
		}
	}
	return -1
}

// plausibleHostThenEnd reports whether s starts with host[:port][,host[:port]…]
// (a host of unreserved characters and %XX, or [IPv6]) followed by '/', '?'
// or the end of s.
//
// With strictPorts, a ':' must be followed by at least one digit.
func plausibleHostThenEnd(s string, strictPorts bool) bool {
	for {
		n := 0
		if strings.HasPrefix(s, "[") {
			j := strings.IndexByte(s, ']')
			if j < 2 || strings.ContainsAny(s[:j], "@/?#") {
				return false
			}
			n = j + 1
		} else {
			for n < len(s) && (hostChars[s[n]] || s[n] == '%') {
				n++
			}
			// An empty host counts only before the path or query, so that
			// postgres://u:p@ss@/db is diagnosed as a missing host, while a
			// trailing '@' never ends the userinfo.
			if n == 0 && (s == "" || s[0] != '/' && s[0] != '?') {
				return false
			}
		}
		s = s[n:]
		if strings.HasPrefix(s, ":") {
			s = s[1:]
			n = 0
			for n < len(s) && isDigit(s[n]) {
				n++
			}
			if strictPorts && n == 0 {
				return false
			}
			s = s[n:]
		}
		if !strings.HasPrefix(s, ",") {
			break
		}
		s = s[1:]
	}
	return s == "" || s[0] == '/' || s[0] == '?'
}

// queryTextParams are connection parameters whose values may reasonably
// contain a raw '@' (names, paths, options, secrets), unlike enumerations
// such as sslmode.
var queryTextParams = map[string]bool{
	"application_name": true, "fallback_application_name": true, "options": true,
	"user": true, "dbname": true, "database": true, "host": true, "service": true,
	"passfile": true, "sslcert": true, "sslkey": true, "sslrootcert": true,
	"sslcrl": true, "sslcrldir": true, "krbsrvname": true, "requirepeer": true,
	"password": true, "sslpassword": true,
}

// queryHeadPlausible reports whether head, the URL after "://" up to the
// first '?', has the shape [userinfo@]host[:port][/database] with a clean
// host list and numeric ports, so that an '@' after the '?' is evidently
// inside a query parameter value when that parameter is one of
// queryTextParams. So in postgres://u:pw@h/db?application_name=a@b the last
// '@' is a value's, but in postgres://u:?sslmode=x@h/db it ends the
// userinfo.
func queryHeadPlausible(head string) bool {
	if i := strings.IndexByte(head, '/'); i >= 0 {
		if strings.ContainsAny(head[i:], "@#") {
			return false
		}
		head = head[:i]
	}
	if at := strings.LastIndexByte(head, '@'); at >= 0 {
		head = head[at+1:]
	}
	return head != "" && plausibleHostThenEnd(head, true)
}

// connectOnly are sub-delims RFC 3986 allows in userinfo but Connect's guide
// says must be encoded.
func connectOnly(c byte) bool { return c == '!' || c == '$' }

// checkUserinfo reports every byte in raw[start:end] that must be encoded.
func checkUserinfo(diags []Diagnosis, raw string, start, end int, field string) []Diagnosis {
	keep := userChars
	if field == "password" {
		keep = passwordChars
	}
	the := "The " + field
	for i := start; i < end; {
		c := raw[i]
		switch {
		case keep[c]:
			i++
			continue
		case c == '%':
			if validEscape(raw, i) && i+2 < end {
				i += 3
				continue
			}
			diags = append(diags, Diagnosis{Offset: i, Field: field,
				Problem: the + " contains a '%' that does not start a valid escape (a '%' must be followed by two hex digits, and %00 is not allowed), so pgx and libpq reject the URL.",
				Fix:     "If the '%' is part of the " + field + ", percent-encode it as %25."})
		case connectOnly(c):
			diags = append(diags, Diagnosis{Offset: i, Field: field, Severity: SeverityWarning,
				Problem: fmt.Sprintf("%s contains a raw '%c'; RFC 3986 allows it, but Connect's guide says it must be percent-encoded in Postgres.URL.", the, c),
				Fix:     fmt.Sprintf("Encode it for Connect as %%%02X.", c)})
		case c >= utf8.RuneSelf:
			_, size := utf8.DecodeRuneInString(raw[i:end])
			diags = append(diags, Diagnosis{Offset: i, Field: field,
				Problem: the + " contains a raw non-ASCII character; URLs must carry it as percent-encoded UTF-8 bytes.",
				Fix:     fmt.Sprintf("Percent-encode each of its %d bytes.", size)})
			i += size
			continue
		default:
			problem, fix := userinfoProblem(c, field)
			diags = append(diags, Diagnosis{Offset: i, Field: field, Problem: the + " " + problem, Fix: fix})
		}
		i++
	}
	return diags
}

// userinfoProblem explains why an ASCII byte c must be encoded in field.
func userinfoProblem(c byte, field string) (problem, fix string) {
	fix = fmt.Sprintf("Percent-encode it as %%%02X.", c)
	switch {
	case c == '@':
		return "contains a raw '@'; with more than one '@' parsers disagree about where the host begins (libpq and pgx stop at the first '@', Go's net/url at the last).", fix
	case c == '#':
		return "contains a raw '#', which starts a URL fragment: a standard URL parser drops the rest of the " + field + " and the host.", fix
	case c == '/':
		return "contains a raw '/', which ends the host part: a standard URL parser reads the rest of the " + field + " as the database path and the text before it as host:port.", fix
	case c == '?':
		return "contains a raw '?', which starts the query: a standard URL parser reads the rest of the " + field + " as query parameters.", fix
	case c == ':':
		return "contains a ':'; the first ':' in the userinfo separates user from password, so a ':' cannot be part of the user unencoded.", fix
	case c == ' ':
		return "contains a space, which pgx and libpq reject inside a URL.", fix
	case c < 0x20 || c == 0x7f:
		return "contains a control character, which is not allowed in a URL.", fix
	default:
		return fmt.Sprintf("contains a raw '%c', which RFC 3986 §3.2.1 does not allow unencoded in userinfo.", c), fix
	}
}

// checkHosts reports an empty host list, empty hosts, bad characters and
// ports that are not numbers. It never quotes the text, which may be a
// misplaced password.
func checkHosts(diags []Diagnosis, raw string, start, end int) []Diagnosis {
	if start == end {
		return append(diags, Diagnosis{Offset: start, Field: "url",
			Problem: "The URL names no host.",
			Fix:     "Write the database server's host name after the '@' (or after \"://\" when there are no credentials), e.g. postgres://user@db.example.com/connect."})
	}
	pos := start
	for _, hp := range strings.Split(raw[start:end], ",") {
		host, port, hasPort, bad := splitHostPort(hp)
		switch {
		case bad:
			diags = append(diags, Diagnosis{Offset: pos, Field: "url",
				Problem: "A host is not a valid host name, IP address or [IPv6] address.",
				Fix:     "Check the text between the '@' and the database path; percent-encode any '@', '/', '?' or '#' that belongs to the password."})
		case host == "":
			diags = append(diags, Diagnosis{Offset: pos, Field: "url",
				Problem: "A host in the host list is empty.",
				Fix:     "Write a host name before each ':' and between commas."})
		}
		if hasPort && !bad {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || !allDigits(port) {
				diags = append(diags, Diagnosis{Offset: pos + len(hp) - len(port), Field: "url",
					Problem: "The text after a host's ':' is not a port number from 1 to 65535 (or is empty); if it is a password, the URL is missing the '@' and host, or a character in the password must be percent-encoded.",
					Fix:     "Write host:port with a numeric port, or percent-encode the password's special characters."})
			}
		}
		pos += len(hp) + 1
	}
	return diags
}

// splitHostPort splits "host", "host:port" or "[v6]:port". hasPort reports
// a ':' after the host, even with nothing after it; bad reports characters
// no host may contain unencoded.
func splitHostPort(hp string) (host, port string, hasPort, bad bool) {
	if strings.HasPrefix(hp, "[") {
		j := strings.IndexByte(hp, ']')
		if j < 0 {
			return hp, "", false, true
		}
		host, rest := hp[1:j], hp[j+1:]
		if rest != "" && rest[0] != ':' {
			return host, "", false, true
		}
		if rest != "" {
			port, hasPort = rest[1:], true
		}
		return host, port, hasPort, host == "" || badHostText(host, true)
	}
	host, port, hasPort = strings.Cut(hp, ":")
	return host, port, hasPort, badHostText(host, false)
}

func badHostText(h string, ipv6 bool) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case hostChars[c], ipv6 && c == ':':
		case c == '%':
			if !validEscape(h, i) {
				return true
			}
		case strings.IndexByte("!$&'()*+;=", c) >= 0: // sub-delims are legal reg-name characters
		default:
			return true
		}
	}
	return false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// checkComponent reports what makes pgx or libpq reject a path or query
// component: invalid or %00 escapes and raw spaces. what names the
// component in messages; the text itself is never quoted.
func checkComponent(diags []Diagnosis, raw string, start, end int, what string) []Diagnosis {
	for i := start; i < end; i++ {
		switch c := raw[i]; {
		case c == '%' && !(validEscape(raw, i) && i+2 < end):
			diags = append(diags, Diagnosis{Offset: i, Field: "url",
				Problem: what + " contains a '%' that does not start a valid escape (two hex digits, not %00), so pgx and libpq reject the URL.",
				Fix:     "If the '%' is meant literally, percent-encode it as %25."})
		case c == ' ':
			diags = append(diags, Diagnosis{Offset: i, Field: "url",
				Problem: what + " contains a raw space, which pgx and libpq reject.",
				Fix:     "Percent-encode the space as %20."})
		case c < 0x20 || c == 0x7f:
			diags = append(diags, Diagnosis{Offset: i, Field: "url",
				Problem: what + " contains a control character, which is not allowed in a URL.",
				Fix:     fmt.Sprintf("Percent-encode it as %%%02X.", c)})
		}
	}
	return diags
}

// checkQuery checks each '&'-separated parameter of the query.
func checkQuery(diags []Diagnosis, raw string, start, end int) []Diagnosis {
	pos := start
	for n, seg := range strings.Split(raw[start:end], "&") {
		name := fmt.Sprintf("Query parameter %d", n+1)
		k, _, ok := strings.Cut(seg, "=")
		if ok && isIdentifier(k) {
			name = fmt.Sprintf("Query parameter %q", k)
		}
		switch {
		case seg == "":
			diags = append(diags, Diagnosis{Offset: pos, Field: "url", Severity: SeverityWarning,
				Problem: name + " is empty (a doubled or trailing '&' or '?'); pgx and libpq reject it, so connectdb drops it.",
				Fix:     "Remove the extra '&'."})
		case !ok:
			diags = append(diags, Diagnosis{Offset: pos, Field: "url",
				Problem: name + " has no '=', so pgx and libpq reject the URL; if it follows a password parameter, the password may contain a raw '&'.",
				Fix:     "Write each parameter as key=value and percent-encode '&' inside values as %26."})
		case k == "":
			diags = append(diags, Diagnosis{Offset: pos, Field: "url",
				Problem: name + " has no key before its '='.",
				Fix:     "Write each parameter as key=value."})
		default:
			diags = checkComponent(diags, raw, pos, pos+len(seg), name)
		}
		pos += len(seg) + 1
	}
	return diags
}

func isIdentifier(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

// repairUserinfo re-encodes raw[start:end]: valid %XX escapes stay, an
// invalid '%' becomes %25, and every byte keep lacks is percent-encoded.
func repairUserinfo(b *strings.Builder, raw string, start, end int, keep *charClass) {
	for i := start; i < end; i++ {
		c := raw[i]
		switch {
		case c == '%' && validEscape(raw, i) && i+2 < end:
			b.WriteString(raw[i : i+3])
			i += 2
		case keep[c]:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		}
	}
}

// Diagnose checks a hand-written connection URL and returns every problem
// it finds, in the order of their offsets within each part (user, password,
// then the rest of the URL), and a repaired URL.
//
// The userinfo runs from after "://" to the last '@' that is followed by a
// plausible host[:port] list and then '/', '?' or the end (an '@' preceded by
// a query string with a known parameter, as in ?application_name=a@b, does
// not count). Inside it, every raw character RFC 3986 §3.2.1 forbids is an
// error, and '!' and '$' are warnings (see the package documentation).
//
// repaired is raw with the user and password correctly encoded: valid %XX
// escapes are kept (not double-encoded), a '%' that starts no valid escape
// becomes %25, every other byte that needs it is percent-encoded, and the
// rest of the URL is unchanged. repaired equals raw when nothing needs
// repair, and is empty when a problem outside the userinfo remains (the
// diagnoses say what to change by hand). A non-empty repaired URL is
// accepted by [Parse] and [Combine]. It contains the password: show it
// only through [Redact].
//
// err is non-nil only when raw is not a postgres:// or postgresql:// URL.
func Diagnose(raw string) (diags []Diagnosis, repaired string, err error) {
	l, diags, err := analyze(raw)
	if err != nil {
		return nil, "", err
	}
	for _, d := range diags {
		if d.Field == "url" && d.Severity == SeverityError {
			return diags, "", nil
		}
	}
	if l.userStart < 0 {
		return diags, raw, nil
	}
	var b strings.Builder
	b.Grow(len(raw) + 16)
	b.WriteString(raw[:l.userStart])
	repairUserinfo(&b, raw, l.userStart, l.userEnd, userChars)
	if l.passStart >= 0 {
		b.WriteByte(':')
		repairUserinfo(&b, raw, l.passStart, l.passEnd, passwordChars)
		b.WriteString(raw[l.passEnd:])
	} else {
		b.WriteString(raw[l.userEnd:])
	}
	repaired = b.String()
	// Guard the promise that a repaired URL parses: if encoding the userinfo
	// changed how the rest is read, give no repair rather than a wrong one.
	if _, again, err := analyze(repaired); err != nil || hasError(again) {
		return diags, "", nil
	}
	return diags, repaired, nil
}

func hasError(diags []Diagnosis) bool {
	for _, d := range diags {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}
