package pgtest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Run starts one server for a test package, stores it in *dst, runs the
// tests and stops the server. Use it from TestMain:
//
//	var srv *pgtest.Server
//	func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, pgtest.Options{TLS: true}, &srv)) }
//
// If the server cannot start, every test fails: the run exits non-zero with
// the reason. Nothing is skipped.
func Run(m *testing.M, opts Options, dst **Server) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	s, err := Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: cannot start the test PostgreSQL server: %v\n", err)
		return 1
	}
	*dst = s
	defer s.Stop()
	return m.Run()
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]+`)

// uniqueName returns a lower-case identifier based on t's name.
func (s *Server) uniqueName(t testing.TB, prefix string) string {
	n := atomic.AddInt64(&s.seq, 1)
	base := unsafeName.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(base) > 40 {
		base = base[len(base)-40:]
	}
	return fmt.Sprintf("%s%s_%d", prefix, strings.Trim(base, "_"), n)
}

// NewDatabase creates an empty database for the test, owned by owner (the
// superuser when empty), and drops it when the test ends.
func (s *Server) NewDatabase(t testing.TB, owner string) string {
	t.Helper()
	name := s.uniqueName(t, "db_")
	q := "CREATE DATABASE " + QuoteIdent(name)
	if owner != "" {
		q += " OWNER " + QuoteIdent(owner)
	}
	s.MustExec(t, "postgres", q)
	t.Cleanup(func() {
		_ = s.Exec(context.Background(), "postgres", "DROP DATABASE IF EXISTS "+QuoteIdent(name)+" WITH (FORCE)")
	})
	return name
}

// NewRole creates a login role with password (none when empty) and extra
// attributes such as "CREATEDB" and drops it when the test ends.
func (s *Server) NewRole(t testing.TB, password string, attrs ...string) string {
	t.Helper()
	name := s.uniqueName(t, "r_")
	q := "CREATE ROLE " + QuoteIdent(name) + " LOGIN " + strings.Join(attrs, " ")
	if password != "" {
		q += " PASSWORD " + QuoteLiteral(password)
	}
	s.MustExec(t, "postgres", q)
	t.Cleanup(func() {
		ctx := context.Background()
		_ = s.Exec(ctx, "postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", name)
		_ = s.Exec(ctx, "postgres", "DROP ROLE IF EXISTS "+QuoteIdent(name))
	})
	return name
}

// MustExec runs sql as superuser in db and fails the test on error.
func (s *Server) MustExec(t testing.TB, db, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Exec(ctx, db, sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// Conn opens a superuser connection to db, closed when the test ends.
func (s *Server) Conn(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	c, err := s.Connect(context.Background(), db)
	if err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", db, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// ClientCert writes a client certificate for cn signed by the server's CA
// into a temporary folder and returns the cert, key and root CA paths.
func (s *Server) ClientCert(t testing.TB, cn string, notBefore, notAfter time.Time) (cert, key, root string) {
	t.Helper()
	if s.CA == nil {
		t.Fatal("pgtest: ClientCert needs a server started with TLS")
	}
	cert, key, root, err := s.CA.WriteClientCert(t.TempDir(), cn, notBefore, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, root
}
