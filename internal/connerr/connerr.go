// Package connerr turns the error of a failed PostgreSQL connection attempt
// into a plain-language cause and the change that fixes it. It reads
// SQLSTATE codes and error types first and falls back to message text only
// where the driver offers nothing better.
package connerr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Cause IDs. They are stable: scripts and `check --output json` use them.
const (
	Unreachable        = "unreachable"
	HostNotFound       = "host-not-found"
	Timeout            = "timeout"
	SSLNotEnabled      = "ssl-not-enabled"
	CertificateVerify  = "certificate-verify-failed"
	ClientCertificate  = "client-certificate"
	PasswordFailed     = "password-authentication-failed"
	CertAuthFailed     = "certificate-authentication-failed"
	NoHBAEntry         = "no-pg-hba-entry"
	DatabaseMissing    = "database-does-not-exist"
	RoleMissing        = "role-does-not-exist"
	TooManyConnections = "too-many-connections"
	ServerStarting     = "server-not-ready"
	InsufficientPrivs  = "insufficient-privilege"
	PasswordMissing    = "password-missing"
	Unknown            = "unknown"
)

// Cause is why a connection failed, in words an administrator can act on.
type Cause struct {
	ID      string // stable identifier, one of the constants above
	Summary string // one sentence: what went wrong
	Remedy  string // one sentence: what to change
}

// Context names the database the error came from, for messages; every field
// may be empty.
type Context struct {
	User     string
	Database string
	Host     string // a Unix socket directory starts with '/'
	// NoPassword is true when no password was given: a rejected password
	// then means a missing one.
	NoPassword bool
}

// socket reports whether the connection went over a Unix socket.
func (c Context) socket() bool { return strings.HasPrefix(c.Host, "/") }

// missingPassword is the cause when the server wants a password and none
// was given.
func missingPassword(user string) Cause {
	return Cause{PasswordMissing, "The server asks " + user + " for a password and none was given.",
		"Give one: PGPASSWORD, a line in ~/.pgpass (mode 0600) or the file named by PGPASSFILE, CONNECTDB_POSTGRES_PASSWORD, --password-file FILE, or Postgres.Password (encrypted) in the Connect config."}
}

// Classify explains err. It never returns the raw error text in Summary for
// a known cause, so secrets in driver messages cannot leak; Unknown causes
// carry the driver message with the password-free context pgx adds.
func Classify(err error) Cause { return ClassifyFor(err, Context{}) }

// ClassifyFor is Classify with names filled into the messages.
func ClassifyFor(err error, c Context) Cause {
	if err == nil {
		return Cause{}
	}
	user, db, host := orDefault(c.User, "the user"), orDefault(c.Database, "the database"), orDefault(c.Host, "the server")
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01":
			if c.NoPassword {
				return missingPassword(user)
			}
			return Cause{PasswordFailed, "Password authentication failed for " + user + ".",
				"Check the password in Postgres.Password (or the URL) against the role's password; reset it with ALTER ROLE " + quote(c.User) + " PASSWORD '...'."}
		case "3D000":
			return Cause{DatabaseMissing, "Database " + db + " does not exist.",
				"A blank database must already exist: CREATE DATABASE " + quote(c.Database) + " OWNER " + quote(c.User) + ";"}
		case "53300":
			return Cause{TooManyConnections, "The server has no free connection slots (too many connections).",
				"Raise max_connections on the server or lower Database.MaxOpenConnections on every node; see 'connectdb size-pool'."}
		case "57P03":
			return Cause{ServerStarting, "The server is starting up, shutting down or in recovery and does not accept connections yet.",
				"Wait for the server to finish starting, then run the check again."}
		case "42501":
			return Cause{InsufficientPrivs, "The role may not connect to " + db + ".",
				"GRANT CONNECT ON DATABASE " + quote(c.Database) + " TO " + quote(c.User) + "; and check that the role has LOGIN."}
		case "28000":
			msg := pgErr.Message
			switch {
			case strings.Contains(msg, "pg_hba.conf") && c.socket():
				return Cause{NoHBAEntry, "pg_hba.conf has no entry for " + user + " and " + db + " over the Unix socket " + c.Host + ".",
					"Add a line such as 'local " + orDefault(c.Database, "connect") + " " + orDefault(c.User, "connect") + " scram-sha-256' (or peer, when the OS user has the role's name) to pg_hba.conf and reload the server."}
			case strings.Contains(msg, "pg_hba.conf"):
				if strings.Contains(msg, "no encryption") {
					return Cause{NoHBAEntry, "pg_hba.conf has no entry allowing " + user + " to connect without SSL.",
						"Remove sslmode=disable from the URL (the server accepts only SSL connections), or add a host line for this client to pg_hba.conf."}
				}
				return Cause{NoHBAEntry, "pg_hba.conf has no entry for this client, " + user + " and " + db + ".",
					"Add a line such as 'hostssl " + orDefault(c.Database, "connect") + " " + orDefault(c.User, "connect") + " <Connect server address>/32 scram-sha-256' to pg_hba.conf and reload the server."}
			case strings.Contains(msg, "does not exist") && strings.Contains(msg, "role"):
				return Cause{RoleMissing, "Role " + user + " does not exist on the server.",
					"Create it: CREATE ROLE " + quote(c.User) + " LOGIN PASSWORD '...'; or fix the user name in Postgres.URL."}
			case strings.Contains(msg, "certificate"):
				return Cause{CertAuthFailed, "Certificate authentication failed for " + user + ": " + msg + ".",
					"The certificate's CN must equal the user in Postgres.URL, or map it in pg_ident.conf (map=posit-connect) and reference the map in pg_hba.conf."}
			case strings.Contains(msg, "not permitted to log in"):
				return Cause{InsufficientPrivs, "Role " + user + " is not permitted to log in.",
					"ALTER ROLE " + quote(c.User) + " LOGIN;"}
			}
			return Cause{NoHBAEntry, "The server rejected the login: " + msg + ".",
				"Check pg_hba.conf on the server for a line matching this client, database and user."}
		}
		if strings.HasPrefix(pgErr.Code, "28") {
			return Cause{PasswordFailed, "Authentication failed for " + user + ": " + pgErr.Message + ".",
				"Check the credentials in Postgres.URL and Postgres.Password."}
		}
	}

	msg := err.Error()
	var certInvalid x509.CertificateInvalidError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var verifyErr *tls.CertificateVerificationError
	switch {
	case strings.Contains(msg, "server refused TLS connection"):
		return Cause{SSLNotEnabled, "SSL is not enabled on " + host + ", and Connect uses SSL unless the URL says otherwise.",
			"Enable SSL on the server, or add ?sslmode=disable to Postgres.URL (credentials then travel in clear)."}
	case errors.As(err, &hostErr):
		return Cause{CertificateVerify, "The server certificate is not valid for host " + host + ".",
			"Use the host name the certificate was issued for in Postgres.URL, or use sslmode=verify-ca instead of verify-full."}
	case errors.As(err, &unknownAuth), errors.As(err, &certInvalid), errors.As(err, &verifyErr),
		strings.Contains(msg, "x509:"), strings.Contains(msg, "certificate verify failed"):
		return Cause{CertificateVerify, "The server certificate could not be verified against the trusted CA.",
			"Point sslrootcert= in Postgres.URL at the CA that signed the server certificate, or use sslmode=require to encrypt without verifying."}
	case strings.Contains(msg, "sslcert") || strings.Contains(msg, "sslkey") || strings.Contains(msg, "failed to load key pair") || strings.Contains(msg, "decode sslkey"):
		return Cause{ClientCertificate, "The client certificate or key in the URL cannot be used.",
			"Make sslcert= and sslkey= point to readable files holding a matching certificate and key."}
	case strings.Contains(msg, "tls: ") && (strings.Contains(msg, "certificate required") || strings.Contains(msg, "bad certificate") ||
		strings.Contains(msg, "expired certificate") || strings.Contains(msg, "unknown certificate")):
		return Cause{CertAuthFailed, "The server rejected the client certificate.",
			"Renew the client certificate in sslcert= and make sure the server's ssl_ca_file trusts its issuer."}
	case strings.Contains(msg, "no password supplied") || strings.Contains(msg, "password is empty"):
		return missingPassword(user)
	}

	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return Cause{HostNotFound, "The host name " + host + " does not resolve.",
			"Fix the host in Postgres.URL, or the DNS of this machine."}
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, fs.ErrNotExist) {
		return Cause{Unreachable, "Nothing accepts PostgreSQL connections at " + host + ".",
			"Check that the server runs and listens there (listen_addresses, port), and that no firewall blocks the port."}
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) || strings.Contains(msg, "timeout") {
		return Cause{Timeout, "The server at " + host + " did not answer in time.",
			"Check the network path and firewall to the server, or raise --timeout."}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return Cause{Unreachable, "The server at " + host + " cannot be reached.",
			"Check the host and port in Postgres.URL and the network between this machine and the server."}
	}
	return Cause{Unknown, "The connection failed: " + firstLine(msg) + ".", "Read the message above, fix the cause, and run the check again."}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func quote(id string) string {
	if id == "" {
		return "<name>"
	}
	plain := true
	for i, r := range id {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && r >= '0' && r <= '9') {
			plain = false
			break
		}
	}
	if plain {
		return id
	}
	return `"` + strings.ReplaceAll(id, `"`, `""`) + `"`
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSuffix(s, ".")
}
