package sizepool

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/pgtest"
	"github.com/connectdb/connectdb/internal/pool"
	"github.com/connectdb/connectdb/internal/pool/probe"
)

// srv is a deliberately small server: max_connections = 20, and on
// PostgreSQL 16+ two reserved_connections besides the three for superusers.
var srv *pgtest.Server

// reservedOn16 is the reserved_connections the server gets on 16+.
const reservedOn16 = 2

func TestMain(m *testing.M) {
	opts := pgtest.Options{MaxConnections: 20}
	if major, err := pgtest.Major(); err == nil && major >= 16 {
		opts.Settings = map[string]string{"reserved_connections": fmt.Sprint(reservedOn16)}
	}
	os.Exit(pgtest.Run(m, opts, &srv))
}

const sentinel = "S3ntinel-pa55:word@#!"

// liveCluster is a Connect database with clients already connected: three
// backup connections from another role and one from Connect's own user (a
// node that is already running).
type liveCluster struct {
	connectRole, otherRole, db, url string
}

func startCluster(t *testing.T) liveCluster {
	t.Helper()
	c := liveCluster{connectRole: srv.NewRole(t, sentinel), otherRole: srv.NewRole(t, "other-pw")}
	c.db = srv.NewDatabase(t, c.connectRole)
	c.url = srv.URL(c.connectRole, sentinel, c.db, "sslmode=disable")
	hold := func(url string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatalf("holding a connection: %v", err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
	}
	for range 3 {
		hold(srv.URL(c.otherRole, "other-pw", c.db, "sslmode=disable", "application_name=nightly-backup"))
	}
	hold(srv.URL(c.connectRole, sentinel, c.db, "sslmode=disable", "application_name=rstudio-connect"))
	return c
}

func liveJSON(t *testing.T, opts *SizePoolOptions, changed ...string) (jsonReport, result) {
	t.Helper()
	opts.F.Globals.Output = "json"
	r := run(t, opts, changed...)
	var rep jsonReport
	if r.code == cmdutil.ExitUsage || r.code == cmdutil.ExitUnreachable {
		t.Fatalf("exit code %d: %v", r.code, r.err)
	}
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r.out)
	}
	return rep, r
}

func findGroup(gs []probe.ClientGroup, app, user string) (probe.ClientGroup, bool) {
	for _, g := range gs {
		if g.Application == app && g.User == user {
			return g, true
		}
	}
	return probe.ClientGroup{}, false
}

// TestLiveModes runs size-pool against the live server once per
// instrumentation and pooler mode.
func TestLiveModes(t *testing.T) {
	c := startCluster(t)
	wantReserved := 0
	if srv.Major >= 16 {
		wantReserved = reservedOn16
	}
	otherPort := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	}()

	tests := []struct {
		name      string
		mod       func(*SizePoolOptions)
		changed   []string
		wantInstr pool.Instrumentation
		wantCode  int
		check     func(t *testing.T, rep jsonReport)
	}{
		{"metrics share the server by default and double the pool", func(*SizePoolOptions) {}, nil, pool.MetricsSame, 1, func(t *testing.T, rep jsonReport) {
			if rep.Evaluation.WorstCase != 2*10*2 || rep.Evaluation.Fits {
				t.Errorf("worst case %d fits %v, want 40 that does not fit", rep.Evaluation.WorstCase, rep.Evaluation.Fits)
			}
		}},
		{"an instrumentation database on the same server still doubles", func(o *SizePoolOptions) {
			o.F.Globals.InstrumentationURL = srv.URL(c.connectRole, sentinel, "postgres", "sslmode=disable")
		}, nil, pool.MetricsSame, 1, nil},
		{"an instrumentation database on another server leaves one pool here", func(o *SizePoolOptions) {
			o.F.Globals.InstrumentationURL = "postgres://metrics@127.0.0.1:" + otherPort + "/metrics?sslmode=disable"
			o.MaxOpen = 2
		}, []string{"max-open"}, pool.MetricsSeparate, 0, func(t *testing.T, rep jsonReport) {
			if rep.Evaluation.WorstCase != 2*2 {
				t.Errorf("worst case %d, want 4", rep.Evaluation.WorstCase)
			}
		}},
		{"metrics off opens one pool per node", func(o *SizePoolOptions) { o.Instrumentation, o.MaxOpen, o.MaxIdle = "off", 3, 3 }, []string{"instrumentation", "max-open", "max-idle"}, pool.MetricsOff, 0, func(t *testing.T, rep jsonReport) {
			if rep.Evaluation.WorstCase != 6 || !rep.Evaluation.Fits {
				t.Errorf("worst case %d fits %v, want 6 that fits", rep.Evaluation.WorstCase, rep.Evaluation.Fits)
			}
		}},
		{"a session pooler with zero idle passes the idle rule", func(o *SizePoolOptions) { o.Pooler, o.MaxIdle, o.MaxOpen = "session", 0, 2 }, []string{"pooler", "max-idle", "max-open"}, pool.MetricsSame, 0, func(t *testing.T, rep jsonReport) {
			if v := verdictOf(rep, pool.CheckIdleRetention); v != pool.Pass {
				t.Errorf("idle-retention = %s, want pass", v)
			}
			if rep.Recommendation.MaxIdle != 0 {
				t.Errorf("recommended idle %d behind a session pooler, want 0", rep.Recommendation.MaxIdle)
			}
		}},
		{"a transaction pooler warns about advisory locks", func(o *SizePoolOptions) { o.Pooler, o.MaxOpen = "transaction", 2 }, []string{"pooler", "max-open"}, pool.MetricsSame, 0, func(t *testing.T, rep jsonReport) {
			if v := verdictOf(rep, pool.CheckPoolerLocking); v != pool.Warn {
				t.Errorf("pooler-locking = %s, want warn", v)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			waitForSessionsToEnd(t, c.connectRole, "connectdb%")
			opts := newOptions(t)
			opts.F.Globals.URL = c.url
			opts.Nodes, opts.Reserve = 2, 1
			tt.mod(opts)
			rep, r := liveJSON(t, opts, append(tt.changed, "nodes", "reserve")...)
			if r.code != tt.wantCode {
				t.Errorf("exit code %d, want %d (%v)", r.code, tt.wantCode, r.err)
			}
			s := rep.Server
			if rep.Mode != "live" || s.MaxConnections != 20 || s.SuperuserReserved != 3 || s.Reserved != wantReserved {
				t.Fatalf("server = %+v (mode %s), want max 20, superuser 3, reserved %d", s, rep.Mode, wantReserved)
			}
			backup, ok := findGroup(rep.Clients, "nightly-backup", c.otherRole)
			if !ok || backup.Connections != 3 || backup.Connect {
				t.Errorf("clients %+v lack 3 nightly-backup connections of another user", rep.Clients)
			}
			// The Connect role has no pg_read_all_stats: it cannot see the
			// backend type of another user's sessions and counts them anyway.
			if backup.Hidden != 3 || !strings.Contains(strings.Join(rep.Notes, "\n"), "grant it pg_monitor") {
				t.Errorf("hidden = %d, notes %q; want 3 hidden sessions and a pg_monitor note", backup.Hidden, rep.Notes)
			}
			own, ok := findGroup(rep.Clients, "rstudio-connect", c.connectRole)
			if !ok || own.Connections != 1 || !own.Connect {
				t.Errorf("clients %+v lack the running node's connection marked as Connect's", rep.Clients)
			}
			others := 0
			for _, g := range rep.Clients {
				if !g.Connect {
					others += g.Connections
				}
				if strings.HasPrefix(g.Application, "connectdb") && g.User == c.connectRole {
					t.Errorf("size-pool counted its own session: %+v", g)
				}
			}
			if s.Others != others || others < 3 {
				t.Errorf("other clients %d, groups say %d (want ≥ 3)", s.Others, others)
			}
			if want := 20 - 3 - wantReserved - others - 1; s.Available != want {
				t.Errorf("available %d, want %d", s.Available, want)
			}
			if rep.Instrumentation != string(tt.wantInstr) {
				t.Errorf("instrumentation %s, want %s", rep.Instrumentation, tt.wantInstr)
			}
			rec := rep.Recommendation
			if rec.Feasible && rec.WorstCase > s.Available {
				t.Errorf("recommendation needs %d, only %d available", rec.WorstCase, s.Available)
			}
			if !strings.Contains(rep.Target, c.connectRole) || strings.Contains(r.out, sentinel) {
				t.Errorf("target %q should name the role and hide the password", rep.Target)
			}
			if tt.check != nil {
				tt.check(t, rep)
			}
		})
	}
}

// TestLiveConfigFromStdin reads the Connect config once from stdin: its
// [Database] values and its Postgres.URL, which live mode connects to.
func TestLiveConfigFromStdin(t *testing.T) {
	c := startCluster(t)
	opts := newOptions(t)
	opts.F.Globals.ConfigPath, opts.F.Globals.ConfigExplicit = "-", true
	opts.F.IO.In = strings.NewReader(fmt.Sprintf("[Database]\nProvider = postgres\nMaxOpenConnections = 2\nMaxIdleConnections = 2\n\n[Postgres]\nURL = %q\n", c.url))
	opts.Nodes = 2
	rep, r := liveJSON(t, opts, "nodes")
	if r.code != 0 {
		t.Errorf("exit code %d, want 0 (%v): %+v %+v", r.code, r.err, rep.Server, rep.Evaluation.Checks)
	}
	if rep.Mode != "live" || rep.Current.MaxOpen != 2 || rep.Current.OpenFrom != "<stdin>:3" || rep.Server.MaxConnections != 20 {
		t.Errorf("mode %s, current %+v, server %+v; want live, 2 from <stdin>:3, max_connections 20", rep.Mode, rep.Current, rep.Server)
	}
	if strings.Contains(r.out, sentinel) {
		t.Errorf("password leaked in the report")
	}
}

// waitForSessionsToEnd waits until the backends of the previous run have
// exited: a closed connection's backend leaves pg_stat_activity a moment
// after the client hangs up.
func waitForSessionsToEnd(t *testing.T, user, appLike string) {
	t.Helper()
	conn := srv.Conn(t, "postgres")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var n int
		err := conn.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND application_name LIKE $2", user, appLike).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions of %s still open after 10s", n, user)
		}
	}
}

func verdictOf(rep jsonReport, id string) pool.Verdict {
	for _, c := range rep.Evaluation.Checks {
		if c.ID == id {
			return c.Verdict
		}
	}
	return ""
}

// TestLiveNeverShowsThePassword runs every output format, and a failing
// connection, with a sentinel password in the URL.
func TestLiveNeverShowsThePassword(t *testing.T) {
	c := startCluster(t)
	for _, output := range []string{"text", "json", "gcfg"} {
		t.Run(output, func(t *testing.T) {
			opts := newOptions(t)
			opts.F.Globals.URL, opts.F.Globals.Output = c.url, output
			opts.Nodes = 1
			r := run(t, opts, "nodes")
			if r.code != 0 && r.code != 1 {
				t.Fatalf("exit code %d: %v", r.code, r.err)
			}
			for _, s := range []string{r.out, r.errOut, fmt.Sprint(r.err)} {
				if strings.Contains(s, sentinel) || strings.Contains(s, "pa55") {
					t.Errorf("password leaked: %q", s)
				}
			}
			if output == "text" && !strings.Contains(r.out, "nightly-backup") {
				t.Errorf("text output lacks the other clients:\n%s", r.out)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		opts := newOptions(t)
		opts.F.Globals.Timeout = 3 * time.Second
		opts.F.Globals.URL = strings.Replace(c.url, fmt.Sprintf(":%d/", srv.Port), ":1/", 1)
		opts.Nodes = 1
		r := run(t, opts, "nodes")
		if r.code != cmdutil.ExitUnreachable {
			t.Fatalf("exit code %d, want 3 (%v)", r.code, r.err)
		}
		if strings.Contains(r.err.Error(), sentinel) || strings.Contains(r.err.Error(), "pa55") {
			t.Errorf("password leaked in %q", r.err)
		}
	})
}

// TestLiveProbeAsSuperuser reads the limits as a superuser, who sees every
// session's backend type, so nothing is hidden and background processes
// are left out.
func TestLiveProbeAsSuperuser(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t)
	conn := srv.Conn(t, "postgres")
	facts, err := probe.Read(ctx, conn, c.connectRole)
	if err != nil {
		t.Fatal(err)
	}
	if facts.Hidden() != 0 {
		t.Errorf("a superuser saw %d hidden sessions: %+v", facts.Hidden(), facts.Clients)
	}
	if g, ok := findGroup(facts.Clients, "nightly-backup", c.otherRole); !ok || g.Connections != 3 {
		t.Errorf("clients %+v lack the 3 backup connections", facts.Clients)
	}
	if facts.ConnectHeld() != 1 {
		t.Errorf("Connect's user holds %d, want 1", facts.ConnectHeld())
	}
	for _, g := range facts.Clients {
		if g.User == "(none)" {
			t.Errorf("a background process was counted as a client: %+v", g)
		}
	}
	if facts.MaxConnections != 20 || facts.SuperuserReserved != 3 {
		t.Errorf("facts %+v, want max_connections 20, superuser_reserved 3", facts)
	}
	if srv.Major >= 16 && facts.Reserved != reservedOn16 {
		t.Errorf("reserved_connections %d on %d, want %d", facts.Reserved, srv.Major, reservedOn16)
	}
	if srv.Major < 16 && facts.Reserved != 0 {
		t.Errorf("reserved_connections %d before 16, want 0", facts.Reserved)
	}
	if !strings.HasPrefix(facts.Version, fmt.Sprint(srv.Major)) {
		t.Errorf("version %q, want %d.x", facts.Version, srv.Major)
	}
}
