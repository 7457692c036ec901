package pgtest

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var srv *Server

func TestMain(m *testing.M) { os.Exit(Run(m, Options{TLS: true}, &srv)) }

// TestServerSelf proves the harness gives what later tests rely on: the
// requested major version, TLS with a verified certificate, scram-sha-256
// password authentication over TCP.
func TestServerSelf(t *testing.T) {
	ctx := context.Background()
	want, err := Major()
	if err != nil {
		t.Fatal(err)
	}
	role := srv.NewRole(t, "s3cret p@ss")
	db := srv.NewDatabase(t, role)

	c, err := pgx.Connect(ctx, srv.URL(role, "s3cret p@ss", db))
	if err != nil {
		t.Fatalf("TLS + scram login: %v", err)
	}
	defer c.Close(ctx)

	var num int
	var ssl bool
	var version string
	if err := c.QueryRow(ctx, `SELECT current_setting('server_version_num')::int,
		(SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), coalesce((SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()), '')`).Scan(&num, &ssl, &version); err != nil {
		t.Fatal(err)
	}
	if num/10000 != want {
		t.Errorf("server_version_num = %d, want major %d", num, want)
	}
	if !ssl || !strings.HasPrefix(version, "TLS") {
		t.Errorf("connection is not TLS: ssl=%v version=%q", ssl, version)
	}
	if !strings.HasPrefix(srv.Version, strconv.Itoa(want)+".") {
		t.Errorf("Version = %q, want %d.x", srv.Version, want)
	}

	var method string
	if err := srv.Conn(t, "postgres").QueryRow(ctx, "SELECT left(rolpassword, 13) FROM pg_authid WHERE rolname = $1", role).Scan(&method); err != nil {
		t.Fatal(err)
	}
	if method != "SCRAM-SHA-256" {
		t.Errorf("password stored as %q, want SCRAM-SHA-256", method)
	}
}

func TestWrongPasswordFails(t *testing.T) {
	role := srv.NewRole(t, "right")
	_, err := pgx.Connect(context.Background(), srv.URL(role, "wrong", "postgres"))
	if err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("err = %v, want password authentication failure", err)
	}
}

func TestClientCertificateLogin(t *testing.T) {
	ctx := context.Background()
	role := srv.NewRole(t, "")
	srv.MustExec(t, "postgres", "GRANT "+CertGroup+" TO "+QuoteIdent(role))
	cert, key, root := srv.ClientCert(t, role, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	url := srv.URL(role, "", "postgres", "sslmode=verify-full", "sslrootcert="+root, "sslcert="+cert, "sslkey="+key)
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("certificate login: %v", err)
	}
	c.Close(ctx)
}

func TestStopLeavesNoProcess(t *testing.T) {
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	pid := s.cmd.Process.Pid
	s.Stop()
	if processAlive(pid) {
		t.Fatalf("postmaster %d still running after Stop", pid)
	}
	if _, err := os.Stat(s.root); !os.IsNotExist(err) {
		t.Fatalf("cluster folder %s not removed: %v", s.root, err)
	}
}
