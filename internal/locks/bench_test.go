package locks

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/pgtest"
)

// Benchmark shape: 200 backends holding 10,000 advisory locks in total.
const (
	benchBackends = 200
	benchLocks    = 10000
)

// benchFixture is a dedicated server (max_connections 230) whose sessions
// hold the benchmark's locks. It is started once, by the first benchmark
// that needs it, and stopped by TestMain.
type benchFixture struct {
	srv   *pgtest.Server
	db    string
	conns []*pgx.Conn
	err   error
}

var (
	benchOnce sync.Once
	bench     *benchFixture
)

func stopBenchFixture() {
	if bench == nil {
		return
	}
	for _, c := range bench.conns {
		c.Close(context.Background())
	}
	if bench.srv != nil {
		bench.srv.Stop()
	}
}

func fixture(b *testing.B) *benchFixture {
	b.Helper()
	benchOnce.Do(func() {
		bench = &benchFixture{}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		s, err := pgtest.Start(ctx, pgtest.Options{MaxConnections: benchBackends + 30,
			Settings: map[string]string{"max_locks_per_transaction": "128"}})
		if err != nil {
			bench.err = err
			return
		}
		bench.srv, bench.db = s, "postgres"
		per := benchLocks / benchBackends
		conns := make([]*pgx.Conn, benchBackends)
		errs := make(chan error, benchBackends)
		sem := make(chan struct{}, 8)
		var wg sync.WaitGroup
		for i := range benchBackends {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				c, err := s.Connect(ctx, bench.db)
				if err != nil {
					errs <- err
					return
				}
				conns[i] = c
				if _, err := c.Exec(ctx, fmt.Sprintf("SET application_name = 'bench-%d'", i)); err != nil {
					errs <- err
					return
				}
				// Half bigint keys, half two-int keys.
				q := fmt.Sprintf("SELECT pg_advisory_lock(k) FROM generate_series(%d, %d) k", i*per, i*per+per/2-1)
				q2 := fmt.Sprintf("SELECT pg_advisory_lock(%d, k) FROM generate_series(0, %d) k", i, per-per/2-1)
				for _, s := range []string{q, q2} {
					if _, err := c.Exec(ctx, s); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for _, c := range conns {
			if c != nil {
				bench.conns = append(bench.conns, c)
			}
		}
		if err := <-errs; err != nil {
			bench.err = err
		}
	})
	if bench.err != nil {
		b.Fatalf("benchmark fixture: %v", bench.err)
	}
	return bench
}

// BenchmarkRead measures locks.Read on 10,000 locks (the query show-locks
// sends, including scanning every row).
func BenchmarkRead(b *testing.B) {
	fx := fixture(b)
	ctx := context.Background()
	conn, err := fx.srv.Connect(ctx, fx.db)
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

// BenchmarkShowLocksVsPsql runs `connectdb show-locks` and
// `psql -c 'select * from pg_locks'` alternately against the same server,
// both over TCP with their output discarded, and reports each one's wall
// time and the ratio (goal: ratio <= 1.2). The connectdb binary is
// CONNECTDB_BENCH_BIN, or built from this module.
func BenchmarkShowLocksVsPsql(b *testing.B) {
	fx := fixture(b)
	bin := os.Getenv("CONNECTDB_BENCH_BIN")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "connectdb")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/connectdb/connectdb/cmd/connectdb").CombinedOutput()
		if err != nil {
			b.Fatalf("building connectdb: %v\n%s", err, out)
		}
	}
	psql := os.Getenv("CONNECTDB_BENCH_PSQL")
	if psql == "" {
		psql = "/usr/bin/psql"
	}
	if _, err := exec.LookPath(psql); err != nil {
		b.Skipf("no psql to compare with (%v); set CONNECTDB_BENCH_PSQL", err)
	}
	url := fx.srv.URL(fx.srv.SuperUser, fx.srv.SuperPassword, fx.db, "sslmode=disable")
	run := func(name string, args ...string) time.Duration {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "NO_COLOR=1", "PGAPPNAME=bench")
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%.500s", name, err, out)
		}
		return time.Since(start)
	}
	cdb := []string{"show-locks", "--url", url, "--lock-id", "4242"}
	ps := []string{"-X", "-q", "-o", "/dev/null", "-d", url, "-c", "select * from pg_locks"}
	run(bin, cdb...) // warm the page cache
	run(psql, ps...)
	var tc, tp time.Duration
	b.ResetTimer()
	for range b.N {
		tc += run(bin, cdb...)
		tp += run(psql, ps...)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(tc.Microseconds())/1000/n, "show-locks-ms/op")
	b.ReportMetric(float64(tp.Microseconds())/1000/n, "psql-ms/op")
	b.ReportMetric(float64(tc)/float64(tp), "ratio")
}

// BenchmarkSelectPgLocks is the baseline: what `select * from pg_locks`
// costs in-process on the same connection kind as BenchmarkRead.
func BenchmarkSelectPgLocks(b *testing.B) {
	fx := fixture(b)
	ctx := context.Background()
	conn, err := fx.srv.Connect(ctx, fx.db)
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
	conn, err := fx.srv.Connect(ctx, fx.db)
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
