package config

import (
	"encoding/json"
	"fmt"
	"net/url"
)

// redacted replaces secret values when a Postgres section is printed.
const redacted = "xxxxx"

// Redacted returns a copy of p safe to print: the password settings and
// AzureClientSecret become "xxxxx" when set, and so does any password
// inside URL or InstrumentationURL.
func (p Postgres) Redacted() Postgres {
	hide := func(s string) string {
		if s == "" {
			return ""
		}
		return redacted
	}
	p.URL = RedactURL(p.URL)
	p.InstrumentationURL = RedactURL(p.InstrumentationURL)
	p.Password = hide(p.Password)
	p.InstrumentationPassword = hide(p.InstrumentationPassword)
	p.AzureClientSecret = hide(p.AzureClientSecret)
	return p
}

// RedactURL replaces the password in a connection URL with "xxxxx". A URL
// that does not parse is replaced entirely, since it may hold a password
// in a place the parser could not find.
func RedactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL, hidden)"
	}
	return u.Redacted()
}

// postgresPlain has Postgres's fields but none of its methods.
type postgresPlain Postgres

// String prints the redacted section.
func (p Postgres) String() string { return fmt.Sprintf("%+v", postgresPlain(p.Redacted())) }

// GoString prints the redacted section in Go syntax.
func (p Postgres) GoString() string {
	return fmt.Sprintf("%#v", postgresPlain(p.Redacted()))
}

// Format prints the redacted section for every verb, so that printing a
// Config never shows a password.
func (p Postgres) Format(f fmt.State, verb rune) { formatPlain(f, verb, postgresPlain(p.Redacted())) }

// MarshalJSON encodes the redacted section.
func (p Postgres) MarshalJSON() ([]byte, error) {
	return json.Marshal(postgresPlain(p.Redacted()))
}

// Redacted returns a copy of s safe to print: EncryptionKey becomes
// "xxxxx" when set.
func (s Server) Redacted() Server {
	if s.EncryptionKey != "" {
		s.EncryptionKey = redacted
	}
	return s
}

// serverPlain has Server's fields but none of its methods.
type serverPlain Server

// String prints the redacted section.
func (s Server) String() string { return fmt.Sprintf("%+v", serverPlain(s.Redacted())) }

// GoString prints the redacted section in Go syntax.
func (s Server) GoString() string { return fmt.Sprintf("%#v", serverPlain(s.Redacted())) }

// Format prints the redacted section for every verb.
func (s Server) Format(f fmt.State, verb rune) { formatPlain(f, verb, serverPlain(s.Redacted())) }

// MarshalJSON encodes the redacted section.
func (s Server) MarshalJSON() ([]byte, error) { return json.Marshal(serverPlain(s.Redacted())) }

// formatPlain prints q, a redacted section converted to a type without
// methods, honouring %#v and %+v; every other verb prints it as %v.
func formatPlain(f fmt.State, verb rune, q any) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprintf(f, "%#v", q)
	case verb == 'v' && f.Flag('+'):
		fmt.Fprintf(f, "%+v", q)
	default:
		fmt.Fprintf(f, "%v", q)
	}
}
