package locks

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/locks/lockstest"
)

// fast bounds Execute in tests. Grace is short because the tests that wait
// it out hold session-level locks, which a cancel never releases; Wait is
// long because Execute stops waiting as soon as the lock is gone.
var fast = ExecOptions{Grace: time.Second, Wait: time.Minute, Poll: 20 * time.Millisecond}

func plan(t *testing.T, me *pgx.Conn, sel Selection) *Plan {
	t.Helper()
	return planLater(t, me, sel, 0)
}

// planLater plans from a snapshot judged d later than it was read, as if
// every holder had been idle d longer: how the tests release holders that
// look stuck without waiting a minute. Execute still re-checks on the
// server that each holder is unchanged.
func planLater(t *testing.T, me *pgx.Conn, sel Selection, d time.Duration) *Plan {
	t.Helper()
	snap, err := Read(context.Background(), me, ListOptions{AllDatabases: true})
	if err != nil {
		t.Fatal(err)
	}
	snap.Now = snap.Now.Add(d)
	return MakePlan(snap, sel)
}

// aged is how much later planLater judges holders meant to look stuck.
const aged = 2 * MinTransactionIdle

func candidate(t *testing.T, p *Plan, pid int32) Candidate {
	t.Helper()
	for _, c := range p.Candidates {
		if c.PID == pid {
			return c
		}
	}
	t.Fatalf("pid %d is not a candidate: %+v", pid, p.Candidates)
	return Candidate{}
}

// waitFor polls until cond holds or fails the test after a minute (a
// generous bound for a loaded machine; it returns as soon as cond holds).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReleaseIdleAndIdleInTransaction(t *testing.T) {
	ctx := context.Background()
	db := srv.NewDatabase(t, "")
	me := srv.Conn(t, db)
	idle := lockstest.Hold(t, srv, db, "idle-holder", "SELECT pg_advisory_lock(4242)")
	inTx := lockstest.Hold(t, srv, db, "tx-holder", "BEGIN", "SELECT pg_advisory_xact_lock(10, 20)")
	k1, k2 := BigintKey(4242), PairKey(10, 20)
	for _, tc := range []struct {
		conn *pgx.Conn
		key  Key
	}{{idle, k1}, {inTx, k2}} {
		pid := backendPID(t, tc.conn)
		sel := Selection{Key: &tc.key}
		p := planLater(t, me, sel, aged)
		c := candidate(t, p, pid)
		if c.Action != ActionTerminate || c.Refused != "" {
			t.Fatalf("%v: want terminate, got %+v", tc.key, c)
		}
		res, err := Execute(ctx, me, p, sel, fast)
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() || len(res.Outcomes) != 1 || res.Outcomes[0].Done != "terminated" || len(res.Keys) != 1 || !res.Keys[0].Released {
			t.Fatalf("%v: result %+v", tc.key, res)
		}
		if held, err := List(ctx, me, ListOptions{Key: &tc.key}); err != nil || len(held) != 0 {
			t.Fatalf("%v still listed: %+v %v", tc.key, held, err)
		}
	}
}

func TestReleaseRefusesActiveHolderUnlessForced(t *testing.T) {
	ctx := context.Background()
	db := srv.NewDatabase(t, "")
	me := srv.Conn(t, db)
	h := lockstest.Hold(t, srv, db, "busy", "SELECT pg_advisory_lock(77)")
	pid := backendPID(t, h)
	errc := make(chan error, 1)
	go func() {
		_, err := h.Exec(ctx, "SELECT pg_sleep(60)")
		errc <- err
	}()
	key := BigintKey(77)
	waitFor(t, "the holder to be active", func() bool {
		p := plan(t, me, Selection{Key: &key})
		return len(p.Candidates) == 1 && p.Candidates[0].Session.State == "active"
	})
	p := plan(t, me, Selection{Key: &key})
	c := candidate(t, p, pid)
	if c.Action != "" || !strings.Contains(c.Refused, "--force") || !strings.Contains(c.Refused, "pg_sleep") {
		t.Fatalf("active holder not refused: %+v", c)
	}
	// Even when the plan is forged, the statement re-checks the state.
	forged := &Plan{Snapshot: p.Snapshot, Candidates: []Candidate{c}}
	forged.Candidates[0].Action = ActionTerminate
	res, err := Execute(ctx, me, forged, Selection{Key: &key}, fast)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() || res.Outcomes[0].Done != "not ended" {
		t.Fatalf("active holder ended without --force: %+v", res)
	}

	sel := Selection{Key: &key, Force: true}
	p = plan(t, me, sel)
	c = candidate(t, p, pid)
	if c.Action != ActionCancelTerminate {
		t.Fatalf("forced active holder: %+v", c)
	}
	res, err = Execute(ctx, me, p, sel, fast)
	if err != nil {
		t.Fatal(err)
	}
	// pg_sleep is cancelled, but a session-level lock survives a cancel:
	// the holder must then be terminated.
	if !res.OK() || res.Outcomes[0].Done != "cancelled, then terminated" {
		t.Fatalf("forced release: %+v", res)
	}
	if err := <-errc; err == nil {
		t.Fatal("pg_sleep was not interrupted")
	}
}

func TestReleaseCancelSufficesForTransactionLock(t *testing.T) {
	ctx := context.Background()
	db := srv.NewDatabase(t, "")
	me := srv.Conn(t, db)
	h := lockstest.Hold(t, srv, db, "busy-xact")
	pid := backendPID(t, h)
	errc := make(chan error, 1)
	go func() {
		_, err := h.Exec(ctx, "SELECT pg_advisory_xact_lock(5), pg_sleep(60)")
		errc <- err
	}()
	key := BigintKey(5)
	waitFor(t, "the holder to hold the lock", func() bool { return len(plan(t, me, Selection{Key: &key}).Candidates) == 1 })
	sel := Selection{Key: &key, Force: true}
	p := plan(t, me, sel)
	// A cancel releases a transaction-level lock once the transaction
	// aborts, which on a loaded machine may take more than fast's Grace:
	// give it a generous one (Execute stops waiting once the lock is gone).
	patient := fast
	patient.Grace = time.Minute
	res, err := Execute(ctx, me, p, sel, patient)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || res.Outcomes[0].Done != "cancelled" {
		t.Fatalf("transaction lock: %+v", res)
	}
	<-errc
	// The session survived: cancel was enough.
	if got := backendPID(t, h); got != pid {
		t.Fatalf("pid changed: %d != %d", got, pid)
	}
}

func TestReleaseWaiterAcquiresAfterRelease(t *testing.T) {
	ctx := context.Background()
	db := srv.NewDatabase(t, "")
	me := srv.Conn(t, db)
	h := lockstest.Hold(t, srv, db, "stuck", "SELECT pg_advisory_lock(31337)")
	hp := backendPID(t, h)
	w := lockstest.Hold(t, srv, db, "waiter")
	wp := backendPID(t, w)
	got := make(chan error, 1)
	go func() {
		_, err := w.Exec(ctx, "SELECT pg_advisory_lock(31337)")
		got <- err
	}()
	key := BigintKey(31337)
	waitFor(t, "the waiter to queue", func() bool {
		l, err := List(ctx, me, ListOptions{Key: &key})
		return err == nil && len(Waiting(l, key)) == 1
	})
	sel := Selection{Key: &key}
	p := planLater(t, me, sel, aged)
	if len(p.Actionable()) != 1 || p.Actionable()[0].PID != hp {
		t.Fatalf("plan: %+v", p.Candidates)
	}
	res, err := Execute(ctx, me, p, sel, fast)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	if !res.OK() {
		t.Fatalf("result: %+v", res)
	}
	// The waiter now holds it.
	held, _ := List(ctx, me, ListOptions{Key: &key})
	if len(held) != 1 || held[0].PID != wp || !held[0].Granted {
		t.Fatalf("after release: %+v", held)
	}
}

func TestReleaseRaceHolderExits(t *testing.T) {
	ctx := context.Background()
	db := srv.NewDatabase(t, "")
	me := srv.Conn(t, db)
	h := lockstest.Hold(t, srv, db, "leaving", "SELECT pg_advisory_lock(8)")
	key := BigintKey(8)
	sel := Selection{Key: &key}
	p := planLater(t, me, sel, aged)
	if len(p.Actionable()) != 1 {
		t.Fatalf("plan: %+v", p.Candidates)
	}
	// The holder exits between listing and action, and another session
	// takes the same key: it must not be ended.
	h.Close(ctx)
	other := lockstest.Hold(t, srv, db, "newcomer")
	waitFor(t, "the old holder to go", func() bool {
		ok, err := key.TryLock(ctx, other)
		return err == nil && ok
	})
	res, err := Execute(ctx, me, p, sel, fast)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() || res.Outcomes[0].Done != "not ended" {
		t.Fatalf("result: %+v", res)
	}
	if got := backendPID(t, other); got == 0 {
		t.Fatal("newcomer session died")
	}
	held, _ := List(ctx, me, ListOptions{Key: &key})
	if len(held) != 1 || held[0].PID != backendPID(t, other) {
		t.Fatalf("newcomer lost its lock: %+v", held)
	}
}

func TestReleaseOtherDatabaseNeedsFlag(t *testing.T) {
	db1, db2 := srv.NewDatabase(t, ""), srv.NewDatabase(t, "")
	me := srv.Conn(t, db1)
	lockstest.Hold(t, srv, db2, "elsewhere", "SELECT pg_advisory_lock(12)")
	key := BigintKey(12)
	p := plan(t, me, Selection{Key: &key})
	if len(p.Candidates) != 1 || !strings.Contains(p.Candidates[0].Skipped, "--all-databases") || len(p.Actionable()) != 0 {
		t.Fatalf("other database: %+v", p.Candidates)
	}
	p = planLater(t, me, Selection{Key: &key, AllDatabases: true}, aged)
	if len(p.Actionable()) != 1 {
		t.Fatalf("with --all-databases: %+v", p.Candidates)
	}
}

func TestReleaseNeverOwnSession(t *testing.T) {
	ctx := context.Background()
	db := srv.NewDatabase(t, "")
	me := srv.Conn(t, db)
	key := BigintKey(3)
	if ok, err := key.TryLock(ctx, me); err != nil || !ok {
		t.Fatal(err)
	}
	p := plan(t, me, Selection{Key: &key})
	if len(p.Actionable()) != 0 || len(p.Candidates) != 1 || !strings.Contains(p.Candidates[0].Skipped, "own session") {
		t.Fatalf("own session: %+v", p.Candidates)
	}
}

func TestReleaseIdleFor(t *testing.T) {
	db := srv.NewDatabase(t, "")
	me := srv.Conn(t, db)
	lockstest.Hold(t, srv, db, "fresh", "SELECT pg_advisory_lock(40)")
	key := BigintKey(40)
	p := plan(t, me, Selection{Key: &key, IdleFor: time.Hour})
	if len(p.Actionable()) != 0 || !strings.Contains(p.Candidates[0].Skipped, "--idle-for") {
		t.Fatalf("--idle-for 1h: %+v", p.Candidates)
	}
	// --idle-for compares with the server's clock: wait until the holder
	// has really been idle for a second.
	lockstest.Until(t, srv, db, lockstest.InState("fresh", "idle", 1100*time.Millisecond))
	p = plan(t, me, Selection{Key: &key, IdleFor: time.Second, StuckAfter: time.Second})
	if len(p.Actionable()) != 1 {
		t.Fatalf("--idle-for 1s: %+v", p.Candidates)
	}
}

// TestSeedAdviceUnlockAllFromAnotherSession shows that the admin guide's
// SELECT pg_advisory_unlock_all(), run from a second session, leaves another
// session's lock held; only the holding session itself can release it so.
func TestSeedAdviceUnlockAllFromAnotherSession(t *testing.T) {
	ctx := context.Background()
	db := srv.NewDatabase(t, "")
	h := lockstest.Hold(t, srv, db, "holder", "SELECT pg_advisory_lock(4242)")
	psql := srv.Conn(t, db)
	if _, err := psql.Exec(ctx, "SELECT pg_advisory_unlock_all()"); err != nil {
		t.Fatal(err)
	}
	held, err := List(ctx, psql, ListOptions{Key: ptr(BigintKey(4242))})
	if err != nil || len(held) != 1 || held[0].PID != backendPID(t, h) {
		t.Fatalf("after unlock_all from another session: %+v, %v", held, err)
	}
	if ok, _ := BigintKey(4242).TryLock(ctx, psql); ok {
		t.Fatal("second session got the lock")
	}
	if _, err := h.Exec(ctx, "SELECT pg_advisory_unlock_all()"); err != nil {
		t.Fatal(err)
	}
	if ok, err := BigintKey(4242).TryLock(ctx, psql); err != nil || !ok {
		t.Fatalf("after unlock_all in the holder, TryLock = %v, %v", ok, err)
	}
}

func TestReleaseRefusesMigrationLikeHolders(t *testing.T) {
	ctx := context.Background()
	db := srv.NewDatabase(t, "")
	me := srv.Conn(t, db)

	// An application name that looks like a migration tool.
	lockstest.Hold(t, srv, db, "connect-migrate", "SELECT pg_advisory_lock(21)")
	k21 := BigintKey(21)
	p := plan(t, me, Selection{Key: &k21})
	if len(p.Actionable()) != 0 || !strings.Contains(p.Refused()[0].Refused, "migration tool") {
		t.Fatalf("migration-like app: %+v", p.Candidates)
	}
	if p = plan(t, me, Selection{Key: &k21, Force: true}); len(p.Actionable()) != 1 {
		t.Fatalf("migration-like app with --force: %+v", p.Candidates)
	}

	// An idle holder while a sibling session (same role, client and
	// application) is running a statement: the migration may run there.
	lockstest.Hold(t, srv, db, "rstudio-connect", "SELECT pg_advisory_lock(22)")
	sib := lockstest.Hold(t, srv, db, "rstudio-connect")
	done := make(chan error, 1)
	go func() {
		_, err := sib.Exec(ctx, "SELECT pg_sleep(30)")
		done <- err
	}()
	t.Cleanup(func() { // runs before the sessions close
		srv.MustExec(t, db, "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'")
		<-done
	})
	k22 := BigintKey(22)
	waitFor(t, "the sibling to run", func() bool {
		snap, err := Read(ctx, me, ListOptions{})
		return err == nil && len(snap.Active) == 1
	})
	p = plan(t, me, Selection{Key: &k22})
	if len(p.Actionable()) != 0 || !strings.Contains(p.Refused()[0].Refused, "another connection") {
		t.Fatalf("idle holder with a busy sibling: %+v", p.Candidates)
	}
	if v := Assess(p.Snapshot, HeldBy(p.Snapshot.Locks, k22)[0], 0); v.Kind != VerdictBusy {
		t.Fatalf("verdict: %+v", v)
	}
}
