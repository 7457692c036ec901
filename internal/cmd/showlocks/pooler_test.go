package showlocks

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/connectdb/connectdb/internal/locks/lockstest"
	"github.com/connectdb/connectdb/internal/pgtest"
)

// TestShowLocksBehindTransactionPooler: through a real PgBouncer in
// transaction mode, a lock taken by a client stays on a pooled server
// connection; show-locks says so. In session mode it says nothing.
func TestShowLocksBehindTransactionPooler(t *testing.T) {
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)
	for _, mode := range []string{"transaction", "session"} {
		t.Run(mode, func(t *testing.T) {
			b := srv.Bouncer(t, pgtest.BouncerOptions{PoolMode: mode})
			lockstest.HoldURL(t, b.URL(role, sentinel, db), "SELECT pg_advisory_lock(4242)")
			f, out, _ := factory(b.URL(role, sentinel, db), nil)
			f.Globals.LockID = "4242"
			if err := runShowLocks(context.Background(), &ShowLocksOptions{F: f, StuckAfter: time.Hour}); err != nil {
				t.Fatal(err)
			}
			s := out.String()
			if got := strings.Contains(s, "transaction-mode pooler"); got != (mode == "transaction") {
				t.Errorf("mode %s: note shown = %v:\n%s", mode, got, s)
			}
			if !strings.Contains(s, "4242") {
				t.Errorf("the held lock is not listed:\n%s", s)
			}
		})
	}
}
