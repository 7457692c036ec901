package target

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/connectdb/connectdb/internal/cmdutil"
)

// TestLibpqEnvironment: with no --url and no Connect config, PG* variables
// and a service file choose the target as psql would, and say so.
func TestLibpqEnvironment(t *testing.T) {
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)
	svcFile := filepath.Join(t.TempDir(), "pg_service.conf")
	svc := fmt.Sprintf("[other]\nhost=nowhere.invalid\n\n[connect]\nhost=%s\nport=%d\ndbname=%s\nuser=%s\n", srv.SocketDir, srv.Port, db, role)
	if err := os.WriteFile(svcFile, []byte(svc), 0o600); err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(srv.Port)
	tests := []struct {
		name       string
		env        map[string]string
		wantSource string
		wantTLS    string
		wantPW     string
	}{
		{"PG variables", map[string]string{"PGHOST": srv.Host, "PGPORT": port, "PGUSER": role, "PGDATABASE": db, "PGSSLMODE": "require", "PGPASSWORD": sentinel},
			"libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE)", "TLS 1.3", "from PGPASSWORD"},
		{"psql's default sslmode is prefer", map[string]string{"PGHOST": srv.Host, "PGPORT": port, "PGUSER": role, "PGDATABASE": db, "PGPASSWORD": sentinel},
			"libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE)", "TLS 1.3", "from PGPASSWORD"},
		{"service file over a socket", map[string]string{"PGSERVICE": "connect", "PGSERVICEFILE": svcFile, "PGSYSCONFDIR": t.TempDir(), "PGHOST": "ignored.invalid"},
			"libpq environment (service connect in " + svcFile + ", PGHOST)", "not encrypted: a Unix socket", "none given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := factory(t, "", tt.env) // the default config path does not exist
			set, err := Resolve(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			p := set.Primary
			if p.Source != tt.wantSource {
				t.Errorf("source = %q, want %q", p.Source, tt.wantSource)
			}
			conn := connectReport(t, p)
			if !strings.HasPrefix(conn.TLS, tt.wantTLS) || conn.Password != tt.wantPW {
				t.Errorf("tls %q, password %q; want %q, %q", conn.TLS, conn.Password, tt.wantTLS, tt.wantPW)
			}
			if n := conn.Notes()[0]; !strings.Contains(n, "target from libpq environment") {
				t.Errorf("note %q does not say the target came from libpq's environment", n)
			}
		})
	}

	t.Run("from the process, after IsolatePGEnv", func(t *testing.T) {
		// As main runs it: the variables are in the process, main moves
		// them into Factory.Getenv, and every one still applies, the ones
		// psql reads besides the basic four included.
		processEnv(t, map[string]string{"PGHOST": srv.Host, "PGPORT": port, "PGUSER": role, "PGDATABASE": db,
			"PGSSLMODE": "verify-full", "PGSSLROOTCERT": srv.CACertFile, "PGOPTIONS": "-c search_path=elsewhere",
			"PGTARGETSESSIONATTRS": "read-write", "PGPASSWORD": sentinel})
		getenv := cmdutil.IsolatePGEnv()
		if _, ok := os.LookupEnv("PGHOST"); ok {
			t.Fatal("PGHOST is still in the process")
		}
		p, s, err := resolveAndConnect(t, "", getenv)
		if err != nil {
			t.Fatal(err)
		}
		want := "libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE, PGSSLROOTCERT, PGOPTIONS, PGTARGETSESSIONATTRS)"
		if p.Source != want || p.PasswordSource != "PGPASSWORD" {
			t.Errorf("source %q, password from %q; want %q, PGPASSWORD", p.Source, p.PasswordSource, want)
		}
		if !s.ssl || s.searchPath != "elsewhere" || p.SSLMode != "verify-full" || p.Config.TLSConfig == nil || p.Config.TLSConfig.RootCAs == nil {
			t.Errorf("session %+v, sslmode %q: PGSSLMODE, PGSSLROOTCERT or PGOPTIONS was not applied", s, p.SSLMode)
		}
		if p.Config.ValidateConnect == nil {
			t.Error("PGTARGETSESSIONATTRS=read-write was not applied")
		}
		if len(p.Warnings) != 0 {
			t.Errorf("warnings %q, want none", p.Warnings)
		}
	})

	t.Run("a Connect config wins", func(t *testing.T) {
		cfg := fmt.Sprintf("[Postgres]\nURL = %q\n", noPasswordURL(role, db, "sslrootcert="+srv.CACertFile))
		f := factory(t, cfg, map[string]string{"PGHOST": "elsewhere.invalid", "CONNECTDB_POSTGRES_PASSWORD": sentinel})
		set, err := Resolve(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(set.Primary.Source, "Postgres.URL") || !strings.Contains(strings.Join(set.Primary.Warnings, "\n"), "PGHOST is set but ignored: Connect does not read libpq's environment") {
			t.Errorf("source %q, warnings %q", set.Primary.Source, set.Primary.Warnings)
		}
		connectOK(t, set.Primary)
	})

	t.Run("unknown service", func(t *testing.T) {
		f := factory(t, "", map[string]string{"PGSERVICE": "nope", "PGSERVICEFILE": svcFile, "PGSYSCONFDIR": t.TempDir()})
		_, err := Resolve(context.Background(), f)
		if err == nil || !strings.Contains(err.Error(), `service "nope" (PGSERVICE) is not defined`) {
			t.Errorf("err = %v", err)
		}
	})
}
