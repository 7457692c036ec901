package dsn

import (
	"strconv"
	"strings"
)

// charClass is a set of bytes that may appear unencoded in one part of a URL.
type charClass [256]bool

func newCharClass(extra string) *charClass {
	var c charClass
	for b := 'a'; b <= 'z'; b++ {
		c[b] = true
	}
	for b := 'A'; b <= 'Z'; b++ {
		c[b] = true
	}
	for b := '0'; b <= '9'; b++ {
		c[b] = true
	}
	for _, b := range []byte("-._~" + extra) { // unreserved
		c[b] = true
	}
	return &c
}

// The sub-delims of RFC 3986 are !$&'()*+,;= . Connect's guide requires '!'
// and '$' to be encoded, so they are left out of the userinfo classes.
var (
	// userChars may stay unencoded in the user part of userinfo.
	userChars = newCharClass("&'()*+,;=")
	// passwordChars may stay unencoded in the password part of userinfo.
	passwordChars = newCharClass("&'()*+,;=:")
	// databaseChars may stay unencoded in the database name (path).
	databaseChars = newCharClass("")
	// queryChars may stay unencoded in query keys and values written for pgx:
	// no '&', '=', '+', '@', '#', '%' or space.
	queryChars = newCharClass("/:,")
	// hostChars may stay unencoded in a host name.
	hostChars = newCharClass("")
	// ipv6Chars may stay unencoded inside an IP-literal's brackets.
	ipv6Chars = newCharClass(":")
)

const upperHex = "0123456789ABCDEF"

// escape percent-encodes every byte of s that is not in keep, with uppercase
// hex digits.
func escape(s string, keep *charClass) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !keep[s[i]] {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep[c] {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
	return b.String()
}

// EncodeUser percent-encodes s for the user part of a URL's userinfo.
// Unreserved characters and the sub-delims &'()*+,;= stay as they are; every
// other byte, including ':', '!', '$', '%', '@', '/', '?', '#', '[', ']',
// space and each byte of a non-ASCII character, becomes %XX with uppercase
// hex digits. See the package documentation for why '!' and '$' are encoded.
func EncodeUser(s string) string { return escape(s, userChars) }

// EncodePassword percent-encodes s for the password part of a URL's userinfo.
// It is [EncodeUser] except that ':' stays unencoded, as RFC 3986 allows
// after the first ':' of the userinfo.
func EncodePassword(s string) string { return escape(s, passwordChars) }

// Param is one query parameter of a connection URL, unencoded.
type Param struct{ Key, Value string }

// Parts holds the unencoded components of a connection URL.
type Parts struct {
	Scheme   string // "postgres" when empty
	User     string
	Password string // omitted from the URL when empty
	Host     string // a host name or an IP address (IPv6 without brackets is fine)
	Port     int    // 0 omits the port
	Database string
	Params   []Param // written in order
}

// redactedMark replaces secrets in redacted output.
const redactedMark = "xxxxx"

// URL returns the connection URL: credentials encoded with [EncodeUser] and
// [EncodePassword], the database name and every query key and value
// percent-encoded so that pgx, libpq and Go's net/url all read back exactly
// the values in p. In query values '=' is written as %3D, so
// options=-csearch_path=x comes out as options=-csearch_path%3Dx, which pgx
// decodes to the runtime parameter options="-csearch_path=x".
func (p Parts) URL() string { return p.build(false) }

// Redacted returns [Parts.URL] with the password, and the values of any
// password or sslpassword query parameters, replaced by "xxxxx".
func (p Parts) Redacted() string { return p.build(true) }

// String returns [Parts.Redacted], so printing a Parts never shows a secret.
func (p Parts) String() string { return p.Redacted() }

// GoString returns [Parts.Redacted] for the %#v verb.
func (p Parts) GoString() string { return "dsn.Parts(" + strconv.Quote(p.Redacted()) + ")" }

func (p Parts) build(redact bool) string {
	scheme := p.Scheme
	if scheme == "" {
		scheme = "postgres"
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	if p.User != "" || p.Password != "" {
		b.WriteString(EncodeUser(p.User))
		if p.Password != "" {
			b.WriteByte(':')
			if redact {
				b.WriteString(redactedMark)
			} else {
				b.WriteString(EncodePassword(p.Password))
			}
		}
		b.WriteByte('@')
	}
	b.WriteString(encodeHost(p.Host))
	if p.Port > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p.Port))
	}
	writePathAndQuery(&b, p.Database, p.Params, redact)
	return b.String()
}

// encodeHost writes one host, bracketing an IPv6 address.
func encodeHost(h string) string {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	} else if !strings.Contains(h, ":") {
		return escape(h, hostChars)
	}
	return "[" + escape(h, ipv6Chars) + "]"
}

// writePathAndQuery appends "/database" and "?k=v&…" to b.
func writePathAndQuery(b *strings.Builder, database string, params []Param, redact bool) {
	if database != "" {
		b.WriteByte('/')
		b.WriteString(escape(database, databaseChars))
	}
	for i, prm := range params {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(escape(prm.Key, queryChars))
		b.WriteByte('=')
		if redact && isSecretKey(prm.Key) {
			b.WriteString(redactedMark)
		} else {
			b.WriteString(escape(prm.Value, queryChars))
		}
	}
}

// isSecretKey reports whether a query parameter named key holds a secret.
// It errs on the side of secrecy: case and surrounding spaces are ignored.
func isSecretKey(key string) bool {
	k := strings.ToLower(strings.TrimSpace(key))
	return k == "password" || k == "sslpassword"
}
