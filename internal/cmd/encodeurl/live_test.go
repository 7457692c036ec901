package encodeurl

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/config"
	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/pgtest"
	"github.com/connectdb/connectdb/internal/target"
)

// liveOpts are the flags that point encode-url at the test server, verifying
// its certificate against the test CA.
func liveOpts(user, db string) EncodeURLOptions {
	return EncodeURLOptions{User: user, Host: srv.Host, Port: srv.Port, Database: db,
		SSLMode: "verify-full", SSLRoot: srv.CACertFile, PasswordStdin: true}
}

// connectAndCheck logs in with url over TLS and checks who we are.
func connectAndCheck(t *testing.T, url, wantUser, wantDB string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("logging in with the URL encode-url built: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	var user, db string
	var ssl bool
	if err := conn.QueryRow(ctx, "SELECT current_user, current_database(), ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&user, &db, &ssl); err != nil {
		t.Fatal(err)
	}
	if user != wantUser || db != wantDB || !ssl {
		t.Fatalf("logged in as %q to %q with ssl=%v, want %q to %q over TLS", user, db, ssl, wantUser, wantDB)
	}
	return conn
}

// TestLiveLoginWithSeedPassword: a role whose password holds every special
// character the guide names logs in to a real server over TLS with the URL
// encode-url printed, both directly with pgx and through connectdb's own
// target package (as every other command would use the URL).
func TestLiveLoginWithSeedPassword(t *testing.T) {
	t.Logf("PostgreSQL %s", srv.Version)
	role := srv.NewRole(t, seedPassword)
	db := srv.NewDatabase(t, role)

	r := runOpts(t, liveOpts(role, db), seedPassword+"\n", nil)
	if r.err != nil {
		t.Fatalf("encode-url: %v (stderr %q)", r.err, r.errOut)
	}
	url := strings.TrimSuffix(r.out, "\n")
	connectAndCheck(t, url, role, db)

	// A wrong password must fail, so the login above proves the encoding.
	bad := runOpts(t, liveOpts(role, db), "p@ss#w!$%/?:word e\n", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if c, err := pgx.Connect(ctx, strings.TrimSpace(bad.out)); err == nil {
		c.Close(ctx)
		t.Fatal("a wrong password logged in; the test proves nothing")
	}

	// The same URL through connectdb's target resolution (--url).
	io, _, _, _ := iostreams.Test()
	f := cmdutil.NewFactory(io)
	f.Getenv = func(string) string { return "" }
	f.Globals.URL = url
	set, err := target.FromConfig(ctx, f, config.Default())
	if err != nil {
		t.Fatalf("target: %v", err)
	}
	conn, err := set.Primary.Connect(ctx, 20*time.Second)
	if err != nil {
		t.Fatalf("target connect: %v", err)
	}
	conn.Close(ctx)
}

// TestLiveSpecialUserAndSchema: a user name with special characters and a
// schema name that needs quoting both reach the server intact.
func TestLiveSpecialUserAndSchema(t *testing.T) {
	user := "enc ü@s:er/x#" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_"))
	pw := "p@ss w%41rd"
	srv.MustExec(t, "postgres", "CREATE ROLE "+pgtest.QuoteIdent(user)+" LOGIN PASSWORD "+pgtest.QuoteLiteral(pw))
	t.Cleanup(func() {
		ctx := context.Background()
		_ = srv.Exec(ctx, "postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", user)
		_ = srv.Exec(ctx, "postgres", "DROP ROLE IF EXISTS "+pgtest.QuoteIdent(user))
	})
	db := srv.NewDatabase(t, user)
	schema := `Connect "Schema" \ é`
	srv.MustExec(t, db, "CREATE SCHEMA "+pgtest.QuoteIdent(schema)+" AUTHORIZATION "+pgtest.QuoteIdent(user))

	o := liveOpts(user, db)
	o.Schema = schema
	r := runOpts(t, o, pw+"\n", nil)
	if r.err != nil {
		t.Fatalf("encode-url: %v", r.err)
	}
	conn := connectAndCheck(t, strings.TrimSpace(r.out), user, db)
	var cur string
	if err := conn.QueryRow(context.Background(), "SELECT current_schema()").Scan(&cur); err != nil {
		t.Fatal(err)
	}
	if cur != schema {
		t.Errorf("current_schema() = %q, want %q", cur, schema)
	}
}

// TestLiveGCfgEncryptedPassword: the [Postgres] block --gcfg prints, with
// the password encrypted by a Connect key, is read by connectdb's config
// loader and decrypted with the same key into a working login — in both
// encryption formats, for URL/Password and for the instrumentation pair.
func TestLiveGCfgEncryptedPassword(t *testing.T) {
	role := srv.NewRole(t, seedPassword)
	db := srv.NewDatabase(t, role)
	keyPath, _ := writeKey(t)
	ctx := context.Background()

	for _, tc := range []struct {
		name                  string
		fips, instrumentation bool
	}{{"secretbox", false, false}, {"fips", true, false}, {"instrumentation", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			o := liveOpts(role, db)
			o.GCfg, o.FIPS, o.Instrumentation = true, tc.fips, tc.instrumentation
			r := runOpts(t, o, seedPassword+"\n", func(f *cmdutil.Factory) { f.Globals.SecretKey = keyPath })
			if r.err != nil {
				t.Fatalf("encode-url --gcfg: %v (stderr %q)", r.err, r.errOut)
			}
			if strings.Contains(r.out, "p@ss") || strings.Contains(r.out, "p%40ss") {
				t.Fatalf("the gcfg block shows the password:\n%s", r.out)
			}
			block := r.out
			if tc.instrumentation {
				// The primary URL must exist for Connect; reuse the same
				// database without a password line of its own.
				block = "[Postgres]\nURL = \"postgres://nobody@127.0.0.1/none\"\n" + strings.TrimPrefix(r.out, "[Postgres]\n")
			}
			cfg, err := config.Parse("generated.gcfg", strings.NewReader("[Database]\nProvider = postgres\n"+block))
			if err != nil {
				t.Fatalf("config.Parse of the generated block: %v\n%s", err, block)
			}
			io, _, _, _ := iostreams.Test()
			f := cmdutil.NewFactory(io)
			f.Getenv = func(string) string { return "" }
			f.Globals.SecretKey = keyPath
			set, err := target.FromConfig(ctx, f, cfg)
			if err != nil {
				t.Fatalf("target from the generated block: %v", err)
			}
			tg := set.Primary
			if tc.instrumentation {
				tg = set.Instrumentation
			}
			if tg == nil || !strings.Contains(tg.PasswordSource, "decrypted") {
				t.Fatalf("the password did not come from the decrypted setting: %+v", tg)
			}
			conn, err := tg.Connect(ctx, 20*time.Second)
			if err != nil {
				t.Fatalf("connecting with the generated block: %v", err)
			}
			conn.Close(ctx)
		})
	}
}

// TestLiveCheckRepairsLogin: a hand-written URL with raw special characters
// fails with pgx, and the repaired URL --check --show-password prints logs in.
func TestLiveCheckRepairsLogin(t *testing.T) {
	role := srv.NewRole(t, "p@ss#w!rd/x?y")
	db := srv.NewDatabase(t, role)
	raw := "postgres://" + role + ":p@ss#w!rd/x?y@" + srv.Host + ":" + strconv.Itoa(srv.Port) + "/" + db +
		"?sslmode=verify-full&sslrootcert=" + srv.CACertFile
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if c, err := pgx.Connect(ctx, raw); err == nil {
		c.Close(ctx)
		t.Fatal("the unencoded URL logged in; the test proves nothing")
	}
	r := runOpts(t, EncodeURLOptions{Check: "-", CheckSet: true, ShowPassword: true}, raw+"\n", nil)
	if r.code != cmdutil.ExitFindings {
		t.Fatalf("exit code %d, want 1 (the URL as given does not work); stderr %q", r.code, r.errOut)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	var repaired string
	for i, l := range lines {
		if strings.HasPrefix(l, "Repaired URL (contains the password)") && i+1 < len(lines) {
			repaired = lines[i+1]
		}
	}
	if repaired == "" {
		t.Fatalf("no repaired URL in:\n%s", r.out)
	}
	connectAndCheck(t, repaired, role, db)
}
