package locks

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/locks/lockstest"
)

// reportVerdict returns show-locks' verdict on pid's rows in snap.
func reportVerdict(t *testing.T, snap *Snapshot, pid int32, stuckAfter time.Duration) *Verdict {
	t.Helper()
	rep := BuildReport(snap, nil, "", "", stuckAfter)
	for _, l := range rep.Locks {
		if l.PID == pid && l.Granted {
			return l.Verdict
		}
	}
	t.Fatalf("pid %d holds nothing in the report", pid)
	return nil
}

// TestReleaseRefusesMigrationInFlight is issue 16 item 2: a holder idle in
// a transaction right after a CREATE TABLE is a migration between two
// steps. show-locks says so, and release-locks, obeying the same verdict,
// refuses to end it, whatever --stuck-after says, until --force; as a
// superuser, as Connect's own unprivileged role, and as an unprivileged
// admin granted pg_read_all_stats and pg_signal_backend.
func TestReleaseRefusesMigrationInFlight(t *testing.T) {
	ctx := context.Background()
	const pw = "Mig-pw-31"
	for _, as := range []string{"superuser", "connect role", "admin with grants"} {
		t.Run(as, func(t *testing.T) {
			connect := srv.NewRole(t, pw)
			db := srv.NewDatabase(t, connect)
			holderURL := srv.URL(connect, pw, db, "sslmode=disable", "application_name=rstudio-connect")
			holder := lockstest.HoldURL(t, holderURL, "BEGIN", "SELECT pg_advisory_xact_lock(4242)", "CREATE TABLE schema_step (id int)")
			hp := backendPID(t, holder)
			lockstest.Until(t, srv, db, lockstest.InState("rstudio-connect", "idle in transaction", 0))

			var me *pgx.Conn
			switch as {
			case "superuser":
				me = srv.Conn(t, db)
			case "connect role":
				me = connectAs(t, connect, pw, db, "connectdb")
			default:
				admin := srv.NewRole(t, pw)
				srv.MustExec(t, "postgres", fmt.Sprintf("GRANT CONNECT ON DATABASE %s TO %s", db, admin))
				srv.MustExec(t, "postgres", "GRANT pg_read_all_stats, pg_signal_backend TO "+admin)
				me = connectAs(t, admin, pw, db, "connectdb")
			}
			key := BigintKey(4242)
			snap, err := Read(ctx, me, ListOptions{AllDatabases: true})
			if err != nil {
				t.Fatal(err)
			}
			shown := reportVerdict(t, snap, hp, 0)
			if shown.Kind != VerdictRecent || !strings.Contains(shown.Text, "may be between migration steps") || shown.StuckIn <= 0 || shown.StuckIn > MinTransactionIdle {
				t.Fatalf("show-locks verdict: %+v", shown)
			}
			for _, stuckAfter := range []time.Duration{0, time.Second, time.Nanosecond} {
				p := MakePlan(snap, Selection{Key: &key, StuckAfter: stuckAfter})
				c := candidate(t, p, hp)
				if c.Action != "" || len(p.Actionable()) != 0 {
					t.Fatalf("--stuck-after %v: a migration in flight would be ended: %+v", stuckAfter, c)
				}
				if c.Verdict == nil || c.Verdict.Kind != shown.Kind || c.Verdict.Text != shown.Text {
					t.Fatalf("--stuck-after %v: release-locks' verdict %+v differs from show-locks' %+v", stuckAfter, c.Verdict, shown)
				}
				for _, want := range []string{"may be between migration steps", "it would look stuck in", "never ended without --force"} {
					if !strings.Contains(c.Refused, want) {
						t.Errorf("--stuck-after %v: refusal lacks %q: %s", stuckAfter, want, c.Refused)
					}
				}
			}
			// Even a forged plan does not end it if the holder moved on:
			// run one more statement in the transaction.
			if _, err := holder.Exec(ctx, "CREATE TABLE schema_step2 (id int)"); err != nil {
				t.Fatal(err)
			}
			lockstest.Until(t, srv, db, lockstest.InState("rstudio-connect", "idle in transaction", 0))
			stale := MakePlan(snap, Selection{Key: &key, StuckAfter: time.Nanosecond})
			forged := &Plan{Snapshot: snap, Candidates: []Candidate{candidate(t, stale, hp)}}
			forged.Candidates[0].Action, forged.Candidates[0].Refused = ActionTerminate, ""
			res, err := Execute(ctx, me, forged, Selection{Key: &key}, fast)
			if err != nil || res.Outcomes[0].Done != "not ended" {
				t.Fatalf("a stale plan ended a holder that ran a statement since: %+v %v", res, err)
			}

			// A minute later by the verdict's clock, it would look stuck.
			if p := planLater(t, me, Selection{Key: &key}, MinTransactionIdle+time.Second); len(p.Actionable()) != 1 {
				t.Fatalf("idle in transaction for over %s: %+v", MinTransactionIdle, p.Candidates)
			}
			// --force ends it now, and the migration's table is rolled back.
			sel := Selection{Key: &key, Force: true}
			p := plan(t, me, sel)
			if c := candidate(t, p, hp); c.Action != ActionTerminate {
				t.Fatalf("--force: %+v", c)
			}
			res, err = Execute(ctx, me, p, sel, fast)
			if err != nil || !res.OK() || res.Outcomes[0].Done != "terminated" {
				t.Fatalf("--force: %+v %v", res, err)
			}
			var n int
			if err := me.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname LIKE 'schema_step%'").Scan(&n); err != nil || n != 0 {
				t.Fatalf("the migration's tables: %d, %v", n, err)
			}
		})
	}
}

// TestReleaseFreshIdleHolderNeedsStuckAfter: an idle holder (outside a
// transaction) that has been idle less than --stuck-after is refused with
// the time left; a shorter --stuck-after that it has passed makes it stuck.
func TestReleaseFreshIdleHolderNeedsStuckAfter(t *testing.T) {
	db := srv.NewDatabase(t, "")
	me := srv.Conn(t, db)
	h := lockstest.Hold(t, srv, db, "rstudio-connect", "SELECT pg_advisory_lock(4243)")
	hp := backendPID(t, h)
	key := BigintKey(4243)
	c := candidate(t, plan(t, me, Selection{Key: &key}), hp)
	if c.Action != "" || c.Verdict.Kind != VerdictRecent || !strings.Contains(c.Refused, "it would look stuck in") || !strings.Contains(c.Refused, "--stuck-after 1m") {
		t.Fatalf("fresh idle holder: %+v", c)
	}
	lockstest.Until(t, srv, db, lockstest.InState("rstudio-connect", "idle", time.Second))
	c = candidate(t, plan(t, me, Selection{Key: &key, StuckAfter: time.Second}), hp)
	if c.Action != ActionTerminate || c.Verdict.Kind != VerdictStuck {
		t.Fatalf("idle past --stuck-after 1s: %+v", c)
	}
}

// TestReleaseUnderChurn: sessions that take and drop advisory locks all the
// time (idle for 0s) are never planned for ending, and every candidate's
// verdict is the one show-locks prints for the same snapshot.
func TestReleaseUnderChurn(t *testing.T) {
	ctx := context.Background()
	db := srv.NewDatabase(t, "")
	me := srv.Conn(t, db)
	const churners = 12
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range churners {
		c := lockstest.Hold(t, srv, db, "rstudio-connect")
		stmts := []string{fmt.Sprintf("SELECT pg_advisory_lock(%d)", 500+i), fmt.Sprintf("SELECT pg_advisory_unlock(%d)", 500+i)}
		if i%2 == 1 {
			stmts = []string{"BEGIN", fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", 500+i), "SELECT 1", "COMMIT"}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				for _, s := range stmts {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := c.Exec(ctx, s); err != nil {
						t.Errorf("%s: %v", s, err)
						return
					}
				}
			}
		}()
	}
	t.Cleanup(func() { close(stop); wg.Wait() }) // before the sessions close
	seen := 0
	for i := 0; i < 40 || seen == 0; i++ {
		snap, err := Read(ctx, me, ListOptions{AllDatabases: true})
		if err != nil {
			t.Fatal(err)
		}
		p := MakePlan(snap, Selection{})
		if a := p.Actionable(); len(a) != 0 {
			t.Fatalf("plan %d would end %d churning sessions: %+v", i, len(a), a)
		}
		rep := BuildReport(snap, nil, "", "", 0)
		for _, c := range p.Candidates {
			if c.Skipped != "" || c.Verdict == nil {
				continue
			}
			seen++
			for _, l := range rep.Locks {
				if l.PID == c.PID && l.Granted && (l.Verdict.Kind != c.Verdict.Kind || l.Verdict.Text != c.Verdict.Text) {
					t.Fatalf("pid %d: show-locks says %+v, release-locks %+v", c.PID, l.Verdict, c.Verdict)
				}
			}
		}
		if i > 10000 {
			t.Fatal("never caught a churning session holding a lock")
		}
	}
}
