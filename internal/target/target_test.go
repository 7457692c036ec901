package target

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/connerr"
	"github.com/connectdb/connectdb/internal/dsn"
	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/pgtest"
	"github.com/connectdb/connectdb/internal/secrets"
)

var srv *pgtest.Server

func TestMain(m *testing.M) {
	code := pgtest.Run(m, pgtest.Options{TLS: true}, &srv)
	if plainSrv != nil {
		plainSrv.Stop()
	}
	os.Exit(code)
}

const sentinel = "S3ntinel#p@ss/word?é"

// factory returns a Factory reading config text from stdin ("-") or from
// the path given, with env as the whole environment.
func factory(t *testing.T, configText string, env map[string]string) *cmdutil.Factory {
	t.Helper()
	io, in, _, _ := iostreams.Test()
	f := cmdutil.NewFactory(io)
	f.Getenv = func(k string) string { return env[k] }
	f.Globals.ConfigPath = filepath.Join(t.TempDir(), "missing.gcfg")
	if configText != "" {
		in.WriteString(configText)
		f.Globals.ConfigPath, f.Globals.ConfigExplicit = "-", true
	}
	return f
}

func testKey(t *testing.T) (path string, key *secrets.Key) {
	t.Helper()
	path, err := filepath.Abs("../secrets/testdata/connect.key")
	if err != nil {
		t.Fatal(err)
	}
	key, _, err = secrets.LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, key
}

// noPasswordURL is a URL for user on db without sslmode, like an admin writes.
func noPasswordURL(user, db string, params ...string) string {
	u := fmt.Sprintf("postgres://%s@%s:%d/%s", user, srv.Host, srv.Port, db)
	if len(params) > 0 {
		u += "?" + strings.Join(params, "&")
	}
	return u
}

func connectOK(t *testing.T, tg *Target) {
	t.Helper()
	ctx := context.Background()
	c, err := tg.Connect(ctx, 10*time.Second)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close(ctx)
	var ssl bool
	var app string
	if err := c.QueryRow(ctx, "SELECT ssl, current_setting('application_name') FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl, &app); err != nil {
		t.Fatal(err)
	}
	if !ssl {
		t.Error("connection is not encrypted: Connect's sslmode default was not applied")
	}
	if !strings.HasPrefix(app, "connectdb/") {
		t.Errorf("application_name = %q, want connectdb/<version>", app)
	}
}

// TestEncryptedPasswordFromConfig is the path an admin follows: a URL without
// a password, and an encrypted Postgres.Password decrypted with Connect's key.
func TestEncryptedPasswordFromConfig(t *testing.T) {
	keyPath, key := testKey(t)
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)
	enc, err := key.Encrypt(sentinel, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("[Database]\nProvider = postgres\n[Postgres]\nURL = %q\nPassword = %s\n", noPasswordURL(role, db, "sslrootcert="+srv.CACertFile), enc)
	f := factory(t, cfg, map[string]string{})
	f.Globals.SecretKey = keyPath

	set, err := Resolve(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	p := set.Primary
	if p.SSLMode != "require" || p.PasswordSource != "<stdin>:5 (decrypted)" {
		t.Errorf("sslmode %q, password source %q", p.SSLMode, p.PasswordSource)
	}
	if !set.SharedMetrics || set.Instrumentation != nil || len(set.Targets()) != 1 {
		t.Errorf("metrics should share the primary database: %+v", set)
	}
	if strings.Contains(p.Redacted, sentinel) || strings.Contains(fmt.Sprintf("%v %+v", p.Redacted, p.Warnings), sentinel) {
		t.Error("password shown in a printable field")
	}
	connectOK(t, p)
}

func TestPasswordPrecedence(t *testing.T) {
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(sentinel+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := noPasswordURL(role, db, "sslrootcert="+srv.CACertFile)
	tests := []struct {
		name       string
		url        string
		env        map[string]string
		file       string
		wantSource string
	}{
		{"env beats config", base, map[string]string{"CONNECTDB_POSTGRES_PASSWORD": sentinel}, "", "CONNECTDB_POSTGRES_PASSWORD"},
		{"password file beats env", base, map[string]string{"CONNECTDB_POSTGRES_PASSWORD": "wrong"}, pwFile, "--password-file " + pwFile},
		{"PGPASSWORD as fallback", base, map[string]string{"PGPASSWORD": sentinel}, "", "PGPASSWORD"},
		{"URL password beats PGPASSWORD", srv.URL(role, sentinel, db, "sslmode=require"), map[string]string{"PGPASSWORD": "wrong"}, "", "the URL in --url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := factory(t, "", tt.env)
			f.Globals.URL, f.Globals.PasswordFile = tt.url, tt.file
			set, err := Resolve(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			if set.Primary.PasswordSource != tt.wantSource {
				t.Errorf("password source = %q, want %q", set.Primary.PasswordSource, tt.wantSource)
			}
			connectOK(t, set.Primary)
		})
	}
}

func TestSeparateInstrumentationAndSchema(t *testing.T) {
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)
	metrics := srv.NewDatabase(t, role)
	cfg := fmt.Sprintf("[Postgres]\nURL = %q\nInstrumentationURL = %q\n",
		noPasswordURL(role, db, "options=-csearch_path=connect_schema", "sslrootcert="+srv.CACertFile),
		noPasswordURL(role, metrics, "sslrootcert="+srv.CACertFile))
	f := factory(t, cfg, map[string]string{"CONNECTDB_POSTGRES_PASSWORD": sentinel, "CONNECTDB_INSTRUMENTATION_PASSWORD": sentinel})
	set, err := Resolve(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if set.SharedMetrics || set.Instrumentation == nil || len(set.Targets()) != 2 {
		t.Fatalf("want a separate instrumentation target, got %+v", set)
	}
	if set.Primary.Schema != "connect_schema" {
		t.Errorf("schema = %q, want connect_schema", set.Primary.Schema)
	}
	if !strings.HasPrefix(set.Primary.Source, "Postgres.URL (<stdin>:") {
		t.Errorf("source = %q, want it to name the config line", set.Primary.Source)
	}
	if set.Instrumentation.Database != metrics {
		t.Errorf("instrumentation database = %q, want %q", set.Instrumentation.Database, metrics)
	}
	connectOK(t, set.Instrumentation)
}

func TestResolveErrors(t *testing.T) {
	_, key := testKey(t)
	enc, _ := key.Encrypt(sentinel, false)
	tests := []struct {
		name     string
		config   string
		url      string
		explicit string
		env      map[string]string
		want     string
	}{
		{"no config and no url", "", "", "", nil, "no Connect config at"},
		{"explicit config missing", "", "", "/nonexistent/connect.gcfg", nil, "/nonexistent/connect.gcfg"},
		{"no url in config", "[Database]\nProvider = postgres\n", "", "", nil, "no PostgreSQL URL: set Postgres.URL"},
		{"unsupported scheme", "", "mysql://u@h/db", "", nil, "postgres://"},
		{"encrypted password without key", fmt.Sprintf("[Postgres]\nURL = \"postgres://u@h/db\"\nPassword = %s\n", enc), "", "", nil, "CONNECTDB_SECRET_KEY"},
		{"syntax error names the line", "[Postgres\nURL = x\n", "", "", nil, "<stdin>:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := factory(t, tt.config, tt.env)
			f.Globals.URL = tt.url
			if tt.explicit != "" {
				f.Globals.ConfigPath, f.Globals.ConfigExplicit = tt.explicit, true
			}
			_, err := Resolve(context.Background(), f)
			if err == nil {
				t.Fatal("want an error")
			}
			if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
				t.Errorf("exit code %d, want %d", cmdutil.ExitCode(err), cmdutil.ExitUsage)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), sentinel) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error leaks a secret or spans lines: %q", err)
			}
		})
	}
}

func TestConnectErrorIsRedacted(t *testing.T) {
	role := srv.NewRole(t, "right")
	f := factory(t, "", nil)
	f.Globals.URL = srv.URL(role, sentinel, "postgres")
	set, err := Resolve(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	_, err = set.Primary.Connect(context.Background(), 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("err = %v, want a password failure", err)
	}
	if strings.Contains(err.Error(), sentinel) {
		t.Fatalf("error leaks the password: %v", err)
	}
}

// TestConnectErrorExplainsCause: every command that connects through a
// Target tells the admin what went wrong and what to change.
func TestConnectErrorExplainsCause(t *testing.T) {
	f := factory(t, "", nil)
	f.Globals.URL = "postgres://u:" + dsn.EncodePassword(sentinel) + "@127.0.0.1:1/db"
	set, err := Resolve(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	_, err = set.Primary.Connect(context.Background(), 5*time.Second)
	var ce *ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want a *ConnectError", err, err)
	}
	if ce.Cause.ID != connerr.Unreachable {
		t.Errorf("cause = %q, want %q", ce.Cause.ID, connerr.Unreachable)
	}
	msg := err.Error()
	for _, want := range []string{"cannot connect to the primary database postgres://u:xxxxx@127.0.0.1:1/db", ce.Cause.Remedy, "connection refused"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, sentinel) || strings.Contains(msg, dsn.EncodePassword(sentinel)) || strings.Contains(msg, "\n") {
		t.Errorf("error leaks the password or spans lines: %q", msg)
	}
}
