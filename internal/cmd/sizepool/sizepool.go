// Package sizepool implements `connectdb size-pool`: it sizes Connect's
// connection pools for a cluster, offline from --max-connections or against
// the live server, using the rules in package pool.
package sizepool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/config"
	"github.com/connectdb/connectdb/internal/pool"
	"github.com/connectdb/connectdb/internal/pool/probe"
	"github.com/connectdb/connectdb/internal/target"
)

// maxSweepNodes bounds --sweep so that a typo cannot print a million rows.
const maxSweepNodes = 1000

// SizePoolOptions holds the flags of size-pool.
type SizePoolOptions struct {
	F *cmdutil.Factory

	Nodes             int
	MaxConnections    int
	SuperuserReserved int
	Reserved          int
	Reserve           int
	TargetOpen        int
	Instrumentation   string
	Pooler            string
	MaxOpen           int
	MaxIdle           int
	MaxLifetime       string
	Sweep             bool

	// Changed reports whether a flag was given on the command line.
	Changed func(name string) bool
}

// NewCmdSizePool returns the size-pool command.
func NewCmdSizePool(f *cmdutil.Factory) *cobra.Command {
	opts := &SizePoolOptions{F: f}
	cmd := &cobra.Command{
		Use:   "size-pool --nodes N [--max-connections M] [flags]",
		Short: "Size Connect's connection pools for a cluster, offline or against the live server",
		Long: `size-pool checks Connect's [Database] pool settings against what the PostgreSQL
server can give and recommends per-node values for a cluster.

Every Connect node opens up to MaxOpenConnections for the primary database and,
with operational metrics on and no separate InstrumentationURL, a second pool
of the same size against the same server: the worst case is
nodes × MaxOpenConnections × 2. The server can give Connect max_connections
minus superuser_reserved_connections, reserved_connections (16+), the
connections other clients hold now, and --reserve.

With --max-connections it works offline and opens no connection. Without it,
it connects to the primary database (--url, or the config) and reads the
limits and pg_stat_activity.

Exit status: 0 the config fits, 1 it does not fit or breaks a rule, 2 bad
input, 3 the server could not be reached.`,
		Example: `  # offline: three nodes against a server with max_connections = 100
  connectdb size-pool --nodes 3 --max-connections 100

  # live: read max_connections and other clients from the server
  connectdb size-pool --nodes 3 --url "postgres://connect@db.example.com/connect"

  # a ready [Database] block for 10 nodes that would each like 20 connections
  connectdb size-pool --nodes 10 --max-connections 300 --target-open 20 --output gcfg

  # capacity planning: how the need grows from 1 to 10 nodes
  connectdb size-pool --nodes 10 --max-connections 200 --sweep

  # CI: check given settings without a config file
  connectdb size-pool --config /dev/null --nodes 2 --max-connections 100 --max-open 20 --max-idle 0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Changed = cmd.Flags().Changed
			return runSizePool(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&opts.Nodes, "nodes", 0, "number of Connect nodes sharing the database (required)")
	fl.IntVar(&opts.MaxConnections, "max-connections", 0, "the server's max_connections; work offline without connecting")
	fl.IntVar(&opts.SuperuserReserved, "superuser-reserved", pool.DefaultSuperuserReserved, "offline: the server's superuser_reserved_connections")
	fl.IntVar(&opts.Reserved, "reserved-connections", pool.DefaultReserved, "offline: the server's reserved_connections (PostgreSQL 16+)")
	fl.IntVar(&opts.Reserve, "reserve", 0, "connections to keep free for admins, backups and other applications")
	fl.IntVar(&opts.TargetOpen, "target-open", 0, "MaxOpenConnections you would like per node (default: the current value)")
	fl.StringVar(&opts.Instrumentation, "instrumentation", "", "where operational metrics go: same, separate or off (default: separate when Postgres.InstrumentationURL is set, else same)")
	fl.StringVar(&opts.Pooler, "pooler", string(pool.PoolerNone), "pooler between Connect and PostgreSQL: none, session or transaction")
	fl.IntVar(&opts.MaxOpen, "max-open", 0, "override Database.MaxOpenConnections from the config")
	fl.IntVar(&opts.MaxIdle, "max-idle", 0, "override Database.MaxIdleConnections from the config")
	fl.StringVar(&opts.MaxLifetime, "max-lifetime", "", "override Database.ConnectionMaxLifetime from the config, such as 60s")
	fl.BoolVar(&opts.Sweep, "sweep", false, "show the need for 1 to --nodes nodes, for capacity planning")
	return cmd
}

// current is the [Database] settings in force and where each came from.
type current struct {
	Settings                         pool.Settings
	OpenFrom, IdleFrom, LifetimeFrom string
	InstrumentationURL, PrimaryURL   string // from the config or globals; never printed
	ConfigPath                       string // "" when no file was read
	Provider                         string
}

func runSizePool(ctx context.Context, opts *SizePoolOptions) error {
	f := opts.F
	if err := f.CheckOutput("text", "json", "gcfg"); err != nil {
		return err
	}
	changed := opts.Changed
	if changed == nil {
		changed = func(string) bool { return false }
	}
	if !changed("nodes") {
		return cmdutil.Usagef("--nodes is required: pass the number of Connect nodes, such as --nodes 3")
	}
	if opts.Nodes < 1 {
		return cmdutil.Usagef("--nodes must be at least 1, got %d", opts.Nodes)
	}
	if opts.Sweep && opts.Nodes > maxSweepNodes {
		return cmdutil.Usagef("--sweep handles at most %d nodes, got --nodes %d", maxSweepNodes, opts.Nodes)
	}
	if opts.Sweep && f.Globals.Output == "gcfg" {
		return cmdutil.Usagef("--sweep prints a table; use --output text or json with it, or drop --sweep for a gcfg block")
	}
	offline := changed("max-connections")
	if !offline {
		for _, name := range []string{"superuser-reserved", "reserved-connections"} {
			if changed(name) {
				return cmdutil.Usagef("--%s applies only offline with --max-connections; live mode reads it from the server", name)
			}
		}
	}
	pooler, err := pool.ParsePooler(opts.Pooler)
	if err != nil {
		return cmdutil.Usagef("--pooler %v", err)
	}
	cfg, path, err := loadConfig(f)
	if err != nil {
		return err
	}
	cur, err := currentSettings(cfg, path, f.Globals, opts, changed)
	if err != nil {
		return err
	}

	rep := &report{Nodes: opts.Nodes, Pooler: pooler, Current: cur, Reserve: opts.Reserve}
	in := pool.Input{
		Nodes:      opts.Nodes,
		Pooler:     pooler,
		Current:    cur.Settings,
		TargetOpen: opts.TargetOpen,
	}
	var set *target.Set
	if offline {
		rep.Mode = "offline"
		in.Server = pool.Server{MaxConnections: opts.MaxConnections, SuperuserReserved: opts.SuperuserReserved, Reserved: opts.Reserved, Reserve: opts.Reserve}
	} else {
		rep.Mode = "live"
		if err := validateOffline(opts); err != nil { // flags that need no server are checked first
			return err
		}
		set, err = target.FromConfig(ctx, f, cfg) // the config is read once: it may come from stdin
		if err != nil {
			return err
		}
		facts, err := readServer(ctx, f, set.Primary)
		if err != nil {
			return err
		}
		rep.Target, rep.Facts = set.Primary.Redacted, &facts
		rep.Notes = append(rep.Notes, set.Primary.Connection().Notes()...)
		in.Server = pool.Server{
			MaxConnections: facts.MaxConnections, SuperuserReserved: facts.SuperuserReserved,
			Reserved: facts.Reserved, Others: facts.Others(), Reserve: opts.Reserve,
		}
		if n := facts.Hidden(); n > 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s may not see the type of %d other sessions and counts them all as clients; grant it pg_monitor (or run as a superuser) for an exact count", set.Primary.User, n))
		}
		if n := facts.ConnectHeld(); n > 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%d %s held by %s %s taken to be Connect's own pools: part of the worst case, not subtracted", n, plural(n, "connection", "connections"), set.Primary.User, plural(n, "is", "are")))
		}
	}
	instr, why, err := chooseInstrumentation(opts, changed, cur, set)
	if err == nil && instr == pool.MetricsSeparate && set != nil && set.Instrumentation != nil && !changed("instrumentation") {
		instr, why = sameServerLive(ctx, f, set, rep.Facts, instr, why)
	}
	if err != nil {
		return err
	}
	in.Instrumentation = instr
	rep.Instrumentation, rep.InstrumentationWhy = instr, why
	if err := in.Validate(); err != nil {
		return cmdutil.UsageError(err)
	}
	if cur.Provider == config.ProviderSQLite {
		rep.Notes = append(rep.Notes, fmt.Sprintf("Database.Provider is sqlite in %s: these pool settings apply once it is postgres", cur.ConfigPath))
	}
	rep.Input = in
	rep.Plan = pool.Size(in)
	if opts.Sweep {
		rep.Sweep = pool.Sweep(in)
	}

	if err := render(f, rep); err != nil {
		return err
	}
	if rep.Plan.Evaluation.Verdict() == pool.Fail {
		return cmdutil.Findings("the current [Database] pool settings do not fit the server or break a rule; apply the recommendation above")
	}
	return nil
}

// validateOffline checks the numbers that do not depend on the server, so
// that live mode reports bad input before it connects.
func validateOffline(opts *SizePoolOptions) error {
	in := pool.Input{Nodes: opts.Nodes, Server: pool.Server{MaxConnections: 1, Reserve: opts.Reserve},
		TargetOpen: opts.TargetOpen, Instrumentation: pool.MetricsSame, Pooler: pool.PoolerNone}
	if err := in.Validate(); err != nil {
		return cmdutil.UsageError(err)
	}
	if opts.Instrumentation != "" {
		if _, err := pool.ParseInstrumentation(opts.Instrumentation); err != nil {
			return cmdutil.Usagef("--instrumentation %v", err)
		}
	}
	return nil
}

// currentSettings takes the [Database] settings from the Connect config and
// applies the --max-open, --max-idle and --max-lifetime overrides.
func currentSettings(cfg *config.Config, path string, g *cmdutil.Globals, opts *SizePoolOptions, changed func(string) bool) (current, error) {
	db := cfg.Database
	cur := current{
		Settings: pool.Settings{
			MaxOpen: db.MaxOpenConnections, MaxIdle: db.MaxIdleConnections,
			MaxLifetime: db.ConnectionMaxLifetime, LifetimeSet: cfg.IsSet("Database.ConnectionMaxLifetime"),
		},
		OpenFrom: from(cfg, path, "Database.MaxOpenConnections"), IdleFrom: from(cfg, path, "Database.MaxIdleConnections"),
		LifetimeFrom:       from(cfg, path, "Database.ConnectionMaxLifetime"),
		InstrumentationURL: cfg.Postgres.InstrumentationURL, PrimaryURL: cfg.Postgres.URL,
		ConfigPath: path,
	}
	if cfg.IsSet("Database.Provider") {
		cur.Provider = db.Provider
	}
	if g.URL != "" {
		cur.PrimaryURL = g.URL
	}
	if g.InstrumentationURL != "" {
		cur.InstrumentationURL = g.InstrumentationURL
	}
	if changed("max-open") {
		cur.Settings.MaxOpen, cur.OpenFrom = opts.MaxOpen, "--max-open"
	}
	if changed("max-idle") {
		cur.Settings.MaxIdle, cur.IdleFrom = opts.MaxIdle, "--max-idle"
	}
	if changed("max-lifetime") {
		d, err := config.ParseDuration(opts.MaxLifetime)
		if err != nil {
			return current{}, cmdutil.Usagef("--max-lifetime %q is not a duration; use a value such as 60s, 5m or a whole number of nanoseconds", opts.MaxLifetime)
		}
		cur.Settings.MaxLifetime, cur.Settings.LifetimeSet, cur.LifetimeFrom = d, true, "--max-lifetime"
	}
	return cur, nil
}

// loadConfig reads the Connect config. A missing file at the default path
// is not an error: Connect's defaults apply. Any other problem is bad input.
func loadConfig(f *cmdutil.Factory) (*config.Config, string, error) {
	g := f.Globals
	path := g.ConfigPath
	if path == "" {
		path = cmdutil.DefaultConfigPath
	}
	if !g.ConfigExplicit {
		if _, err := os.Stat(f.ConfigOptions(path).HostPath(path)); errors.Is(err, fs.ErrNotExist) {
			cfg, err := f.ConfigOptions("").Load() // defaults and Connect's environment
			if err != nil {
				return nil, "", cmdutil.UsageError(err)
			}
			return cfg, "", nil
		}
	}
	cfg, err := f.ConfigOptions(path).Load()
	if err != nil {
		return nil, "", cmdutil.UsageError(err)
	}
	if path == "-" {
		path = "<stdin>"
	}
	return cfg, path, nil
}

func from(cfg *config.Config, path, key string) string {
	if (path != "" || cfg.Origin(key).IsEnv()) && cfg.IsSet(key) {
		return cfg.Where(key)
	}
	return "default"
}

// chooseInstrumentation decides where the metrics pool goes: the flag, else
// the config (separate when InstrumentationURL is set, same otherwise). An
// InstrumentationURL on the primary's own host and port still shares its
// max_connections, so it counts as same.
func chooseInstrumentation(opts *SizePoolOptions, changed func(string) bool, cur current, set *target.Set) (pool.Instrumentation, string, error) {
	if changed("instrumentation") {
		i, err := pool.ParseInstrumentation(opts.Instrumentation)
		if err != nil {
			return "", "", cmdutil.Usagef("--instrumentation %v", err)
		}
		return i, "--instrumentation", nil
	}
	if set != nil && set.Instrumentation != nil {
		p, i := set.Primary, set.Instrumentation
		if strings.EqualFold(p.Host, i.Host) && p.Port == i.Port {
			return pool.MetricsSame, fmt.Sprintf("the instrumentation database is on the primary's server (%s:%d)", p.Host, p.Port), nil
		}
		return pool.MetricsSeparate, "the instrumentation database is on another server", nil
	}
	if set != nil {
		return pool.MetricsSame, "no InstrumentationURL: metrics go to the primary database", nil
	}
	if cur.InstrumentationURL == "" {
		return pool.MetricsSame, "no InstrumentationURL: metrics go to the primary database", nil
	}
	if cur.PrimaryURL != "" && sameServer(cur.PrimaryURL, cur.InstrumentationURL) {
		return pool.MetricsSame, "InstrumentationURL is on the primary's server", nil
	}
	return pool.MetricsSeparate, "InstrumentationURL is set", nil
}

// sameServerLive asks the instrumentation database's server who it is: a
// URL with another host name or address (localhost and 127.0.0.1, a
// service name and its IP) may reach the primary's server, whose
// max_connections both pools then share. When it cannot be reached, the
// names decide, with a note.
func sameServerLive(ctx context.Context, f *cmdutil.Factory, set *target.Set, primary *probe.Facts, instr pool.Instrumentation, why string) (pool.Instrumentation, string) {
	if primary == nil || primary.Identity == "" {
		return instr, why
	}
	conn, err := set.Instrumentation.Connect(ctx, f.Globals.Timeout)
	if err != nil {
		return instr, why + " (by host name: it could not be reached to compare servers)"
	}
	defer conn.Close(context.Background())
	qctx, cancel := context.WithTimeout(ctx, f.Globals.Timeout)
	defer cancel()
	id, err := probe.Identity(qctx, conn)
	if err != nil {
		return instr, why + " (by host name: " + err.Error() + ")"
	}
	if id == primary.Identity {
		return pool.MetricsSame, fmt.Sprintf("the instrumentation database is on the primary's server (%s:%d reaches the same PostgreSQL)", set.Instrumentation.Host, set.Instrumentation.Port)
	}
	return pool.MetricsSeparate, "the instrumentation database is on another server (asked live)"
}

// sameServer compares the host and port of two postgres:// URLs.
func sameServer(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil || ua.Hostname() == "" {
		return false
	}
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		return "5432"
	}
	return strings.EqualFold(ua.Hostname(), ub.Hostname()) && port(ua) == port(ub)
}

// readServer connects to the primary and reads its limits and clients.
func readServer(ctx context.Context, f *cmdutil.Factory, t *target.Target) (probe.Facts, error) {
	timeout := f.Globals.Timeout
	conn, err := t.Connect(ctx, timeout)
	if err != nil {
		return probe.Facts{}, cmdutil.Unreachable(err)
	}
	defer conn.Close(context.Background())
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	facts, err := probe.Read(qctx, conn, t.User)
	if err != nil {
		return probe.Facts{}, fmt.Errorf("on %s: %w", t.Redacted, err)
	}
	return facts, nil
}

// durationText shows a lifetime setting, "unset" when absent.
func durationText(d time.Duration, set bool) string {
	if !set {
		return "unset"
	}
	return pool.FormatDuration(d)
}
