package root

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connectdb/connectdb/internal/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, pgtest.Options{TLS: true}, &srv)) }

// sentinel has the characters that need escaping in a URL, a pgpass line
// and a shell.
const sentinel = "Sent:inel#p@ss/w'rd"

// TestSentinelNeverPrinted runs the database commands with the password
// coming from every source connectdb reads (and from one it must refuse),
// right and wrong, in text and JSON: the password never appears in any
// output, and every run reports where its password came from.
func TestSentinelNeverPrinted(t *testing.T) {
	role := srv.NewRole(t, sentinel) // Connect's own unprivileged role
	db := srv.NewDatabase(t, role)
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	esc := strings.ReplaceAll(sentinel, ":", `\:`)
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodPass := write("good.pgpass", fmt.Sprintf("*:*:%s:%s:%s\n", db, role, esc), 0o600)
	openPass := write("open.pgpass", fmt.Sprintf("*:*:%s:%s:%s\n", db, role, esc), 0o644)
	svc := write("pg_service.conf", fmt.Sprintf("[connect]\nhost=%s\nport=%d\ndbname=%s\nuser=%s\nsslmode=require\npassword=%s\n", srv.Host, srv.Port, db, role, sentinel), 0o600)
	noPW := srv.URL(role, "", db)
	withPW := srv.URL(role, sentinel, db)
	cfg := write("connect.gcfg", fmt.Sprintf("[Database]\nProvider = postgres\n[Postgres]\nURL = %q\n", noPW), 0o600)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	twoHosts := strings.Replace(withPW, srv.Host+":", down+","+srv.Host+":", 1)

	base := map[string]string{"HOME": home, "PGPASSFILE": filepath.Join(dir, "none")}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	sources := []struct {
		name     string
		flags    []string
		env      map[string]string
		wantPW   string // in the connection report
		wantCode int    // of show-locks
	}{
		{"inline in --url", []string{"--url", withPW}, base, "password from the URL in --url", 0},
		{"PGPASSWORD", []string{"--url", noPW}, with("PGPASSWORD", sentinel), "password from PGPASSWORD", 0},
		{"pgpass 0600", []string{"--url", noPW}, with("PGPASSFILE", goodPass), "password from " + goodPass + ":1", 0},
		{"pgpass 0644 refused", []string{"--url", noPW}, with("PGPASSFILE", openPass), "ignoring password file", 3},
		{"service file", nil, with("PGSERVICE", "connect", "PGSERVICEFILE", svc, "PGSYSCONFDIR", dir), "target from libpq environment (service connect in " + svc + ")", 0},
		{"CONNECTDB_POSTGRES_PASSWORD with --config", []string{"--config", cfg}, with("CONNECTDB_POSTGRES_PASSWORD", sentinel), "password from CONNECTDB_POSTGRES_PASSWORD", 0},
		{"wrong password", []string{"--url", noPW}, with("PGPASSWORD", sentinel+"-wrong"), "Password authentication failed", 3},
		{"two hosts, first down", []string{"--url", twoHosts}, base, "tried " + down, 0},
	}
	commands := [][]string{
		{"show-locks"},
		{"check", "--nodes", "2"},
		{"size-pool", "--nodes", "2"},
		{"release-locks", "--pid", "1"},
	}
	for _, src := range sources {
		for _, c := range commands {
			for _, format := range []string{"text", "json"} {
				args := append(append(append([]string{}, c...), src.flags...), "--output", format)
				code, out, errOut := run(t, src.env, args...)
				all := out + errOut
				for _, leak := range []string{sentinel, esc, strings.ReplaceAll(sentinel, "'", `'\''`)} {
					if strings.Contains(all, leak) {
						t.Errorf("%s: %v prints the password:\n%s", src.name, c, all)
					}
				}
				if c[0] == "show-locks" {
					if code != src.wantCode {
						t.Errorf("%s: show-locks --output %s exit %d, want %d:\n%s", src.name, format, code, src.wantCode, all)
					}
					if !strings.Contains(all, src.wantPW) {
						t.Errorf("%s: show-locks --output %s does not say %q:\n%s", src.name, format, src.wantPW, all)
					}
				}
			}
		}
	}
}
