package connerr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestClassify(t *testing.T) {
	c := Context{User: "connect", Database: "connect", Host: "db.example.com"}
	tests := []struct {
		err    error
		id     string
		remedy string
	}{
		{&pgconn.PgError{Code: "28P01", Message: "password authentication failed for user \"connect\""}, PasswordFailed, "Postgres.Password"},
		{&pgconn.PgError{Code: "3D000", Message: "database \"connect\" does not exist"}, DatabaseMissing, "CREATE DATABASE connect OWNER connect;"},
		{&pgconn.PgError{Code: "53300", Message: "sorry, too many clients already"}, TooManyConnections, "max_connections"},
		{&pgconn.PgError{Code: "28000", Message: "no pg_hba.conf entry for host \"10.0.0.1\", user \"connect\", database \"connect\", no encryption"}, NoHBAEntry, "sslmode=disable"},
		{&pgconn.PgError{Code: "28000", Message: "no pg_hba.conf entry for host \"10.0.0.1\", user \"connect\", database \"connect\", SSL encryption"}, NoHBAEntry, "pg_hba.conf"},
		{&pgconn.PgError{Code: "28000", Message: "role \"connect\" does not exist"}, RoleMissing, "CREATE ROLE connect"},
		{&pgconn.PgError{Code: "28000", Message: "certificate authentication failed for user \"connect\""}, CertAuthFailed, "pg_ident.conf"},
		{&pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}, ServerStarting, "Wait"},
		{fmt.Errorf("connecting: %w", errors.New("server refused TLS connection")), SSLNotEnabled, "?sslmode=disable"},
		{fmt.Errorf("x: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), Unreachable, "listen_addresses"},
		{fmt.Errorf("x: %w", &net.DNSError{Err: "no such host", Name: "db.example.com"}), HostNotFound, "DNS"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), Timeout, "--timeout"},
		{errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority"), CertificateVerify, "sslrootcert"},
		{errors.New("something odd"), Unknown, ""},
	}
	for _, tc := range tests {
		got := ClassifyFor(tc.err, c)
		if got.ID != tc.id || !strings.Contains(got.Remedy, tc.remedy) || got.Summary == "" {
			t.Errorf("%v: got %+v, want %s with remedy containing %q", tc.err, got, tc.id, tc.remedy)
		}
	}
	if Classify(nil) != (Cause{}) {
		t.Error("nil error classified")
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"connect": "connect", "Connect": `"Connect"`, "a-b": `"a-b"`, `x"y`: `"x""y"`, "": "<name>"} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestClassifyContext: what the caller knows changes the cause: no password
// given turns a rejected one into password-missing, and a socket's pg_hba
// remedy names a local line.
func TestClassifyContext(t *testing.T) {
	rejected := &pgconn.PgError{Code: "28P01", Message: "password authentication failed for user \"connect\""}
	tests := []struct {
		ctx    Context
		err    error
		id     string
		remedy string
	}{
		{Context{User: "connect", NoPassword: true}, rejected, PasswordMissing, "PGPASSWORD, a line in ~/.pgpass (mode 0600)"},
		{Context{User: "connect"}, rejected, PasswordFailed, "ALTER ROLE connect PASSWORD"},
		{Context{User: "connect", Database: "rsc", Host: "/var/run/postgresql"},
			&pgconn.PgError{Code: "28000", Message: "no pg_hba.conf entry for host \"[local]\", user \"connect\", database \"rsc\", no encryption"},
			NoHBAEntry, "'local rsc connect scram-sha-256'"},
	}
	for _, tc := range tests {
		got := ClassifyFor(tc.err, tc.ctx)
		if got.ID != tc.id || !strings.Contains(got.Remedy, tc.remedy) || strings.Contains(got.Remedy, "sslmode") {
			t.Errorf("%+v: got %+v, want %s with remedy containing %q", tc.ctx, got, tc.id, tc.remedy)
		}
	}
}
