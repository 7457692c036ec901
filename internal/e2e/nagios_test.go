package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/connectdb/connectdb/internal/locks/lockstest"
)

// connectSetup makes a role and a database it owns, and a Connect config
// naming them; the password is in the environment, as on a Connect host.
func connectSetup(t *testing.T) (dir, role, db string, env []string) {
	t.Helper()
	role = srv.NewRole(t, "s3cret-pw")
	db = srv.NewDatabase(t, role)
	dir = t.TempDir()
	writeFile(t, dir, "rstudio-connect.gcfg", "[Database]\nProvider = postgres\n\n[Postgres]\nURL = \""+
		srv.URL(role, "", db, "sslmode=disable")+"\"\n")
	return dir, role, db, []string{"CONNECTDB_POSTGRES_PASSWORD=s3cret-pw"}
}

var statusLine = regexp.MustCompile(`^CONNECTDB (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+( \| [^\n]+)?$`)

// perf returns the value of one performance datum of a status line.
func perf(t *testing.T, line, label string) float64 {
	t.Helper()
	m := regexp.MustCompile(`[ |]` + label + `=([0-9.]+)[a-z]*;`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no perfdata %s in %q", label, line)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func firstLine(t *testing.T, r result) string {
	t.Helper()
	line, _, _ := strings.Cut(r.stdout, "\n")
	if !statusLine.MatchString(line) {
		t.Fatalf("first line is not a plugin status line: %q (stderr %q)", r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "s3cret-pw") || strings.Contains(r.stderr, "s3cret-pw") {
		t.Fatalf("the password appears in the output: %q %q", r.stdout, r.stderr)
	}
	return line
}

func TestCheckNagios(t *testing.T) {
	dir, _, db, env := connectSetup(t)
	base := []string{"check", "--config", "rstudio-connect.gcfg", "--output", "nagios", "--lock-id", "4242"}

	t.Run("ok", func(t *testing.T) {
		r := connectdb(t, dir, env, base...)
		line := firstLine(t, r)
		if r.code != 0 || !strings.HasPrefix(line, "CONNECTDB OK - ") {
			t.Fatalf("exit %d, want 0 OK:\n%s%s", r.code, r.stdout, r.stderr)
		}
		if free := perf(t, line, "free_slots"); free <= 0 || free > 100 {
			t.Errorf("free_slots = %v, want 1..100 (max_connections 100)", free)
		}
		if ct := perf(t, line, "connect_time"); ct <= 0 {
			t.Errorf("connect_time = %v, want > 0", ct)
		}
		if w := perf(t, line, "lock_wait"); w != 0 {
			t.Errorf("lock_wait = %v with the lock free, want 0", w)
		}
		if !strings.Contains(line, "free_slots=") || !strings.Contains(line, ";;;0;100") {
			t.Errorf("free_slots lacks min 0 and max 100: %q", line)
		}
	})

	t.Run("warning while the upgrade lock is held", func(t *testing.T) {
		lockstest.Hold(t, srv, db, "holder", "SELECT pg_advisory_lock(4242)")
		r := connectdb(t, dir, env, base...)
		line := firstLine(t, r)
		if r.code != 1 || !strings.HasPrefix(line, "CONNECTDB WARNING - ") || !strings.Contains(line, "pg.upgrade-lock") {
			t.Fatalf("exit %d, want 1 WARNING naming pg.upgrade-lock:\n%s%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "\nWARN pg.upgrade-lock (primary): ") {
			t.Errorf("no long-output line for the warning:\n%s", r.stdout)
		}
	})

	t.Run("critical when a check fails", func(t *testing.T) {
		r := connectdb(t, dir, env, append(base, "--nodes", "500")...)
		line := firstLine(t, r)
		if r.code != 2 || !strings.HasPrefix(line, "CONNECTDB CRITICAL - ") || !strings.Contains(line, "pool.max-connections") {
			t.Fatalf("exit %d, want 2 CRITICAL naming pool.max-connections:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("critical when the database refuses the login", func(t *testing.T) {
		r := connectdb(t, dir, []string{"CONNECTDB_POSTGRES_PASSWORD=wrong"}, base...)
		line := firstLine(t, r)
		if r.code != 2 || !strings.HasPrefix(line, "CONNECTDB CRITICAL - ") || !strings.Contains(line, "pg.connect") {
			t.Fatalf("exit %d, want 2 CRITICAL naming pg.connect:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	unknown := []unknownCase{
		{"bad flag value", append(base, "--pooler", "bogus"), "--pooler"},
		{"unknown flag", append(base, "--bogus"), "unknown flag: --bogus"},
		{"missing config", []string{"check", "--config", "nope.gcfg", "--output", "nagios"}, "nope.gcfg"},
		{"command without monitoring mode", []string{"size-pool", "--nodes", "2", "--max-connections", "100", "--output", "nagios"}, "not supported"},
	}
	assertUnknown(t, dir, env, unknown)
}

func TestShowLocksNagios(t *testing.T) {
	dir := t.TempDir()
	var env []string // the superuser's password is in the URL
	show := func(t *testing.T, extra ...string) (result, string) {
		t.Helper()
		args := append([]string{"show-locks", "--url", srv.SuperURL("postgres", "sslmode=disable"), "--output", "nagios", "--lock-id", "777"}, extra...)
		r := connectdb(t, dir, env, args...)
		return r, firstLine(t, r)
	}
	idleFor := func(t *testing.T, app, secs string) {
		t.Helper()
		lockstest.Until(t, srv, "postgres", "EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = '"+app+
			"' AND state = 'idle' AND now() - state_change > interval '"+secs+" seconds')")
	}

	t.Run("ok when free", func(t *testing.T) {
		r, line := show(t)
		if r.code != 0 || !strings.Contains(line, "CONNECTDB OK - upgrade lock 777 is free") || perf(t, line, "holders") != 0 {
			t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("levels by idle time", func(t *testing.T) {
		lockstest.Hold(t, srv, "postgres", "stuck-holder", "SELECT pg_advisory_lock(777)")
		// Held and idle, but for less than --warning: OK.
		r, line := show(t, "--warning", "1h", "--critical", "2h")
		if r.code != 0 || !strings.HasPrefix(line, "CONNECTDB OK - ") || perf(t, line, "holders") != 1 {
			t.Fatalf("idle < --warning: exit %d, want 0 OK:\n%s%s", r.code, r.stdout, r.stderr)
		}
		idleFor(t, "stuck-holder", "1.5")
		r, line = show(t, "--warning", "1s", "--critical", "1h")
		if r.code != 1 || !strings.HasPrefix(line, "CONNECTDB WARNING - upgrade lock 777 held by pid") || perf(t, line, "lock_idle") < 1 {
			t.Fatalf("idle > --warning: exit %d, want 1 WARNING with lock_idle >= 1:\n%s%s", r.code, r.stdout, r.stderr)
		}
		idleFor(t, "stuck-holder", "2.5")
		r, line = show(t, "--warning", "1s", "--critical", "2s")
		if r.code != 2 || !strings.HasPrefix(line, "CONNECTDB CRITICAL - ") || !strings.Contains(line, "looks stuck") {
			t.Fatalf("idle > --critical: exit %d, want 2 CRITICAL:\n%s%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(line, "lock_idle=") || !strings.Contains(line, "s;1;2;0;") {
			t.Errorf("lock_idle perfdata lacks the thresholds 1;2: %q", line)
		}
	})

	t.Run("ok while a migration runs", func(t *testing.T) {
		lockstest.Background(t, srv, "postgres", "connect", "SELECT pg_advisory_lock(778), pg_sleep(600)")
		lockstest.Until(t, srv, "postgres", "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 778 AND granted)")
		// Running for longer than both thresholds, yet active: still OK.
		lockstest.Until(t, srv, "postgres", "EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'connect' AND state = 'active' AND query_start < now() - interval '2.5 seconds')")
		r, line := show(t, "--lock-id", "778", "--warning", "1s", "--critical", "2s")
		if r.code != 0 || !strings.HasPrefix(line, "CONNECTDB OK - ") || !strings.Contains(line, "active session") {
			t.Fatalf("busy holder: exit %d, want 0 OK:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	unknown := []unknownCase{
		{"no lock id", []string{"show-locks", "--url", srv.SuperURL("postgres", "sslmode=disable"), "--output", "nagios"}, "--lock-id"},
		{"warning above critical", []string{"show-locks", "--url", srv.SuperURL("postgres", "sslmode=disable"), "--output", "nagios", "--lock-id", "1", "--warning", "20m"}, "--warning"},
		{"watch", []string{"show-locks", "--url", srv.SuperURL("postgres", "sslmode=disable"), "--output", "nagios", "--lock-id", "1", "--watch"}, "--watch"},
		{"unreachable", []string{"show-locks", "--url", srv.URL("nobody", "x", "postgres", "sslmode=disable"), "--output", "nagios", "--lock-id", "1"}, "cannot connect"},
	}
	assertUnknown(t, dir, env, unknown)
}

// unknownCase is a run that cannot check: UNKNOWN, exit 3, naming want.
type unknownCase struct {
	name string
	args []string
	want string
}

func assertUnknown(t *testing.T, dir string, env []string, cases []unknownCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run("unknown: "+tt.name, func(t *testing.T) {
			r := connectdb(t, dir, env, tt.args...)
			line := firstLine(t, r)
			if r.code != 3 || !strings.HasPrefix(line, "CONNECTDB UNKNOWN - ") || !strings.Contains(line, tt.want) {
				t.Fatalf("exit %d, want 3 UNKNOWN mentioning %q:\n%s%s", r.code, tt.want, r.stdout, r.stderr)
			}
		})
	}
}
