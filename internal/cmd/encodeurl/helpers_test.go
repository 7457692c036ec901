package encodeurl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/pgtest"
	"github.com/connectdb/connectdb/internal/secrets"
)

var srv *pgtest.Server

// TestMain starts one TLS PostgreSQL server and isolates pgconn.ParseConfig
// from the environment: PG* variables and ~/.pgpass would otherwise fill in
// a user or password the URL lacks.
func TestMain(m *testing.M) {
	for _, k := range []string{"PGUSER", "PGPASSWORD", "PGHOST", "PGPORT", "PGDATABASE", "PGSERVICE",
		"PGSERVICEFILE", "PGSSLMODE", "PGOPTIONS", "PGAPPNAME", "PGSSLPASSWORD", "PGCONNECT_TIMEOUT",
		"CONNECTDB_SECRET_KEY", "CONNECTDB_URL", "CONNECTDB_CONFIG", "CONNECTDB_POSTGRES_PASSWORD"} {
		os.Unsetenv(k)
	}
	os.Setenv("PGPASSFILE", "/nonexistent/connectdb-test-pgpass")
	os.Exit(pgtest.Run(m, pgtest.Options{TLS: true}, &srv))
}

// result is what one run of encode-url produced.
type result struct {
	err    error
	code   int
	out    string
	errOut string
}

// runOpts runs runEncodeURL with opts, stdin and the given environment.
// setup may adjust the factory (globals, TTYs) before the run.
func runOpts(t testing.TB, opts EncodeURLOptions, stdin string, setup func(f *cmdutil.Factory)) result {
	t.Helper()
	io, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	f := cmdutil.NewFactory(io)
	f.Getenv = func(string) string { return "" }
	if setup != nil {
		setup(f)
	}
	opts.F = f
	err := runEncodeURL(context.Background(), &opts)
	return result{err: err, code: cmdutil.ExitCode(err), out: out.String(), errOut: errOut.String()}
}

// withOutput sets --output.
func withOutput(format string) func(*cmdutil.Factory) {
	return func(f *cmdutil.Factory) { f.Globals.Output = format }
}

// pgxParse parses a connection string with pgx and fails the test on error.
func pgxParse(t testing.TB, connString string) *pgconn.Config {
	t.Helper()
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		t.Fatalf("pgconn.ParseConfig: %v", err)
	}
	return cfg
}

// writeKey writes a fresh Connect secret key file (hex, mode 0600) and
// returns its path and the parsed key.
func writeKey(t testing.TB) (string, *secrets.Key) {
	t.Helper()
	raw := make([]byte, secrets.KeySize)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(raw)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, _, err := secrets.LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, k
}

// ciphertextRE matches an encrypted password value in gcfg or JSON output.
var ciphertextRE = regexp.MustCompile(`(Password = |"encrypted_password": ")[A-Za-z0-9+/=]{40,}`)

// normalise replaces what differs between runs: ciphertexts (random nonces)
// and temporary paths.
func normalise(s string, tmp ...string) string {
	s = ciphertextRE.ReplaceAllString(s, "${1}<ciphertext>")
	for _, p := range tmp {
		if p != "" {
			s = strings.ReplaceAll(s, p, "<tmp>")
		}
	}
	return s
}
