package target

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
