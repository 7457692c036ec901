package locks

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/locks/lockstest"
)

func backendPID(t *testing.T, c *pgx.Conn) int32 {
	t.Helper()
	var pid int32
	if err := c.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestReadBothFormsAndWaiter(t *testing.T) {
	ctx := context.Background()
	db := srv.NewDatabase(t, "")
	h := lockstest.Hold(t, srv, db, "holder", "SELECT pg_advisory_lock(4242)", "SELECT pg_advisory_lock_shared(7, -8)")
	hp := backendPID(t, h)

	// A waiter behind the holder, in its own goroutine.
	w := lockstest.Hold(t, srv, db, "waiter")
	wp := backendPID(t, w)
	got := make(chan error, 1)
	go func() {
		_, err := w.Exec(ctx, "SELECT pg_advisory_lock(4242)")
		got <- err
	}()
	me := srv.Conn(t, db)
	var snap *Snapshot
	waitFor(t, "the waiter to queue", func() bool {
		var err error
		snap, err = Read(ctx, me, ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// pg_locks shows the queued request a moment before
		// pg_stat_activity shows the waiter's statement: wait for both.
		w := Waiting(snap.Locks, BigintKey(4242))
		return len(w) == 1 && w[0].Session != nil && w[0].Session.State == "active"
	})
	if snap.Database != db || snap.OwnPID != backendPID(t, me) || !snap.Superuser || !snap.ReadAllStats {
		t.Errorf("snapshot facts wrong: %+v", snap)
	}
	held := HeldBy(snap.Locks, BigintKey(4242))
	if len(held) != 1 || held[0].PID != hp || held[0].Mode != "exclusive" || held[0].Session == nil ||
		held[0].Session.Application != "holder" || held[0].Session.State != "idle" || !held[0].Session.Visible {
		t.Fatalf("holder of 4242: %+v", held)
	}
	shared := HeldBy(snap.Locks, PairKey(7, -8))
	if len(shared) != 1 || shared[0].Mode != "share" || shared[0].Form != "int4,int4" {
		t.Fatalf("holder of 7,-8: %+v", shared)
	}
	waiting := Waiting(snap.Locks, BigintKey(4242))
	if len(waiting) != 1 || waiting[0].PID != wp || len(waiting[0].BlockedBy) != 1 || waiting[0].BlockedBy[0] != hp {
		t.Fatalf("waiter: %+v", waiting)
	}
	if waiting[0].Session == nil || waiting[0].Session.State != "active" {
		t.Fatalf("waiter session: %+v", waiting[0].Session)
	}

	// The key filter returns only that key's rows.
	only, err := List(ctx, me, ListOptions{Key: &shared[0].Key})
	if err != nil || len(only) != 1 || only[0].Key != PairKey(7, -8) {
		t.Fatalf("List with key filter: %+v, %v", only, err)
	}

	// Releasing in the holder lets the waiter through.
	if ok, err := BigintKey(4242).Unlock(ctx, h); err != nil || !ok {
		t.Fatalf("Unlock: %v %v", ok, err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute): // a bound for a loaded machine; the lock comes at once
		t.Fatal("waiter did not get the lock")
	}
}

func TestReadOtherDatabase(t *testing.T) {
	ctx := context.Background()
	db1, db2 := srv.NewDatabase(t, ""), srv.NewDatabase(t, "")
	lockstest.Hold(t, srv, db2, "elsewhere", "SELECT pg_advisory_lock(99)")
	me := srv.Conn(t, db1)
	here, err := List(ctx, me, ListOptions{Key: ptr(BigintKey(99))})
	if err != nil || len(here) != 0 {
		t.Fatalf("this database: %+v, %v", here, err)
	}
	if h, err := Holders(ctx, me, BigintKey(99)); err != nil || h != nil {
		t.Fatalf("Holders in this database: %+v, %v", h, err)
	}
	if h, err := Holders(ctx, srv.Conn(t, db2), BigintKey(99)); err != nil || len(h) != 1 || h[0].Session.Application != "elsewhere" {
		t.Fatalf("Holders in the other database: %+v, %v", h, err)
	}
	all, err := List(ctx, me, ListOptions{AllDatabases: true, Key: ptr(BigintKey(99))})
	if err != nil || len(all) != 1 || all[0].Database != db2 {
		t.Fatalf("all databases: %+v, %v", all, err)
	}
}

func ptr[T any](v T) *T { return &v }
