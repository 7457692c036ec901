package dsn

import (
	"strings"
)

// Redact returns raw with every password replaced by "xxxxx", for showing or
// logging any text a user gave as a connection string, even a malformed one.
// It never panics.
//
// In a URL, everything from the first ':' after "://" up to the last '@' in
// the whole string is treated as the password. That is deliberately
// conservative: a password with a raw '@', '/', '?' or '#' cannot leak, at the
// price of over-redacting a URL that has a raw '@' in its path or query (such
// as ?application_name=a@b after a host:port). When there is no '@', a
// "port" that is empty or not a number may be a password written without
// its host, so everything after that ':' is redacted. The values of password and
// sslpassword query parameters (matched case-insensitively, %-escapes in the
// key decoded) are redacted up to the next '&' that starts a key=value
// parameter.
//
// Text without "://" is treated as a libpq keyword/value string
// (password=… and sslpassword=…, quoted or not) and, if it contains an '@',
// also as a URL without its scheme.
func Redact(raw string) string {
	sep := strings.Index(raw, "://")
	if sep < 0 {
		s := redactKeywordValue(raw)
		if strings.IndexByte(s, '@') >= 0 {
			s = redactURL(s, 0)
		}
		return s
	}
	return redactURL(raw, sep+3)
}

// RedactInput is Redact for a value given where a connection string was
// expected. A value with no scheme, no key=value pair and no '@' is not a
// connection string at all (often a password pasted in the wrong place),
// so it is hidden whole rather than echoed.
func RedactInput(raw string) string {
	if raw != "" && !strings.Contains(raw, "://") && !strings.ContainsAny(raw, "=@") {
		return "(" + redactedMark + ": not a connection string)"
	}
	return Redact(raw)
}

// redactURL redacts the userinfo password and the secret query parameters
// of s, whose authority starts at start.
func redactURL(s string, start int) string {
	rest := s[start:]
	queryFrom := start
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if c := strings.IndexByte(rest[:at], ':'); c >= 0 && c+1 < at {
			s = s[:start+c+1] + redactedMark + s[start+at:]
			queryFrom = start + c + 1 + len(redactedMark)
		}
	} else {
		auth := rest
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			auth = rest[:i]
		}
		if c := nonNumericPort(auth); c >= 0 {
			return s[:start+c+1] + redactedMark
		}
	}
	return redactQuery(s, queryFrom)
}

// nonNumericPort returns the index of the ':' before the first port in the
// host list auth that is not all digits, or -1.
func nonNumericPort(auth string) int {
	pos := 0
	for _, hp := range strings.Split(auth, ",") {
		h := hp
		if strings.HasPrefix(h, "[") {
			if j := strings.IndexByte(h, ']'); j >= 0 {
				h = h[j+1:]
			}
		}
		if c := strings.IndexByte(h, ':'); c >= 0 {
			if port := h[c+1:]; !allDigits(port) { // an empty port is suspicious too
				return pos + len(hp) - len(h) + c
			}
		}
		pos += len(hp) + 1
	}
	return -1
}

// redactQuery redacts secret parameters in the query that follows the first
// '?' at or after from.
func redactQuery(s string, from int) string {
	q := strings.IndexByte(s[from:], '?')
	if q < 0 {
		return s
	}
	q += from + 1
	var b strings.Builder
	b.WriteString(s[:q])
	segs := strings.Split(s[q:], "&")
	for i := 0; i < len(segs); i++ {
		if i > 0 {
			b.WriteByte('&')
		}
		k, _, ok := strings.Cut(segs[i], "=")
		if !ok || !isSecretKey(lenientDecode(k)) {
			b.WriteString(segs[i])
			continue
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(redactedMark)
		// A raw '&' in the secret splits it; swallow the pieces that do not
		// look like a parameter of their own.
		for i+1 < len(segs) && !looksLikeParam(segs[i+1]) {
			i++
		}
	}
	return b.String()
}

// looksLikeParam reports whether seg is key=value with a plausible key.
func looksLikeParam(seg string) bool {
	k, _, ok := strings.Cut(seg, "=")
	k = lenientDecode(k)
	if !ok || k == "" || isDigit(k[0]) {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !isAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// lenientDecode decodes valid %XX escapes and keeps everything else.
func lenientDecode(s string) string { return decode(strings.TrimSpace(s)) }

// redactKeywordValue redacts password and sslpassword values in a libpq
// keyword/value string such as "host=h password='a b' sslmode=require".
func redactKeywordValue(s string) string {
	var b strings.Builder
	i := 0
	for i < len(s) {
		// Find the next '=' and the keyword before it.
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			break
		}
		eq += i
		kEnd := eq
		for kEnd > i && isSpace(s[kEnd-1]) {
			kEnd--
		}
		kStart := kEnd
		for kStart > i && !isSpace(s[kStart-1]) && s[kStart-1] != '\'' {
			kStart--
		}
		v := eq + 1
		for v < len(s) && isSpace(s[v]) {
			v++
		}
		end := valueEnd(s, v)
		if isSecretKey(s[kStart:kEnd]) {
			b.WriteString(s[i:v])
			b.WriteString(redactedMark)
		} else {
			b.WriteString(s[i:end])
		}
		i = end
	}
	b.WriteString(s[i:])
	return b.String()
}

// valueEnd returns the end of the keyword/value value starting at v: a
// quoted string (to its closing quote, or the end when unterminated) or a
// run of non-space bytes, with backslash escapes.
func valueEnd(s string, v int) int {
	if v < len(s) && s[v] == '\'' {
		for j := v + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++
			case '\'':
				return j + 1
			}
		}
		return len(s)
	}
	j := v
	for j < len(s) && !isSpace(s[j]) {
		if s[j] == '\\' {
			j++
		}
		j++
	}
	if j > len(s) {
		j = len(s)
	}
	return j
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
