package check

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/connerr"
	"github.com/connectdb/connectdb/internal/locks"
	"github.com/connectdb/connectdb/internal/pgtest"
)

const pw = "Secr3t-pw"

// ownedDB returns a role and a database it owns: everything passes.
func ownedDB(t *testing.T) (role, db, url string) {
	role = srv.NewRole(t, pw)
	db = srv.NewDatabase(t, role)
	return role, db, srv.URL(role, pw, db)
}

func TestAllPassOnOwnedDatabase(t *testing.T) {
	_, _, url := ownedDB(t)
	rep := liveRun(t, url, nil)
	for _, r := range rep.Results {
		if r.Status == Fail {
			t.Errorf("%s failed: %s", r.ID, r.Message)
		}
	}
	if rep.ExitCode(false) != 0 {
		t.Fatalf("exit %d", rep.ExitCode(false))
	}
	wantStatus(t, rep, ScopePrimary, "pg.tls", Pass, "TLS")
	wantStatus(t, rep, ScopePrimary, "pg.version", Pass, srv.Version)
	wantStatus(t, rep, ScopePrimary, "pg.privileges", Pass, "rolled back")
	if r := find(t, rep, ScopePrimary, "pg.latency"); r.Status != Pass && r.Status != Warn {
		t.Errorf("pg.latency %s: %s", r.Status, r.Message) // Warn only on a badly overloaded machine
	}
	wantStatus(t, rep, ScopePrimary, "pg.upgrade-lock", Skip, "--lock-id")
}

func TestPrivilegesPublicSchema(t *testing.T) {
	role := srv.NewRole(t, pw)
	db := srv.NewDatabase(t, "") // owned by the superuser
	srv.MustExec(t, db, "GRANT CONNECT ON DATABASE "+pgtest.QuoteIdent(db)+" TO "+role)
	url := srv.URL(role, pw, db)
	rep := liveRun(t, url, nil)
	if srv.Major >= 15 {
		r := wantStatus(t, rep, ScopePrimary, "pg.privileges", Fail, "PostgreSQL 15", "GRANT CREATE ON SCHEMA public TO "+role, "ALTER SCHEMA public OWNER TO")
		if rep.ExitCode(false) != 1 {
			t.Fatalf("exit %d, want 1 (%s)", rep.ExitCode(false), r.Message)
		}
		srv.MustExec(t, db, "GRANT CREATE ON SCHEMA public TO "+role)
		wantStatus(t, liveRun(t, url, nil), ScopePrimary, "pg.privileges", Pass)
		return
	}
	wantStatus(t, rep, ScopePrimary, "pg.privileges", Pass)
	srv.MustExec(t, db, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
	r := wantStatus(t, liveRun(t, url, nil), ScopePrimary, "pg.privileges", Fail, "CREATE TABLE", "GRANT USAGE, CREATE ON SCHEMA public TO "+role)
	if strings.Contains(r.Message, "PostgreSQL 15") {
		t.Errorf("PG %d message mentions PostgreSQL 15: %s", srv.Major, r.Message)
	}
}

func TestSchemaMissing(t *testing.T) {
	role, db, _ := ownedDB(t)
	url := srv.URL(role, pw, db, "options=-csearch_path%3Dconnect_schema")
	rep := liveRun(t, url, nil)
	wantStatus(t, rep, ScopePrimary, "url.search-path", Pass, "connect_schema")
	wantStatus(t, rep, ScopePrimary, "pg.schema", Fail, "does not exist", "CREATE SCHEMA connect_schema AUTHORIZATION "+role)
	wantStatus(t, rep, ScopePrimary, "pg.privileges", Skip, "pg.schema failed")

	srv.MustExec(t, db, "CREATE SCHEMA connect_schema AUTHORIZATION "+role)
	rep = liveRun(t, url, nil)
	wantStatus(t, rep, ScopePrimary, "pg.schema", Pass, "owned by "+role)
	wantStatus(t, rep, ScopePrimary, "pg.privileges", Pass, "connect_schema")
}

func TestSchemaOwnedThroughGroup(t *testing.T) {
	role := srv.NewRole(t, pw)
	group, other := role+"_team", role+"_other"
	srv.MustExec(t, "postgres", "CREATE ROLE "+group+" NOLOGIN; CREATE ROLE "+other+" NOLOGIN")
	t.Cleanup(func() { _ = srv.Exec(context.Background(), "postgres", "DROP ROLE IF EXISTS "+group+", "+other) })
	db := srv.NewDatabase(t, "")
	srv.MustExec(t, db, "GRANT CONNECT ON DATABASE "+pgtest.QuoteIdent(db)+" TO "+role)
	srv.MustExec(t, db, "CREATE SCHEMA team AUTHORIZATION "+group)
	srv.MustExec(t, db, "CREATE SCHEMA foreign_owned AUTHORIZATION "+other)
	srv.MustExec(t, db, "GRANT USAGE ON SCHEMA foreign_owned TO "+role)
	t.Cleanup(func() { _ = srv.Exec(context.Background(), db, "DROP SCHEMA team, foreign_owned CASCADE") })
	t.Cleanup(func() { _ = srv.Exec(context.Background(), "postgres", "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })

	url := srv.URL(role, pw, db, "options=-csearch_path%3Dforeign_owned")
	wantStatus(t, liveRun(t, url, nil), ScopePrimary, "pg.schema", Fail, "owned by "+other, "ALTER SCHEMA foreign_owned OWNER TO "+role)

	srv.MustExec(t, "postgres", "GRANT "+group+" TO "+role)
	url = srv.URL(role, pw, db, "options=-csearch_path%3Dteam")
	rep := liveRun(t, url, nil)
	wantStatus(t, rep, ScopePrimary, "pg.schema", Pass, group)
	wantStatus(t, rep, ScopePrimary, "pg.privileges", Pass, "team")
}

func TestWrongPassword(t *testing.T) {
	role, db, _ := ownedDB(t)
	rep := liveRun(t, srv.URL(role, "wrong-"+pw, db), nil)
	wantStatus(t, rep, ScopePrimary, "pg.connect", Fail, "Password authentication failed", connerr.PasswordFailed)
	wantStatus(t, rep, ScopePrimary, "pg.version", Skip, "pg.connect failed")
	if c := rep.Counts(); c[Fail] != 1 {
		t.Errorf("one root cause gave %d failures", c[Fail])
	}
	if rep.ExitCode(false) != 3 || rep.Reached(ScopePrimary) {
		t.Errorf("exit %d, want 3 (reached %v)", rep.ExitCode(false), rep.Reached(ScopePrimary))
	}
}

func TestMissingDatabase(t *testing.T) {
	role, _, _ := ownedDB(t)
	rep := liveRun(t, srv.URL(role, pw, "no_such_db"), nil)
	wantStatus(t, rep, ScopePrimary, "pg.connect", Fail, "blank database must already exist", "CREATE DATABASE no_such_db", connerr.DatabaseMissing)
}

func TestUpgradeLockHeld(t *testing.T) {
	_, db, url := ownedDB(t)
	lock := new(locks.BigintKey(4242))
	withLock := func(o *Options) { o.Lock = lock }
	wantStatus(t, liveRun(t, url, withLock), ScopePrimary, "pg.upgrade-lock", Pass, "free")

	holder := srv.Conn(t, db)
	if _, err := holder.Exec(context.Background(), "SELECT pg_advisory_lock(4242)"); err != nil {
		t.Fatal(err)
	}
	rep := liveRun(t, url, withLock)
	wantStatus(t, rep, ScopePrimary, "pg.upgrade-lock", Warn, "an upgrade is running or a lock is stuck: see connectdb show-locks", "holds")
	if rep.ExitCode(false) != 0 || rep.ExitCode(true) != 1 {
		t.Errorf("exit codes %d/%d, want 0 and 1 with --strict", rep.ExitCode(false), rep.ExitCode(true))
	}
	// Two int4 keys are a different lock.
	pair := func(o *Options) { o.Lock = new(locks.PairKey(0, 4242)) }
	wantStatus(t, liveRun(t, url, pair), ScopePrimary, "pg.upgrade-lock", Pass)
}

func TestReadOnlyAndTimeouts(t *testing.T) {
	role, db, url := ownedDB(t)
	srv.MustExec(t, "postgres", "ALTER DATABASE "+db+" SET default_transaction_read_only = on")
	srv.MustExec(t, "postgres", "ALTER ROLE "+role+" SET statement_timeout = '2s'")
	srv.MustExec(t, "postgres", "ALTER ROLE "+role+" IN DATABASE "+db+" SET lock_timeout = '10s'")
	rep := liveRun(t, url, nil)
	wantStatus(t, rep, ScopePrimary, "pg.read-write", Fail, "set on the database", "ALTER DATABASE "+db+" RESET default_transaction_read_only")
	wantStatus(t, rep, ScopePrimary, "pg.privileges", Skip)
	wantStatus(t, rep, ScopePrimary, "pg.timeouts", Warn, "statement_timeout is 2s (set on the role)", "ALTER ROLE "+role+" RESET statement_timeout",
		"ALTER ROLE "+role+" IN DATABASE "+db+" RESET lock_timeout")
}

func TestTinyStatementTimeout(t *testing.T) {
	role, _, url := ownedDB(t)
	srv.MustExec(t, "postgres", "ALTER ROLE "+role+" SET statement_timeout = '1ms'")
	rep := liveRun(t, url, nil)
	// 1ms may or may not cancel the
	// first query: either the connection reports it or pg.timeouts does.
	c := find(t, rep, ScopePrimary, "pg.connect")
	if c.Status == Fail {
		wantStatus(t, rep, ScopePrimary, "pg.connect", Fail, "statement_timeout", "ALTER ROLE "+role+" RESET statement_timeout")
		if !rep.Reached(ScopePrimary) || rep.ExitCode(false) != 1 {
			t.Errorf("a server that accepted the login: reached %v, exit %d", rep.Reached(ScopePrimary), rep.ExitCode(false))
		}
		return
	}
	wantStatus(t, rep, ScopePrimary, "pg.timeouts", Warn, "statement_timeout")
}

func TestEncodingNotUTF8(t *testing.T) {
	role := srv.NewRole(t, pw)
	db := "latin_" + strings.ToLower(role)
	srv.MustExec(t, "postgres", "CREATE DATABASE "+db+" OWNER "+role+" ENCODING 'SQL_ASCII' TEMPLATE template0")
	t.Cleanup(func() { _ = srv.Exec(context.Background(), "postgres", "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })
	wantStatus(t, liveRun(t, srv.URL(role, pw, db), nil), ScopePrimary, "pg.encoding", Warn, "SQL_ASCII", "ENCODING 'UTF8'")
}

func TestMaxConnectionsBudget(t *testing.T) {
	_, _, url := ownedDB(t)
	nodes := func(n, open int) func(*Options) {
		return func(o *Options) { o.Input.Nodes, o.Input.MaxOpenConnections = n, open }
	}
	wantStatus(t, liveRun(t, url, nodes(4, 10)), ScopePrimary, "pool.max-connections", Pass, "Connect needs up to 80")
	wantStatus(t, liveRun(t, url, nodes(4, 15)), ScopePrimary, "pool.max-connections", Fail, "may open 120", "max_connections")
}

// TestSmallServerWithoutTLS covers a second server: TLS off, max_connections 20.
func TestSmallServerWithoutTLS(t *testing.T) {
	small := startSmall(t, 20)
	role := small.NewRole(t, pw)
	db := small.NewDatabase(t, role)

	// No sslmode: Connect requires SSL, this server has none.
	rep := liveRun(t, small.URL(role, pw, db), nil)
	wantStatus(t, rep, ScopePrimary, "pg.connect", Fail, "SSL is not enabled", "sslmode=disable", connerr.SSLNotEnabled)
	if rep.ExitCode(false) != 3 {
		t.Errorf("exit %d, want 3", rep.ExitCode(false))
	}

	url := small.URL(role, pw, db, "sslmode=disable")
	nodes := func(n int) func(*Options) {
		return func(o *Options) { o.Input.Nodes, o.Input.MaxOpenConnections = n, 4 }
	}
	rep = liveRun(t, url, nodes(1))
	wantStatus(t, rep, ScopePrimary, "pg.connect", Pass)
	wantStatus(t, rep, ScopePrimary, "pg.tls", Pass, "loopback")
	wantStatus(t, rep, ScopePrimary, "pool.max-connections", Pass)
	wantStatus(t, liveRun(t, url, nodes(4)), ScopePrimary, "pool.max-connections", Fail, "may open 32", "max_connections to at least", "MaxOpenConnections = 2")
}

func TestClientCertificates(t *testing.T) {
	role := srv.NewRole(t, "")
	srv.MustExec(t, "postgres", "GRANT "+pgtest.CertGroup+" TO "+role)
	db := srv.NewDatabase(t, role)
	now := time.Now()
	certURL := func(cert, key, root string) string {
		return srv.URL(role, "", db, "sslmode=verify-full", "sslrootcert="+root, "sslcert="+cert, "sslkey="+key)
	}

	cert, key, root := srv.ClientCert(t, role, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	rep := liveRun(t, certURL(cert, key, root), nil)
	wantStatus(t, rep, ScopePrimary, "url.ssl-files", Pass)
	wantStatus(t, rep, ScopePrimary, "url.client-cert", Pass)
	wantStatus(t, rep, ScopePrimary, "url.cert-user", Pass)
	wantStatus(t, rep, ScopePrimary, "pg.connect", Pass)

	ecert, ekey, eroot := srv.ClientCert(t, role, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	rep = liveRun(t, certURL(ecert, ekey, eroot), nil)
	wantStatus(t, rep, ScopePrimary, "url.client-cert", Fail, "expired")
	wantStatus(t, rep, ScopePrimary, "pg.connect", Skip, "url.client-cert failed")

	scert, skey, sroot := srv.ClientCert(t, role, now.Add(-time.Hour), now.Add(10*24*time.Hour))
	wantStatus(t, liveRun(t, certURL(scert, skey, sroot), nil), ScopePrimary, "url.client-cert", Warn, "expires in 9 days")

	// A key from another certificate does not match.
	_, otherKey, _ := srv.ClientCert(t, "someone_else", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	wantStatus(t, liveRun(t, certURL(cert, otherKey, root), nil), ScopePrimary, "url.client-cert", Fail, "not the private key")

	// A CN other than the user needs a pg_ident map, and the server refuses it.
	ocert, okey, oroot := srv.ClientCert(t, "someone_else", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	rep = liveRun(t, certURL(ocert, okey, oroot), nil)
	wantStatus(t, rep, ScopePrimary, "url.cert-user", Warn, "pg_ident.conf", "posit-connect someone_else "+role)
	wantStatus(t, rep, ScopePrimary, "pg.connect", Fail, connerr.CertAuthFailed)

	// Key readable by others.
	if err := chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, liveRun(t, certURL(cert, key, root), nil), ScopePrimary, "url.ssl-files", Warn, "chmod 600")
}

// TestProbeLeavesNothingWhenConnectionDrops terminates the backend while
// the probe's transaction holds its table, and proves the table is gone.
// TestProbeLeavesNothingWhenConnectionDrops ends the probe's backend in
// the middle of the pipelined probe: the table exists (its lock is held)
// when the backend dies, and nothing is left afterwards.
func TestProbeLeavesNothingWhenConnectionDrops(t *testing.T) {
	_, db, url := ownedDB(t)
	admin := srv.Conn(t, db)
	ctx := context.Background()
	// The probe's test pause waits for this lock, after CREATE INDEX.
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", probePauseLock); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(ctx, "SELECT pg_advisory_unlock_all()")
	var called int
	hook := func(o *Options) {
		o.probeHook = func(step string, conn *pgx.Conn) {
			called++
			pid := conn.PgConn().PID()
			deadline := time.Now().Add(30 * time.Second)
			for {
				var waiting, tables int
				if err := admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE locktype = 'advisory' AND NOT granted),
					count(*) FILTER (WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock' AND granted)
					FROM pg_locks WHERE pid = $1`, pid).Scan(&waiting, &tables); err != nil {
					t.Error(err)
					return
				}
				if waiting == 1 {
					if tables == 0 {
						t.Errorf("the probe waits at %s but holds no new table", step)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("the probe never reached %s", step)
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
				t.Error(err)
			}
		}
	}
	rep := liveRun(t, url, hook)
	wantStatus(t, rep, ScopePrimary, "pg.privileges", Fail, "test pause")
	if called != 1 {
		t.Errorf("hook called %d times", called)
	}
	assertNoProbeTables(t, db)
	// And after a normal, passing run.
	wantStatus(t, liveRun(t, url, nil), ScopePrimary, "pg.privileges", Pass, "CREATE TABLE, ALTER TABLE, CREATE INDEX, INSERT, SELECT, UPDATE, DELETE")
	assertNoProbeTables(t, db)
}

func assertNoProbeTables(t *testing.T, db string) {
	t.Helper()
	var n int
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := srv.Conn(t, db).QueryRow(context.Background(), "SELECT count(*) FROM pg_class WHERE relname LIKE $1", ProbeTablePrefix+"%").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d probe relations left behind", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestInstrumentationRunsConcurrentlyAndBudget(t *testing.T) {
	_, _, url := ownedDB(t)
	_, _, iurl := ownedDB(t)
	rep := liveRun2(t, url, iurl, nil)
	wantStatus(t, rep, ScopePrimary, "pool.max-connections", Pass, "Connect needs up to 20", "same server")
	wantStatus(t, rep, ScopeInstrumentation, "pool.max-connections", Pass, "Connect needs up to 20")
	wantStatus(t, rep, ScopeInstrumentation, "pg.privileges", Pass)
	if len(rep.Targets) != 2 || !rep.Targets[0].Reached || !rep.Targets[1].Reached {
		t.Fatalf("targets %+v", rep.Targets)
	}
}

func TestVersionBounds(t *testing.T) {
	for _, tc := range []struct {
		num  int
		want Status
	}{{120022, Fail}, {130001, Pass}, {170000, Pass}, {180001, Warn}} {
		lc := &liveCtx{facts: facts{VersionNum: tc.num, ServerVersion: fmt.Sprintf("%d.%d", tc.num/10000, tc.num%100)}}
		if got := checkVersion(lc); got.Status != tc.want {
			t.Errorf("%d: %s (%s), want %s", tc.num, got.Status, got.Message, tc.want)
		}
	}
}

// startSmall starts a second server without TLS and with few connection slots.
func startSmall(t *testing.T, maxConnections int) *pgtest.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	small, err := pgtest.Start(ctx, pgtest.Options{MaxConnections: maxConnections})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(small.Stop)
	return small
}
