package lockstest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/pgtest"
)

// BenchServer is a dedicated PostgreSQL server whose sessions hold advisory
// locks: the scene of show-locks' benchmarks (200 backends holding 10,000
// locks, half bigint keys and half two-int4 keys).
type BenchServer struct {
	Srv   *pgtest.Server
	DB    string
	conns []*pgx.Conn
}

// StartBench starts a server with room for backends sessions, opens them
// and makes them hold nlocks advisory locks in all, nlocks/backends each.
func StartBench(ctx context.Context, backends, nlocks int) (*BenchServer, error) {
	per := nlocks / backends
	s, err := pgtest.Start(ctx, pgtest.Options{MaxConnections: backends + 30,
		Settings: map[string]string{"max_locks_per_transaction": fmt.Sprint(max(64, per+per/2))}})
	if err != nil {
		return nil, err
	}
	b := &BenchServer{Srv: s, DB: "postgres"}
	conns := make([]*pgx.Conn, backends)
	errs := make([]error, backends)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := s.Connect(ctx, b.DB)
			if err != nil {
				errs[i] = err
				return
			}
			conns[i] = c
			for _, q := range []string{
				fmt.Sprintf("SET application_name = 'bench-%d'", i),
				fmt.Sprintf("SELECT pg_advisory_lock(k) FROM generate_series(%d, %d) k", i*per, i*per+per/2-1),
				fmt.Sprintf("SELECT pg_advisory_lock(%d, k) FROM generate_series(0, %d) k", i, per-per/2-1),
			} {
				if _, err := c.Exec(ctx, q); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, c := range conns {
		if c != nil {
			b.conns = append(b.conns, c)
		}
	}
	if err := errors.Join(errs...); err != nil {
		b.Stop()
		return nil, err
	}
	return b, nil
}

// URL is a superuser URL of the benchmark database, over TCP.
func (b *BenchServer) URL() string {
	return b.Srv.URL(b.Srv.SuperUser, b.Srv.SuperPassword, b.DB, "sslmode=disable")
}

// Stop closes the holding sessions and stops the server.
func (b *BenchServer) Stop() {
	for _, c := range b.conns {
		c.Close(context.Background())
	}
	b.Srv.Stop()
}
