package dsn

import (
	"fmt"
	"strconv"
	"strings"
)

// Where [Combined.ConnString] took its password from.
const (
	PasswordFromSetting  = "separate password setting" // Postgres.Password or Postgres.InstrumentationPassword
	PasswordFromURL      = "URL userinfo"
	PasswordFromURLQuery = "URL password parameter"
	PasswordNone         = "none"
)

// Combined is a connection string ready for pgx, built by [Combine].
type Combined struct {
	// ConnString is the URL for pgx: credentials encoded, query keys and
	// values encoded (including '=' as %3D), defaults applied. It contains
	// the password; print [Combined.String] instead.
	ConnString string
	// Warnings are complete sentences for the admin. They never contain a
	// secret.
	Warnings []string
	// PasswordSource is one of the PasswordFrom… constants or PasswordNone.
	PasswordSource string
}

// String returns ConnString redacted with [Redact].
func (c Combined) String() string { return Redact(c.ConnString) }

// GoString keeps %#v from printing the password.
func (c Combined) GoString() string {
	return fmt.Sprintf("dsn.Combined{ConnString: %q, Warnings: %#v, PasswordSource: %q}", Redact(c.ConnString), c.Warnings, c.PasswordSource)
}

// Combine does what Connect does with Postgres.URL and Postgres.Password
// (or InstrumentationURL and InstrumentationPassword) and returns a
// connection string for pgx.
//
//   - separatePassword is used as is: the admin does not percent-encode it,
//     so Combine encodes it. An empty separatePassword means "not set".
//   - If the URL also carries a password (in the userinfo or as a password
//     query parameter) and separatePassword is set, separatePassword wins,
//     the URL's password is dropped, and a warning says so (without either
//     value). If the URL has both a userinfo password and a password
//     parameter, the parameter wins, as in pgx and libpq, with a warning.
//   - Without sslmode (or its alias ssl=true) in the URL, sslmode=require is
//     added: Connect assumes SSL, and pgx's default, prefer, would silently
//     fall back to an unencrypted connection. An explicit sslmode of prefer
//     or allow is kept, with a warning; disable is kept silently, as the
//     admin asked for it.
//   - Without application_name, application_name=defaultAppName is added
//     (unless defaultAppName is empty).
//   - Every other parameter is kept in order, including
//     options=-csearch_path=<schema>.
//
// Errors are those of [Parse] and never contain a password.
func Combine(rawURL, separatePassword, defaultAppName string) (Combined, error) {
	p, err := parse(rawURL)
	if err != nil {
		return Combined{}, err
	}
	var c Combined
	password := p.password
	c.PasswordSource = PasswordNone
	if p.hasPassword {
		c.PasswordSource = PasswordFromURL
	}

	var params []Param
	var sslSet, appSet bool
	queryPassword, queryPasswordSeen := "", false
	for _, prm := range p.params {
		switch prm.Key {
		case "password":
			queryPassword, queryPasswordSeen = prm.Value, true
			continue // written once, below, if it wins
		case "sslmode":
			sslSet = true
			if prm.Value == "prefer" || prm.Value == "allow" {
				c.Warnings = append(c.Warnings, fmt.Sprintf("The URL sets sslmode=%s, which silently falls back to an unencrypted connection when the server does not offer SSL; Connect assumes SSL, so use sslmode=require (or verify-full), or sslmode=disable if the server has no SSL.", prm.Value))
			}
		case "ssl":
			if prm.Value == "true" {
				sslSet = true
			}
		case "application_name":
			appSet = true
		}
		params = append(params, prm)
	}

	switch {
	case separatePassword != "":
		if p.hasPassword || queryPasswordSeen {
			c.Warnings = append(c.Warnings, "The URL contains a password and the separate password setting (Postgres.Password or Postgres.InstrumentationPassword) is also set; the separate setting is used, as Connect does. Remove the password from the URL.")
		}
		password = separatePassword
		c.PasswordSource = PasswordFromSetting
	case queryPasswordSeen:
		if p.hasPassword {
			c.Warnings = append(c.Warnings, "The URL has a password both before the '@' and in a password= query parameter; pgx and libpq use the query parameter. Keep only one.")
		}
		password = queryPassword
		c.PasswordSource = PasswordFromURLQuery
		if password == "" {
			c.PasswordSource = PasswordNone
		}
	}
	if !sslSet {
		params = append(params, Param{Key: "sslmode", Value: "require"})
	}
	if !appSet && defaultAppName != "" {
		params = append(params, Param{Key: "application_name", Value: defaultAppName})
	}

	var b strings.Builder
	b.WriteString(p.scheme)
	b.WriteString("://")
	if p.user != "" || password != "" {
		b.WriteString(EncodeUser(p.user))
		if password != "" {
			b.WriteByte(':')
			b.WriteString(EncodePassword(password))
		}
		b.WriteByte('@')
	}
	for i, hp := range p.hosts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(encodeHost(hp.Host))
		if hp.Port > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(hp.Port))
		}
	}
	writePathAndQuery(&b, p.database, params, false)
	c.ConnString = b.String()
	return c, nil
}
