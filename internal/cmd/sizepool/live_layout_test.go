package sizepool

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connectdb/connectdb/internal/pool"
)

// TestLiveTwoSchemasOneDatabase is the layout of Posit's Kubernetes
// operator: Postgres.URL and InstrumentationURL reach the same database
// with different schemas. Both pools draw from the one server, so the
// worst case counts them both.
func TestLiveTwoSchemasOneDatabase(t *testing.T) {
	c := startCluster(t)
	srv.MustExec(t, c.db, "CREATE SCHEMA connect AUTHORIZATION "+c.connectRole+"; CREATE SCHEMA connect_metrics AUTHORIZATION "+c.connectRole)
	cfg := fmt.Sprintf("[Database]\nProvider = postgres\nMaxOpenConnections = 2\nMaxIdleConnections = 2\n[Postgres]\nURL = %q\nInstrumentationURL = %q\n",
		srv.URL(c.connectRole, sentinel, c.db, "sslmode=disable", "options=-csearch_path%3Dconnect"),
		srv.URL(c.connectRole, sentinel, c.db, "sslmode=disable", "options=-csearch_path%3Dconnect_metrics"))
	path := filepath.Join(t.TempDir(), "rstudio-connect.gcfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	waitForSessionsToEnd(t, c.connectRole, "connectdb%")
	opts := newOptions(t)
	opts.F.Globals.ConfigPath, opts.F.Globals.ConfigExplicit = path, true
	opts.Nodes = 2
	rep, r := liveJSON(t, opts, "nodes")
	if rep.Instrumentation != string(pool.MetricsSame) {
		t.Fatalf("instrumentation %s (%s), want same", rep.Instrumentation, rep.InstrumentWhy)
	}
	if ev := rep.Evaluation; ev.WorstCase != 2*2*2 || ev.PoolsPerNode != 2 {
		t.Errorf("worst case %d with %d pools per node, want 8 with 2", ev.WorstCase, ev.PoolsPerNode)
	}
	if r.code != 0 || !rep.Evaluation.Fits {
		t.Errorf("exit %d (%v): %+v", r.code, r.err, rep.Evaluation)
	}
}

// TestLiveSameServerUnderAnotherName: an InstrumentationURL that names the
// primary's server differently (localhost for 127.0.0.1) still shares its
// max_connections: size-pool asks both servers who they are.
func TestLiveSameServerUnderAnotherName(t *testing.T) {
	c := startCluster(t)
	waitForSessionsToEnd(t, c.connectRole, "connectdb%")
	opts := newOptions(t)
	opts.F.Globals.URL = c.url
	opts.F.Globals.InstrumentationURL = strings.Replace(srv.URL(c.connectRole, sentinel, "postgres", "sslmode=disable"), "127.0.0.1", "localhost", 1)
	opts.Nodes, opts.MaxOpen, opts.MaxIdle = 1, 2, 2
	rep, _ := liveJSON(t, opts, "nodes", "max-open", "max-idle")
	if rep.Instrumentation != string(pool.MetricsSame) || !strings.Contains(rep.InstrumentWhy, "reaches the same PostgreSQL") {
		t.Fatalf("instrumentation %s (%s), want same", rep.Instrumentation, rep.InstrumentWhy)
	}
	if rep.Evaluation.WorstCase != 2*2 {
		t.Errorf("worst case %d, want 4 (one node, two pools of 2)", rep.Evaluation.WorstCase)
	}
}
