package check

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// BenchmarkCheckPhases times, in process, what a full check does on its
// connection, phase by phase, over TLS (verify-full) with a scram-sha-256
// password: the login, the facts query, the pipelined privilege probe,
// pg.latency's three empty queries and the close. Before closing, it reads
// the backend's CPU time from /proc/PID/schedstat (the server's side of
// the cost), next to a session that only logs in and runs select 1 (what
// psql -c 'select 1' asks of the server). Run it alone, on a quiet machine:
//
//	CONNECTDB_TEST_PG=17 go test -run '^$' -bench CheckPhases -benchtime 200x ./internal/check
func BenchmarkCheckPhases(b *testing.B) {
	const password = "bench-pw"
	role := srv.NewRole(b, password)
	db := srv.NewDatabase(b, role)
	cfg, err := pgx.ParseConfig(srv.URL(role, password, db))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	names := []string{"connect", "facts", "probe", "latency", "close", "backend-cpu", "select1-backend-cpu"}
	ts := make([][]time.Duration, len(names))
	n := 0
	for b.Loop() {
		n++
		t0 := time.Now()
		mark := func(i int) { ts[i] = append(ts[i], time.Since(t0)); t0 = time.Now() }
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		mark(0)
		var f facts
		if err := c.QueryRow(ctx, factsSQL(false), pgx.QueryExecModeExec).Scan(&f.VersionNum, &f.ServerVersion, &f.InRecovery,
			&f.DefaultRO, &f.Encoding, &f.CurrentUser, &f.Database, &f.CurrentSchema,
			&f.SearchPath, &f.EffectiveSchemas, &f.BackendPID, &f.ServerPort, &f.Identity,
			&f.SchemaOwner, &f.SchemaMember, &f.Timeouts, &f.MaxConnections, &f.SuperReserved, &f.Reserved,
			&f.OthersUsing, &f.HiddenOthers, &f.RoleConnLimit, &f.DBConnLimit, &f.SSL, &f.SSLVersion, &f.SSLCipher); err != nil {
			b.Fatal(err)
		}
		mark(1)
		batch := &pgconn.Batch{}
		batch.ExecParams("BEGIN", nil, nil, nil, nil)
		for _, st := range probeSteps("public." + ProbeTablePrefix + "bench_" + strconv.Itoa(n)) {
			batch.ExecParams(st.sql, nil, nil, nil, nil)
		}
		batch.ExecParams("ROLLBACK", nil, nil, nil, nil)
		if _, err := c.PgConn().ExecBatch(ctx, batch).ReadAll(); err != nil {
			b.Fatal(err)
		}
		mark(2)
		for range 3 {
			if _, err := c.Exec(ctx, ";"); err != nil {
				b.Fatal(err)
			}
		}
		mark(3)
		cpu := backendCPU(b, c)
		t0 = time.Now()
		if err := c.Close(ctx); err != nil {
			b.Fatal(err)
		}
		mark(4)
		ts[5] = append(ts[5], cpu)

		s, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Exec(ctx, "select 1", pgx.QueryExecModeSimpleProtocol); err != nil {
			b.Fatal(err)
		}
		ts[6] = append(ts[6], backendCPU(b, s))
		_ = s.Close(ctx)
	}
	var parts []string
	for i, name := range names {
		ms := float64(median(ts[i]).Microseconds()) / 1000
		b.ReportMetric(ms, name+"-ms")
		parts = append(parts, fmt.Sprintf("%s %.2f ms", name, ms))
	}
	b.Logf("%d rounds, medians: %s", n, strings.Join(parts, ", "))
}

// backendCPU is the CPU time the backend of c has used so far.
func backendCPU(b *testing.B, c *pgx.Conn) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", c.PgConn().PID()))
	if err != nil {
		b.Fatalf("reading the backend's CPU time (the server must run on this machine): %v", err)
	}
	ns, err := strconv.ParseInt(strings.Fields(string(data))[0], 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return time.Duration(ns)
}
