package target

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connectdb/connectdb/internal/connerr"
	"github.com/connectdb/connectdb/internal/pgtest"
)

// plainSrv is a server without SSL, for sslmode=prefer falling back.
var plainSrv *pgtest.Server

func plainServer(t *testing.T) *pgtest.Server {
	t.Helper()
	if plainSrv == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		s, err := pgtest.Start(ctx, pgtest.Options{Major: srv.Major})
		if err != nil {
			t.Fatalf("starting a server without SSL: %v", err)
		}
		plainSrv = s
	}
	return plainSrv
}

// closedPort returns a TCP port on 127.0.0.1 nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return p
}

func resolveURL(t *testing.T, rawURL string, env map[string]string) *Target {
	t.Helper()
	f := factory(t, "", env)
	f.Globals.URL = rawURL
	set, err := Resolve(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return set.Primary
}

// connectReport connects to tg, closes the connection and returns its report.
func connectReport(t *testing.T, tg *Target) Connection {
	t.Helper()
	c, err := tg.Connect(context.Background(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close(context.Background())
	return tg.Connection()
}

func connectErr(t *testing.T, tg *Target) *ConnectError {
	t.Helper()
	c, err := tg.Connect(context.Background(), 10*time.Second)
	if err == nil {
		c.Close(context.Background())
		t.Fatal("connected, want a failure")
	}
	var ce *ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("error %T: %v", err, err)
	}
	if strings.Contains(err.Error(), sentinel) {
		t.Errorf("error shows the password: %v", err)
	}
	return ce
}

// TestPgpassAsLibpq: a password file is used only when group and others
// cannot read it, and pgx never reads one (nor PGPASSWORD) on its own: the
// process environment carries the right password in both, yet with a
// 0644 file the login has no password.
func TestPgpassAsLibpq(t *testing.T) {
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)
	home := t.TempDir()
	line := fmt.Sprintf("%s:%d:%s:%s:%s\n", srv.Host, srv.Port, db, role, strings.ReplaceAll(sentinel, ":", `\:`))
	pgpass := filepath.Join(home, ".pgpass")
	other := filepath.Join(t.TempDir(), "other.pgpass")
	for _, p := range []string{pgpass, other} {
		if err := os.WriteFile(p, []byte("# connectdb test\n*:*:nope:*:wrong\n"+line), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// What pgx would read by itself, if it were allowed to.
	t.Setenv("HOME", home)
	t.Setenv("PGPASSFILE", "")
	u := noPasswordURL(role, db, "sslrootcert="+srv.CACertFile)

	tests := []struct {
		name       string
		mode       os.FileMode
		env        map[string]string
		wantSource string
		wantWarn   string
	}{
		{"~/.pgpass 0600", 0o600, map[string]string{"HOME": home}, "~/.pgpass:3", ""},
		{"~/.pgpass 0644", 0o644, map[string]string{"HOME": home}, "", "ignoring password file " + pgpass + ": it is readable by group or others (mode 0644)"},
		{"PGPASSFILE 0600", 0o600, map[string]string{"HOME": home, "PGPASSFILE": other}, other + ":3", ""},
		{"PGPASSFILE 0640", 0o640, map[string]string{"HOME": home, "PGPASSFILE": other}, "", "ignoring password file " + other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := pgpass
			if tt.env["PGPASSFILE"] != "" {
				file = tt.env["PGPASSFILE"]
				t.Setenv("PGPASSFILE", file) // pgx would read it too
			}
			if err := os.Chmod(file, tt.mode); err != nil {
				t.Fatal(err)
			}
			tg := resolveURL(t, u, tt.env)
			conn := tg.Connection()
			warnings := strings.Join(conn.Warnings, "\n")
			if tt.wantWarn != "" && strings.Count(warnings, tt.wantWarn) != 1 || tt.wantWarn == "" && warnings != "" {
				t.Errorf("warnings = %q, want %q once", warnings, tt.wantWarn)
			}
			if tt.wantSource == "" {
				if conn.Password != "none given" {
					t.Errorf("password = %q, want none given", conn.Password)
				}
				ce := connectErr(t, tg)
				if ce.Cause.ID != connerr.PasswordMissing {
					t.Errorf("cause = %s (%s), want %s", ce.Cause.ID, ce.Cause.Summary, connerr.PasswordMissing)
				}
				return
			}
			if conn.Password != "from "+tt.wantSource {
				t.Errorf("password = %q, want from %s", conn.Password, tt.wantSource)
			}
			connectOK(t, tg)
		})
	}
}

// TestNoLibraryReadsPGPASSWORD: PGPASSWORD in the process environment but
// not in what connectdb was given (f.Getenv) is not used.
func TestNoLibraryReadsPGPASSWORD(t *testing.T) {
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)
	t.Setenv("PGPASSWORD", sentinel)
	t.Setenv("PGPASSFILE", "/nonexistent/pgpass")
	tg := resolveURL(t, noPasswordURL(role, db, "sslrootcert="+srv.CACertFile), map[string]string{})
	if ce := connectErr(t, tg); ce.Cause.ID != connerr.PasswordMissing {
		t.Errorf("cause = %s, want %s", ce.Cause.ID, connerr.PasswordMissing)
	}
}

// TestPasswordCauses: no password at all gives password-missing with the
// ways to give one; a wrong one stays password-authentication-failed.
func TestPasswordCauses(t *testing.T) {
	t.Setenv("PGPASSFILE", "/nonexistent/pgpass")
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)
	u := noPasswordURL(role, db, "sslrootcert="+srv.CACertFile)
	ce := connectErr(t, resolveURL(t, u, map[string]string{}))
	if ce.Cause.ID != connerr.PasswordMissing || !strings.Contains(ce.Cause.Remedy, "PGPASSWORD") || !strings.Contains(ce.Cause.Remedy, "--password-file") {
		t.Errorf("no password: %+v", ce.Cause)
	}
	ce = connectErr(t, resolveURL(t, u, map[string]string{"PGPASSWORD": "wrong-" + sentinel}))
	if ce.Cause.ID != connerr.PasswordFailed {
		t.Errorf("wrong password: %+v", ce.Cause)
	}
}

// TestMultiHost: the first host is down; the report names the host that
// answered and the one that failed, with why.
func TestMultiHost(t *testing.T) {
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)
	down := closedPort(t)
	u := fmt.Sprintf("postgres://%s@127.0.0.1:%d,localhost:%d/%s?sslmode=require", role, down, srv.Port, db)
	tg := resolveURL(t, u, map[string]string{"CONNECTDB_POSTGRES_PASSWORD": sentinel})
	conn := connectReport(t, tg)
	wantHost := fmt.Sprintf("localhost:%d (127.0.0.1)", srv.Port)
	if conn.Host != wantHost || !conn.Encrypted {
		t.Errorf("reached %q (encrypted %v), want %q", conn.Host, conn.Encrypted, wantHost)
	}
	if len(conn.FailedHosts) != 1 || conn.FailedHosts[0].Host != fmt.Sprintf("127.0.0.1:%d", down) || conn.FailedHosts[0].Cause != connerr.Unreachable {
		t.Errorf("failed hosts = %+v, want 127.0.0.1:%d unreachable", conn.FailedHosts, down)
	}
	if s := conn.Summary(); !strings.Contains(s, "reached "+wantHost) || !strings.Contains(s, "tried 127.0.0.1:") {
		t.Errorf("summary = %q", s)
	}

	// Both down: the error names each host and why.
	down2 := closedPort(t)
	u = fmt.Sprintf("postgres://%s@127.0.0.1:%d,127.0.0.1:%d/%s?sslmode=require", role, down, down2, db)
	ce := connectErr(t, resolveURL(t, u, map[string]string{"CONNECTDB_POSTGRES_PASSWORD": sentinel}))
	msg := ce.Error()
	for _, p := range []int{down, down2} {
		if !strings.Contains(msg, "127.0.0.1:"+strconv.Itoa(p)+": Nothing accepts") {
			t.Errorf("error does not name host port %d: %s", p, msg)
		}
	}
}

// TestUnixSocketForms: both ways of writing a socket directory connect,
// and the report says why the connection is not encrypted.
func TestUnixSocketForms(t *testing.T) {
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)
	forms := map[string]string{
		"host parameter": fmt.Sprintf("postgres://%s@/%s?host=%s&port=%d", role, db, srv.SocketDir, srv.Port),
		"%2F host":       fmt.Sprintf("postgres://%s@%s:%d/%s", role, url.PathEscape(srv.SocketDir), srv.Port, db),
	}
	for name, u := range forms {
		t.Run(name, func(t *testing.T) {
			if name == "%2F host" && !strings.Contains(u, "%2F") {
				t.Fatalf("test URL %s is not in the %%2F form", u)
			}
			tg := resolveURL(t, u, map[string]string{})
			if tg.Host != srv.SocketDir {
				t.Errorf("host = %q, want %q", tg.Host, srv.SocketDir)
			}
			conn := connectReport(t, tg)
			if conn.Host != filepath.Join(srv.SocketDir, ".s.PGSQL."+strconv.Itoa(srv.Port)) {
				t.Errorf("reached %q", conn.Host)
			}
			if conn.Encrypted || !strings.Contains(conn.TLS, "Unix socket") {
				t.Errorf("tls = %q", conn.TLS)
			}
		})
	}
}

// TestTLSReport: sslmode=prefer is encrypted where the server offers SSL
// and says why not where it does not; sslmode=disable says so.
func TestTLSReport(t *testing.T) {
	plain := plainServer(t)
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)
	prole := plain.NewRole(t, sentinel)
	pdb := plain.NewDatabase(t, prole)
	env := map[string]string{"CONNECTDB_POSTGRES_PASSWORD": sentinel}
	tests := []struct {
		name, url, tls string
		encrypted      bool
	}{
		{"prefer, SSL on", srv.URL(role, "", db, "sslmode=prefer"), "TLS 1.3", true},
		{"prefer, SSL off", plain.URL(prole, "", pdb, "sslmode=prefer"), "not encrypted: the server did not accept SSL, and sslmode=prefer fell back", false},
		{"disable", srv.URL(role, "", db, "sslmode=disable"), "not encrypted: the URL sets sslmode=disable", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := resolveURL(t, tt.url, env)
			conn := connectReport(t, tg)
			if conn.Encrypted != tt.encrypted || !strings.HasPrefix(conn.TLS, tt.tls) {
				t.Errorf("tls = %q (encrypted %v), want %q", conn.TLS, conn.Encrypted, tt.tls)
			}
			if conn.Password != "from CONNECTDB_POSTGRES_PASSWORD" {
				t.Errorf("password = %q", conn.Password)
			}
		})
	}
}

// TestPasswordSourceFromConfigFile: a password decrypted from the config
// names the file and line it was set on.
func TestPasswordSourceFromConfigFile(t *testing.T) {
	keyPath, key := testKey(t)
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)
	enc, err := key.Encrypt(sentinel, false)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rstudio-connect.gcfg")
	text := fmt.Sprintf("; Connect\n[Database]\nProvider = postgres\n\n[Postgres]\nURL = %q\nPassword = %s\n", noPasswordURL(role, db, "sslrootcert="+srv.CACertFile), enc)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	f := factory(t, "", map[string]string{"PGPASSWORD": "wrong"})
	f.Globals.ConfigPath, f.Globals.ConfigExplicit, f.Globals.SecretKey = path, true, keyPath
	set, err := Resolve(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if conn := connectReport(t, set.Primary); conn.Password != "from "+path+":7 (decrypted)" {
		t.Errorf("password = %q", conn.Password)
	}
}
