package check

import (
	"strings"
	"testing"
)

// TestStandbyFailsReadWrite: a URL that reaches a hot standby (a real
// streaming replica) fails pg.read-write clearly, and the privilege probe,
// which could only fail confusingly there, is skipped.
func TestStandbyFailsReadWrite(t *testing.T) {
	role, db, _ := ownedDB(t)
	standby := srv.Replica(t)
	rep := liveRun(t, standby.URL(role, pw, db), nil)
	wantStatus(t, rep, ScopePrimary, "pg.connect", Pass)
	wantStatus(t, rep, ScopePrimary, "pg.read-write", Fail, "read-only standby", "pg_is_in_recovery", "primary server, not a replica")
	wantStatus(t, rep, ScopePrimary, "pg.privileges", Skip, "pg.read-write failed")
	if rep.ExitCode(false) != 1 {
		t.Errorf("exit %d, want 1", rep.ExitCode(false))
	}
	// The same database on the primary passes.
	wantStatus(t, liveRun(t, srv.URL(role, pw, db), nil), ScopePrimary, "pg.read-write", Pass)
}

// TestTwoSchemasOneDatabase is the layout of Posit's Kubernetes operator:
// URL and InstrumentationURL reach the same database with different
// schemas. Both pass, and the connection budget counts both pools against
// the one server.
func TestTwoSchemasOneDatabase(t *testing.T) {
	role, db, _ := ownedDB(t)
	srv.MustExec(t, db, "CREATE SCHEMA connect AUTHORIZATION "+role+"; CREATE SCHEMA connect_metrics AUTHORIZATION "+role)
	url := srv.URL(role, pw, db, "options=-csearch_path%3Dconnect")
	instr := srv.URL(role, pw, db, "options=-csearch_path%3Dconnect_metrics")
	rep := liveRun2(t, url, instr, nil)
	for scope, schema := range map[Scope]string{ScopePrimary: "connect", ScopeInstrumentation: "connect_metrics"} {
		wantStatus(t, rep, scope, "pg.schema", Pass, "Schema "+schema+" exists")
		wantStatus(t, rep, scope, "pg.search-path", Pass, schema)
		wantStatus(t, rep, scope, "pg.privileges", Pass, "schema "+schema)
		wantStatus(t, rep, scope, "pool.max-connections", Pass, "Connect needs up to 20", "same server")
	}
	if rep.ExitCode(false) != 0 {
		t.Errorf("exit %d", rep.ExitCode(false))
	}
	// Both pools draw from one max_connections: 4 nodes x 10 x 2 = 80 fits
	// the 97 slots, 5 x 10 x 2 = 100 does not.
	nodes := func(n int) func(*Options) { return func(o *Options) { o.Input.Nodes = n } }
	wantStatus(t, liveRun2(t, url, instr, nodes(4)), ScopeInstrumentation, "pool.max-connections", Pass, "Connect needs up to 80")
	wantStatus(t, liveRun2(t, url, instr, nodes(5)), ScopePrimary, "pool.max-connections", Fail, "may open 100")
}

// TestSameServerUnderAnotherName: an InstrumentationURL that names the
// primary's server differently (localhost for 127.0.0.1) shares its
// max_connections, so both scopes count both pools.
func TestSameServerUnderAnotherName(t *testing.T) {
	_, _, url := ownedDB(t)
	_, _, iurl := ownedDB(t)
	iurl = strings.Replace(iurl, "127.0.0.1", "localhost", 1)
	rep := liveRun2(t, url, iurl, nil)
	for _, scope := range []Scope{ScopePrimary, ScopeInstrumentation} {
		wantStatus(t, rep, scope, "pool.max-connections", Pass, "Connect needs up to 20", "same server")
	}
}
