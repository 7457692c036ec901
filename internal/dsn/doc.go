// Package dsn turns Posit Connect's Postgres.URL rules into code: it encodes
// credentials for the userinfo part of a PostgreSQL URL, builds, parses,
// diagnoses and redacts such URLs, and combines a URL with Connect's separate
// Postgres.Password setting into a connection string for pgx.
//
// # Which characters are encoded
//
// RFC 3986 §3.2.1 allows unreserved characters, sub-delims and ':' unencoded
// in userinfo. Connect's admin guide additionally says that '!' and '$' (both
// sub-delims) "must be percent-encoded" in Postgres.URL. This package follows
// the stricter Connect rule everywhere it writes a URL: [EncodeUser],
// [EncodePassword], [Parts.URL], [Combine] and the repaired URL of [Diagnose]
// all encode '!' as %21 and '$' as %24. Every decoder (libpq, pgx, Go's
// net/url) decodes those escapes back to the same character, so this costs
// nothing. [Diagnose] reports a raw '!' or '$' as a warning, not an error,
// because the URL is valid RFC 3986; [Parse] accepts it.
//
// # Parsers disagree on malformed URLs
//
// pgx (like libpq) ends the userinfo at the first '@' before any '/', and
// treats '#' as an ordinary character. Go's net/url ends it at the last '@'
// of the authority, and treats '#' as the start of a fragment. A URL whose
// credentials are percent-encoded as RFC 3986 requires means the same thing
// to all of them; [Diagnose] finds the raw characters that make a URL
// ambiguous and proposes a repaired URL.
//
// # Query parameters and pgx
//
// Connect's guide writes options=-csearch_path=<schema> with a raw second
// '='. pgx and libpq reject a query parameter with more than one raw '=', so
// every URL this package builds for pgx encodes '=' inside keys and values as
// %3D; [Parse] accepts the raw form the guide uses.
//
// # Secrets
//
// Passwords (in the userinfo and in the password and sslpassword query
// parameters) never appear in an error, a [Diagnosis], an [Info], or the
// String or GoString output of [Parts] and [Combined]. [Redact] removes them
// from any string, even one that is not a valid URL. The repaired URL that
// [Diagnose] returns does contain the password (that is its purpose); pass it
// through [Redact] before showing or logging it.
package dsn
