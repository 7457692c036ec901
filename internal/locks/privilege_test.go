package locks

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/locks/lockstest"
)

// connectAs opens a session of db as user with application_name app; the
// session ends with the test.
func connectAs(t *testing.T, user, password, db, app string) *pgx.Conn {
	t.Helper()
	return lockstest.HoldURL(t, srv.URL(user, password, db, "sslmode=disable", "application_name="+app))
}

func TestNonPrivilegedRole(t *testing.T) {
	ctx := context.Background()
	const pw = "S3ntinel-pw"
	connect := srv.NewRole(t, pw)
	admin := srv.NewRole(t, pw)
	db := srv.NewDatabase(t, connect)
	srv.MustExec(t, db, "GRANT CONNECT ON DATABASE "+db+" TO "+admin)

	holder := connectAs(t, connect, pw, db, "rstudio-connect")
	key := BigintKey(4242)
	if ok, err := key.TryLock(ctx, holder); err != nil || !ok {
		t.Fatal(err)
	}
	hp := backendPID(t, holder)

	// Without pg_read_all_stats the admin sees the lock but not the state.
	me := connectAs(t, admin, pw, db, "connectdb")
	snap, err := Read(ctx, me, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if snap.ReadAllStats || snap.Superuser || snap.SignalBackend {
		t.Fatalf("privileges: %+v", snap)
	}
	held := HeldBy(snap.Locks, key)
	if len(held) != 1 || held[0].PID != hp || held[0].Session == nil || held[0].Session.Visible || held[0].Session.User != connect {
		t.Fatalf("hidden holder: %+v %+v", held, held[0].Session)
	}
	if v := Assess(snap, held[0], 0); v.Kind != VerdictHidden || !strings.Contains(v.Text, "pg_read_all_stats") {
		t.Fatalf("verdict: %+v", v)
	}
	if m := Classify(held[0], nil, connect); m != PossiblyConnect {
		t.Fatalf("classify: %q", m)
	}
	p := MakePlan(snap, Selection{Key: &key})
	if len(p.Actionable()) != 0 || !strings.Contains(p.Candidates[0].Refused, "GRANT pg_read_all_stats TO "+admin) {
		t.Fatalf("plan without stats: %+v", p.Candidates)
	}

	// With pg_read_all_stats it sees the state but may not signal.
	srv.MustExec(t, "postgres", "GRANT pg_read_all_stats TO "+admin)
	snap, err = Read(ctx, me, ListOptions{AllDatabases: true})
	if err != nil {
		t.Fatal(err)
	}
	snap.Now = snap.Now.Add(aged) // the holder looks stuck: only the privilege is missing
	p = MakePlan(snap, Selection{Key: &key})
	if len(p.Actionable()) != 0 || !strings.Contains(p.Candidates[0].Refused, "GRANT pg_signal_backend TO "+admin) {
		t.Fatalf("plan without signal: %+v", p.Candidates)
	}
	// Forging the plan: PostgreSQL itself refuses, and the error says what to grant.
	forged := &Plan{Snapshot: snap, Candidates: []Candidate{p.Candidates[0]}}
	forged.Candidates[0].Action, forged.Candidates[0].Refused = ActionTerminate, ""
	if _, err := Execute(ctx, me, forged, Selection{Key: &key}, fast); err == nil || !strings.Contains(err.Error(), "pg_signal_backend") {
		t.Fatalf("forged plan: %v", err)
	}

	// With pg_signal_backend it ends the holder.
	srv.MustExec(t, "postgres", "GRANT pg_signal_backend TO "+admin)
	snap, err = Read(ctx, me, ListOptions{AllDatabases: true})
	if err != nil {
		t.Fatal(err)
	}
	snap.Now = snap.Now.Add(aged)
	p = MakePlan(snap, Selection{Key: &key})
	res, err := Execute(ctx, me, p, Selection{Key: &key}, fast)
	if err != nil || !res.OK() {
		t.Fatalf("release with pg_signal_backend: %+v %v", res, err)
	}
	for _, s := range []string{p.Candidates[0].Why, p.Candidates[0].Refused} {
		if strings.Contains(s, pw) {
			t.Fatal("password printed")
		}
	}
}

func TestSameRoleMaySignalItsOwnSessions(t *testing.T) {
	ctx := context.Background()
	const pw = "pw"
	connect := srv.NewRole(t, pw)
	db := srv.NewDatabase(t, connect)
	holder := connectAs(t, connect, pw, db, "rstudio-connect")
	key := PairKey(1, 2)
	if ok, err := key.TryLock(ctx, holder); err != nil || !ok {
		t.Fatal(err)
	}
	me := connectAs(t, connect, pw, db, "connectdb")
	snap, err := Read(ctx, me, ListOptions{AllDatabases: true})
	if err != nil {
		t.Fatal(err)
	}
	snap.Now = snap.Now.Add(aged)
	p := MakePlan(snap, Selection{Key: &key})
	if len(p.Actionable()) != 1 {
		t.Fatalf("same role: %+v", p.Candidates)
	}
	res, err := Execute(ctx, me, p, Selection{Key: &key}, fast)
	if err != nil || !res.OK() {
		t.Fatalf("same role release: %+v %v", res, err)
	}
}

func TestSuperuserHolderNeedsSuperuser(t *testing.T) {
	ctx := context.Background()
	const pw = "pw"
	admin := srv.NewRole(t, pw)
	db := srv.NewDatabase(t, "")
	srv.MustExec(t, "postgres", "GRANT pg_read_all_stats, pg_signal_backend TO "+admin)
	lockstest.Hold(t, srv, db, "su-holder", "SELECT pg_advisory_lock(66)")
	me := connectAs(t, admin, pw, db, "connectdb")
	snap, err := Read(ctx, me, ListOptions{AllDatabases: true})
	if err != nil {
		t.Fatal(err)
	}
	snap.Now = snap.Now.Add(aged)
	p := MakePlan(snap, Selection{Key: ptr(BigintKey(66))})
	if len(p.Actionable()) != 0 || !strings.Contains(p.Candidates[0].Refused, "superuser") {
		t.Fatalf("superuser holder: %+v", p.Candidates)
	}
}
