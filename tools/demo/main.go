// Command demo starts a throwaway PostgreSQL server with the test harness and
// runs connectdb against it, so a new user sees the main jobs end to end:
//
//	go run ./tools/demo ./bin/connectdb
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/migrate/sqlitegen"
	"github.com/connectdb/connectdb/internal/pgtest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./tools/demo PATH-TO-CONNECTDB")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// The demo's Connect role and its password. The password has the characters
// the admin guide warns about, so the demo shows that they are handled.
const (
	demoLockID = 4242
	role       = "connect"
	password   = "p@ss#w!$%/?:word"
)

func run(bin string) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Println("== starting a throwaway PostgreSQL server (TLS on, scram-sha-256)")
	srv, err := pgtest.Start(ctx, pgtest.Options{TLS: true, MaxConnections: 40})
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Printf("   PostgreSQL %s on %s:%d\n", srv.Version, srv.Host, srv.Port)

	setup := []string{
		"CREATE ROLE " + role + " LOGIN PASSWORD " + pgtest.QuoteLiteral(password),
		"CREATE DATABASE connect OWNER " + role,
		"CREATE ROLE readonly LOGIN PASSWORD " + pgtest.QuoteLiteral(password),
		"CREATE DATABASE connect_pg OWNER " + role,
	}
	for _, q := range setup {
		if err := srv.Exec(ctx, "postgres", q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}

	dir, err := os.MkdirTemp("", "connectdb-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	good := filepath.Join(dir, "good.gcfg")
	bad := filepath.Join(dir, "broken.gcfg")
	url := fmt.Sprintf("postgres://%s@%s:%d/connect?sslrootcert=%s", role, srv.Host, srv.Port, srv.CACertFile)
	writes := map[string]string{
		good: fmt.Sprintf("[Database]\nProvider = postgres\nMaxOpenConnections = 10\nMaxIdleConnections = 5\n\n[Postgres]\nURL = %q\n", url),
		// The mistakes admins make: a schema that does not exist, a role
		// that may not create tables, and more idle than open connections.
		bad: fmt.Sprintf("[Database]\nProvider = postgres\nMaxOpenConnections = 15\nMaxIdleConnections = 20\n\n[Postgres]\nURL = %q\n",
			fmt.Sprintf("postgres://readonly@%s:%d/connect?options=-csearch_path=missing_schema&sslrootcert=%s", srv.Host, srv.Port, srv.CACertFile)),
	}
	// A Connect that still runs on SQLite, about to move to PostgreSQL.
	sqliteDir := filepath.Join(dir, "db")
	if err := os.Mkdir(sqliteDir, 0o700); err != nil {
		return err
	}
	if err := sqlitegen.Generate(ctx, filepath.Join(sqliteDir, "connect.db"), 5000, 1); err != nil {
		return err
	}
	moving := filepath.Join(dir, "moving.gcfg")
	writes[moving] = fmt.Sprintf("[Database]\nProvider = sqlite\n\n[SQLite]\nDir = %s\n\n[Postgres]\nURL = %q\n",
		sqliteDir, fmt.Sprintf("postgres://%s@%s:%d/connect_pg?sslrootcert=%s", role, srv.Host, srv.Port, srv.CACertFile))
	for path, text := range writes {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			return err
		}
	}
	env := append(os.Environ(), "CONNECTDB_POSTGRES_PASSWORD="+password)

	// A "crashed migration": a session of Connect's role that took the
	// upgrade lock and went idle without releasing it.
	stuck, err := pgx.Connect(ctx, srv.URL(role, password, "connect", "application_name=rstudio-connect"))
	if err != nil {
		return err
	}
	defer stuck.Close(context.Background())
	if _, err := stuck.Exec(ctx, "SELECT pg_advisory_lock($1)", demoLockID); err != nil {
		return err
	}

	steps := []struct {
		title string
		args  []string
	}{
		{"the config an admin wrote correctly", []string{"check", "--config", good}},
		{"the same pool settings, sized for a 3-node cluster against the live server", []string{"size-pool", "--config", good, "--nodes", "3"}},
		{"a stuck upgrade lock: who holds it?", []string{"show-locks", "--config", good, "--lock-id", fmt.Sprint(demoLockID)}},
		{"what releasing it would do (dry run)", []string{"release-locks", "--config", good, "--lock-id", fmt.Sprint(demoLockID)}},
		{"releasing it", []string{"release-locks", "--config", good, "--lock-id", fmt.Sprint(demoLockID), "--yes"}},
		{"a config with the usual mistakes", []string{"check", "--config", bad}},
		{"moving a SQLite Connect database into PostgreSQL: verified, all or nothing", []string{"migrate", "--config", moving}},
		{"running it again: already migrated and verified, so nothing is written", []string{"migrate", "--config", moving}},
		{"proving later that PostgreSQL still matches SQLite (read-only)", []string{"migrate", "--verify", "--config", moving}},
		{"repairing its URL", []string{"encode-url", "--check", "postgres://readonly:" + password + "@db.example.com/connect"}},
	}
	for _, s := range steps {
		if !available(bin, s.args[0]) {
			continue
		}
		fmt.Printf("\n== %s\n$ connectdb %s\n", s.title, strings.Join(s.args, " "))
		cmd := exec.CommandContext(ctx, bin, s.args...)
		cmd.Stdout, cmd.Stderr, cmd.Env = os.Stdout, os.Stdout, env
		if err := cmd.Run(); err != nil {
			fmt.Printf("(%v)\n", err)
		}
	}
	return nil
}

// available reports whether this build of connectdb has the subcommand.
func available(bin, sub string) bool {
	return exec.Command(bin, sub, "--help").Run() == nil
}
