package main_test

// libpq's variables in the admin's shell, through the real binary: main
// removes them from the process before pgx can read them, so a Connect
// config or --url target is checked with its URL alone (as Connect, a
// service without these variables, connects), while the libpq-environment
// target (no config, no URL) still reads them all.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connectdb/connectdb/internal/pgtest"
)

// checkJSON is the part of check's JSON these tests read.
type checkJSON struct {
	Targets []struct {
		Target     string `json:"target"`
		Source     string `json:"source"`
		Reached    bool   `json:"reached"`
		Connection *struct {
			Host     string   `json:"host"`
			TLS      string   `json:"tls"`
			Password string   `json:"password"`
			Warnings []string `json:"warnings"`
		} `json:"connection"`
	} `json:"targets"`
}

func TestPGEnvironment(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	srv, err := pgtest.Start(ctx, pgtest.Options{TLS: true})
	cancel()
	if err != nil {
		t.Fatalf("starting the test PostgreSQL server: %v", err)
	}
	t.Cleanup(srv.Stop)
	role := srv.NewRole(t, secretEnv)
	db := srv.NewDatabase(t, role)
	port := strconv.Itoa(srv.Port)

	// Only the default port answers in sockDir: Connect's URLs usually
	// name no port, and PGPORT used to fill one in.
	sockDir := t.TempDir()
	if err := os.Symlink(filepath.Join(srv.SocketDir, ".s.PGSQL."+port), filepath.Join(sockDir, ".s.PGSQL.5432")); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	cfg := filepath.Join(t.TempDir(), "rstudio-connect.gcfg")
	tcpURL := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=require", role, srv.Host, srv.Port, db)
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[Database]\nProvider = postgres\n[Postgres]\nURL = %q\n", tcpURL)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/etc/rstudio-connect/rstudio-connect.gcfg"); err == nil {
		t.Fatal("/etc/rstudio-connect/rstudio-connect.gcfg exists: the libpq-environment case needs a machine without a Connect config at the default path")
	}

	tests := []struct {
		name       string
		args       []string
		env        []string
		wantSource string
		wantTLS    string
		warned     []string // named in the one warning about the environment; none when nil
	}{
		{"--url without a port, PGPORT dead",
			[]string{"--url", fmt.Sprintf("postgres://%s@/%s?host=%s&sslmode=disable", role, db, sockDir)},
			[]string{"PGPORT=" + closed, "CONNECTDB_POSTGRES_PASSWORD=" + secretEnv},
			"--url", "not encrypted: a Unix socket", []string{"PGPORT"}},
		{"Connect config, TLS and session variables that break the connection",
			[]string{"--config", cfg},
			[]string{"PGSSLROOTCERT=/nonexistent/root.crt", "PGSSLCERT=/nonexistent/client.crt", "PGSSLKEY=/nonexistent/client.key",
				"PGTARGETSESSIONATTRS=standby", "PGOPTIONS=-c no_such.setting", "PGCONNECT_TIMEOUT=soon",
				"PGSERVICE=none-such", "PGSSLMODE=disable", "CONNECTDB_POSTGRES_PASSWORD=" + secretEnv},
			"Postgres.URL (" + cfg + ":4)", "TLS 1.3",
			[]string{"PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "PGCONNECT_TIMEOUT", "PGOPTIONS", "PGTARGETSESSIONATTRS", "PGSERVICE"}},
		{"libpq environment: no config, no URL",
			nil,
			[]string{"PGHOST=" + srv.Host, "PGPORT=" + port, "PGUSER=" + role, "PGDATABASE=" + db, "PGSSLMODE=verify-full",
				"PGSSLROOTCERT=" + srv.CACertFile, "PGTARGETSESSIONATTRS=read-write", "PGSSLNEGOTIATION=postgres", "PGTZ=UTC",
				"PGPASSWORD=" + secretEnv},
			"libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE, PGSSLROOTCERT, PGTARGETSESSIONATTRS, PGSSLNEGOTIATION, PGTZ)", "TLS 1.3", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"check", "--output", "json"}, tt.args...)
			o, err := runBinary(context.Background(), badCase{args: args, env: tt.env}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if o.code != 0 || strings.Contains(o.stdout+o.stderr, secretEnv) {
				t.Fatalf("exit %d, want 0 (check passes), or the password shown; stderr %q\nstdout %s", o.code, clip(o.stderr), clip(o.stdout))
			}
			var rep checkJSON
			if err := json.Unmarshal([]byte(o.stdout), &rep); err != nil {
				t.Fatalf("JSON: %v\n%s", err, clip(o.stdout))
			}
			if len(rep.Targets) != 1 || rep.Targets[0].Connection == nil {
				t.Fatalf("targets %+v", rep.Targets)
			}
			tg, c := rep.Targets[0], rep.Targets[0].Connection
			if !tg.Reached || tg.Source != tt.wantSource || !strings.HasPrefix(c.TLS, tt.wantTLS) {
				t.Errorf("reached %v from %q over %q; want from %q over %q", tg.Reached, tg.Source, c.TLS, tt.wantSource, tt.wantTLS)
			}
			var env []string
			for _, w := range c.Warnings {
				if strings.Contains(w, "set but ignored") {
					env = append(env, w)
				}
			}
			if tt.warned == nil {
				if len(env) != 0 {
					t.Errorf("warnings %q, want none about the environment", env)
				}
				return
			}
			if len(env) != 1 {
				t.Fatalf("warnings %q, want one about the environment", c.Warnings)
			}
			for _, v := range tt.warned {
				if !strings.Contains(env[0], v) {
					t.Errorf("warning %q does not name %s", env[0], v)
				}
			}
			if strings.Contains(env[0], "PGSSLMODE") || strings.Contains(env[0], "PGPASSWORD") {
				t.Errorf("warning %q names a variable that changed nothing", env[0])
			}

			// The text report says it once, under the target.
			o, err = runBinary(context.Background(), badCase{args: append([]string{"check"}, tt.args...), env: tt.env}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(o.stdout, "set but ignored"); n != 1 || !strings.Contains(o.stdout, "  warning:  "+env[0]) {
				t.Errorf("the text report says it %d times, want once as a warning line:\n%s", n, clip(o.stdout))
			}
		})
	}
}
