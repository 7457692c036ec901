// Package target turns connectdb's inputs (the Connect config, --url
// overrides, passwords and encrypted secrets) into the database connections
// Connect itself would open: the primary database and, when configured, a
// separate instrumentation (operational metrics) database.
package target

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/buildinfo"
	"github.com/connectdb/connectdb/internal/cmdutil"
)

// Kind names the database a target stands for.
type Kind string

const (
	Primary         Kind = "primary"
	Instrumentation Kind = "instrumentation"
)

// Target is one database Connect connects to. Config holds the password:
// never print it; show Redacted instead.
type Target struct {
	Kind     Kind
	Source   string // where the URL came from, e.g. "--url" or "Postgres.URL (rstudio-connect.gcfg:12)"
	Redacted string // the URL with every secret replaced, safe to print
	User     string
	Host     string
	Port     int
	Database string
	Schema   string // from options=-csearch_path=, "" when unset
	Config   *pgx.ConnConfig
	Warnings []string // non-fatal findings while building the target, e.g. two passwords given
}

// Set is what Resolve found.
type Set struct {
	Primary *Target
	// Instrumentation is nil when Connect writes operational metrics into
	// the primary database (no InstrumentationURL): SharedMetrics is then true.
	Instrumentation *Target
	SharedMetrics   bool
}

// Targets returns the primary and, when separate, the instrumentation target.
func (s *Set) Targets() []*Target {
	if s.Instrumentation == nil {
		return []*Target{s.Primary}
	}
	return []*Target{s.Primary, s.Instrumentation}
}

// Resolve builds the targets from the factory's globals.
// TODO(config): read Postgres.URL / InstrumentationURL / passwords from the
// Connect config; today only --url and --instrumentation-url are used.
func Resolve(ctx context.Context, f *cmdutil.Factory) (*Set, error) {
	g := f.Globals
	if g.URL == "" {
		return nil, cmdutil.Usagef("no database URL: pass --url URL or --config FILE with a [Postgres] URL")
	}
	p, err := fromURL(Primary, "--url", g.URL)
	if err != nil {
		return nil, err
	}
	set := &Set{Primary: p, SharedMetrics: true}
	if g.InstrumentationURL != "" {
		i, err := fromURL(Instrumentation, "--instrumentation-url", g.InstrumentationURL)
		if err != nil {
			return nil, err
		}
		set.Instrumentation, set.SharedMetrics = i, false
	}
	return set, nil
}

func fromURL(kind Kind, source, raw string) (*Target, error) {
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return nil, cmdutil.Usagef("%s is not a valid PostgreSQL URL; run 'connectdb encode-url --check' to repair it", source)
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = buildinfo.UserAgent()
	}
	return &Target{
		Kind: kind, Source: source, Redacted: fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database),
		User: cfg.User, Host: cfg.Host, Port: int(cfg.Port), Database: cfg.Database, Config: cfg,
	}, nil
}

// Connect opens a connection to t, giving up after timeout.
func (t *Target) Connect(ctx context.Context, timeout time.Duration) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, t.Config.Copy())
	if err != nil {
		return nil, fmt.Errorf("connecting to the %s database %s: %w", t.Kind, t.Redacted, err)
	}
	return c, nil
}
