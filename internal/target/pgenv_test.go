package target

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connectdb/connectdb/internal/cmdutil"
)

// processEnv puts env into the process environment, where pgx reads it,
// and puts back the process's own PG* variables when the test ends. While
// env is in the process, the test server's helpers must not be used: they
// connect with pgx too.
func processEnv(t *testing.T, env map[string]string) {
	t.Helper()
	saved := pgVars()
	t.Cleanup(func() {
		for k := range pgVars() {
			os.Unsetenv(k)
		}
		for k, v := range saved {
			os.Setenv(k, v)
		}
	})
	for k, v := range env {
		os.Setenv(k, v)
	}
}

// pgVars returns the PG* variables of the process.
func pgVars() map[string]string {
	out := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PG") {
			out[k] = v
		}
	}
	return out
}

// session is what a connection shows of the settings it was made with.
type session struct {
	ssl               bool
	app, searchPath   string
	port, dialTimeout int
}

// resolveAndConnect resolves the Connect config text with getenv as the
// environment, connects and reads back the session.
func resolveAndConnect(t *testing.T, configText string, getenv func(string) string) (*Target, session, error) {
	t.Helper()
	f := factory(t, configText, nil)
	f.Getenv = getenv
	set, err := Resolve(context.Background(), f)
	if err != nil {
		return nil, session{}, err
	}
	p := set.Primary
	ctx := context.Background()
	c, err := p.Connect(ctx, 10*time.Second)
	if err != nil {
		return p, session{}, err
	}
	defer c.Close(ctx)
	var s session
	err = c.QueryRow(ctx, `SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false),
		current_setting('application_name'), current_setting('search_path'), current_setting('port')::int`).Scan(&s.ssl, &s.app, &s.searchPath, &s.port)
	s.dialTimeout = int(p.Config.ConnectTimeout / time.Second)
	return p, s, err
}

// TestPGEnvironmentIgnoredForConnectsURL: with the target from the Connect
// config, libpq's variables in connectdb's own environment no longer change
// the connection, though pgx reads them as defaults for what the URL leaves
// out: each case first shows that they did (the connection fails or differs
// while they are in the process), then that after cmdutil.IsolatePGEnv, as
// main calls it, the connection is the one Connect makes, with one warning
// naming the variables that would have changed it.
func TestPGEnvironmentIgnoredForConnectsURL(t *testing.T) {
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)
	// A socket directory where only the default port answers: a URL
	// without a port reaches the server there, as Connect's URLs usually
	// name no port.
	sockDir := t.TempDir()
	if err := os.Symlink(filepath.Join(srv.SocketDir, ".s.PGSQL."+strconv.Itoa(srv.Port)), filepath.Join(sockDir, ".s.PGSQL.5432")); err != nil {
		t.Fatal(err)
	}
	socketURL := fmt.Sprintf("postgres://%s@/%s?host=%s&sslmode=disable", role, db, sockDir)
	tcpURL := noPasswordURL(role, db, "sslmode=require")

	tests := []struct {
		name string
		url  string
		env  map[string]string
		// changed reports how the connection made while env was in the
		// process differs from Connect's; "" means it did not differ.
		changed func(s session, err error) string
		warn    []string // the variables the warning names; none when nil
	}{
		{"PGPORT", socketURL, map[string]string{"PGPORT": strconv.Itoa(closedPort(t))},
			failed, []string{"PGPORT"}},
		{"PGSSLROOTCERT", tcpURL, map[string]string{"PGSSLROOTCERT": "/nonexistent/root.crt"},
			failed, []string{"PGSSLROOTCERT"}},
		{"PGSSLCERT and PGSSLKEY", tcpURL, map[string]string{"PGSSLCERT": "/nonexistent/client.crt", "PGSSLKEY": "/nonexistent/client.key"},
			failed, []string{"PGSSLCERT", "PGSSLKEY"}},
		{"PGSSLNEGOTIATION, PGSSLCERTMODE, PGCHANNELBINDING, PGREQUIREAUTH", tcpURL,
			map[string]string{"PGSSLNEGOTIATION": "none-such", "PGSSLCERTMODE": "require", "PGCHANNELBINDING": "none-such", "PGREQUIREAUTH": "none-such"},
			failed, []string{"PGSSLNEGOTIATION", "PGSSLCERTMODE", "PGCHANNELBINDING", "PGREQUIREAUTH"}},
		{"PGTARGETSESSIONATTRS", tcpURL, map[string]string{"PGTARGETSESSIONATTRS": "standby"},
			failed, []string{"PGTARGETSESSIONATTRS"}},
		{"PGOPTIONS", tcpURL, map[string]string{"PGOPTIONS": "-c search_path=elsewhere"},
			func(s session, err error) string {
				if err != nil || s.searchPath == "elsewhere" {
					return fmt.Sprintf("search_path %q, err %v", s.searchPath, err)
				}
				return ""
			}, []string{"PGOPTIONS"}},
		{"PGCONNECT_TIMEOUT", tcpURL, map[string]string{"PGCONNECT_TIMEOUT": "7"},
			func(s session, err error) string {
				if err != nil || s.dialTimeout == 7 {
					return fmt.Sprintf("connect_timeout %d, err %v", s.dialTimeout, err)
				}
				return ""
			}, []string{"PGCONNECT_TIMEOUT"}},
		{"PGSERVICE", tcpURL, map[string]string{"PGSERVICE": "none-such", "PGSERVICEFILE": filepath.Join(t.TempDir(), "missing.conf")},
			failed, []string{"PGSERVICE"}},
		{"PGHOST", tcpURL, map[string]string{"PGHOST": "nowhere.invalid"},
			nil, []string{"PGHOST"}},
		// The URL (with Connect's sslmode and connectdb's application_name
		// added) already sets these, so they never changed anything.
		{"PGSSLMODE and PGAPPNAME", noPasswordURL(role, db), map[string]string{"PGSSLMODE": "disable", "PGAPPNAME": "from-the-shell"},
			nil, nil},
		{"PGPASSWORD", tcpURL, map[string]string{"PGPASSWORD": "wrong"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fmt.Sprintf("[Postgres]\nURL = %q\n", tt.url)
			own := map[string]string{"CONNECTDB_POSTGRES_PASSWORD": sentinel}
			processEnv(t, tt.env)
			if tt.changed != nil {
				// Before: the variables reach pgx through the process.
				_, s, err := resolveAndConnect(t, cfg, func(k string) string { return own[k] })
				if tt.changed(s, err) == "" {
					t.Fatalf("with %v in the process, the connection is Connect's: the case does not test anything", tt.env)
				}
			}

			getenv := cmdutil.IsolatePGEnv()
			for k, v := range tt.env {
				if _, ok := os.LookupEnv(k); ok || getenv(k) != v {
					t.Fatalf("after IsolatePGEnv, %s is in the process or not in its getenv (%q)", k, getenv(k))
				}
			}
			p, s, err := resolveAndConnect(t, cfg, func(k string) string {
				if v, ok := own[k]; ok {
					return v
				}
				return getenv(k)
			})
			if err != nil {
				t.Fatalf("connect with %v ignored: %v", tt.env, err)
			}
			if strings.HasPrefix(tt.url, "postgres://"+role+"@/") {
				if s.ssl || s.port != srv.Port || p.Port != 5432 {
					t.Errorf("ssl %v, server port %d, target port %d; want a socket at the default port", s.ssl, s.port, p.Port)
				}
			} else if !s.ssl {
				t.Error("not encrypted: Connect's sslmode was not used")
			}
			if !strings.HasPrefix(s.app, "connectdb/") || s.searchPath == "elsewhere" || s.dialTimeout == 7 {
				t.Errorf("session %+v: a variable of the shell was applied", s)
			}
			var warned []string
			for _, w := range p.Warnings {
				if strings.Contains(w, "set but ignored") {
					warned = append(warned, w)
				}
			}
			switch {
			case tt.warn == nil && len(warned) > 0:
				t.Errorf("warnings %q, want none about the environment", warned)
			case tt.warn != nil && len(warned) != 1:
				t.Errorf("warnings %q, want one naming %v", p.Warnings, tt.warn)
			case tt.warn != nil:
				for _, v := range tt.warn {
					if !strings.Contains(warned[0], v) {
						t.Errorf("warning %q does not name %s", warned[0], v)
					}
				}
				if !strings.Contains(warned[0], "Connect does not read libpq's environment") {
					t.Errorf("warning %q does not say why", warned[0])
				}
			}
		})
	}
}

// failed is a changed func for variables that break the connection.
func failed(_ session, err error) string {
	if err != nil {
		return err.Error()
	}
	return ""
}

// TestIgnoredLibpqEnv: the warning names each variable set whose setting
// the URL leaves out, PGHOST and PGSERVICE always, never the passwords.
func TestIgnoredLibpqEnv(t *testing.T) {
	env := map[string]string{"PGHOST": "h", "PGPORT": "1", "PGUSER": "u", "PGDATABASE": "d", "PGSSLMODE": "disable",
		"PGOPTIONS": "-cx=y", "PGTZ": "UTC", "PGSERVICE": "s", "PGSERVICEFILE": "/f", "PGPASSWORD": "p", "PGPASSFILE": "/p"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		conn string
		want []string
	}{
		{"postgres://connect@db/connect?sslmode=require", []string{"PGHOST", "PGPORT", "PGOPTIONS", "PGTZ", "PGSERVICE"}},
		{"postgres://connect@db:5432/connect?sslmode=require&options=-csearch_path%3Dc&timezone=UTC", []string{"PGHOST", "PGSERVICE"}},
		{"postgres://db:5432,db2/?sslmode=require", []string{"PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGOPTIONS", "PGTZ", "PGSERVICE"}},
		{"postgres://connect@/connect?host=/run/pg&port=5433&sslmode=require", []string{"PGHOST", "PGOPTIONS", "PGTZ", "PGSERVICE"}},
	}
	for _, tt := range tests {
		if got := ignoredLibpqEnv(getenv, tt.conn); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.conn, got, tt.want)
		}
	}
	if w := ignoredEnvWarning([]string{"PGPORT", "PGSSLROOTCERT"}); w != "PGPORT and PGSSLROOTCERT are set but ignored: Connect does not read libpq's environment, so connectdb uses the URL alone" {
		t.Errorf("warning %q", w)
	}
}
