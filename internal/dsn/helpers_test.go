package dsn

import (
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestMain isolates pgconn.ParseConfig from the environment: PG* variables
// and ~/.pgpass would otherwise fill in a user or password the URL lacks.
func TestMain(m *testing.M) {
	for _, k := range []string{"PGUSER", "PGPASSWORD", "PGHOST", "PGPORT", "PGDATABASE", "PGSERVICE",
		"PGSERVICEFILE", "PGSSLMODE", "PGOPTIONS", "PGAPPNAME", "PGSSLPASSWORD", "PGCONNECT_TIMEOUT"} {
		os.Unsetenv(k)
	}
	os.Setenv("PGPASSFILE", "/nonexistent/connectdb-test-pgpass")
	os.Exit(m.Run())
}

// pgxParse parses connString with pgx and fails the test on error.
func pgxParse(t testing.TB, connString string) *pgconn.Config {
	t.Helper()
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		t.Fatalf("pgconn.ParseConfig(%s): %v", Redact(connString), err)
	}
	return cfg
}

func pgxParseErr(connString string) (*pgconn.Config, error) {
	return pgconn.ParseConfig(connString)
}
