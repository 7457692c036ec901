package locks

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/locks/lockstest"
)

// Benchmark shape: 200 backends holding 10,000 advisory locks in total.
// scripts/bench-locks.sh compares the whole command with native psql on
// the same scene.
const (
	benchBackends = 200
	benchLocks    = 10000
)

// The benchmark scene is started once, by the first benchmark that needs
// it, and stopped by TestMain.
var (
	benchOnce sync.Once
	bench     *lockstest.BenchServer
	benchErr  error
)

func stopBenchFixture() {
	if bench != nil {
		bench.Stop()
	}
}

func fixture(b *testing.B) *lockstest.BenchServer {
	b.Helper()
	benchOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		bench, benchErr = lockstest.StartBench(ctx, benchBackends, benchLocks)
	})
	if benchErr != nil {
		b.Fatalf("benchmark fixture: %v", benchErr)
	}
	return bench
}

// BenchmarkRead measures locks.Read on 10,000 locks (the query show-locks
// sends, including scanning every row).
func BenchmarkRead(b *testing.B) {
	fx := fixture(b)
	ctx := context.Background()
	conn, err := fx.Srv.Connect(ctx, fx.DB)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	snap, err := Read(ctx, conn, ListOptions{})
	if err != nil || len(snap.Locks) != benchLocks {
		b.Fatalf("Read: %d locks, %v", len(snap.Locks), err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := Read(ctx, conn, ListOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSelectPgLocks is the baseline: what `select * from pg_locks`
// costs in-process on the same connection kind as BenchmarkRead.
func BenchmarkSelectPgLocks(b *testing.B) {
	fx := fixture(b)
	ctx := context.Background()
	conn, err := fx.Srv.Connect(ctx, fx.DB)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	b.ResetTimer()
	for range b.N {
		rows, err := conn.Query(ctx, "select * from pg_locks", pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			if _, err := rows.Values(); err != nil {
				b.Fatal(err)
			}
		}
		rows.Close()
		if rows.Err() != nil {
			b.Fatal(rows.Err())
		}
	}
}

// BenchmarkReadSQLOnly sends show-locks' query and discards the rows
// unparsed: the server's share of BenchmarkRead.
func BenchmarkReadSQLOnly(b *testing.B) {
	fx := fixture(b)
	ctx := context.Background()
	conn, err := fx.Srv.Connect(ctx, fx.DB)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	q := fmt.Sprintf(readSQL, "l.database = (SELECT oid FROM pg_database WHERE datname = current_database())", "true", "false")
	b.ResetTimer()
	for range b.N {
		if _, err := conn.PgConn().Exec(ctx, q).ReadAll(); err != nil {
			b.Fatal(err)
		}
	}
}
