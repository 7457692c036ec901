// Package target turns connectdb's inputs (the Connect config, --url
// overrides, passwords and encrypted secrets) into the database connections
// Connect itself would open: the primary database and, when configured, a
// separate instrumentation (operational metrics) database.
package target

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/azure"
	"github.com/connectdb/connectdb/internal/buildinfo"
	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/config"
	"github.com/connectdb/connectdb/internal/connerr"
	"github.com/connectdb/connectdb/internal/dsn"
	"github.com/connectdb/connectdb/internal/secrets"
)

// Kind names the database a target stands for.
type Kind string

const (
	Primary         Kind = "primary"
	Instrumentation Kind = "instrumentation"
)

// TokenFunc returns a fresh password for each new connection, such as an
// Azure access token.
type TokenFunc func(ctx context.Context) (string, error)

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
	SSLMode  string // as Connect will use it ("require" when the URL has none)
	// PasswordSource says where the password came from ("" when none), e.g.
	// "env CONNECTDB_POSTGRES_PASSWORD"; never the password itself.
	PasswordSource string
	Config         *pgx.ConnConfig
	// Token, when set, supplies the password for every new connection.
	Token    TokenFunc
	Warnings []string // non-fatal findings while building the target

	// passwordGiven is false when no source had a password: a server that
	// asks for one then gets an empty one.
	passwordGiven bool
	mu            sync.Mutex
	conn          Connection // the last Connect's findings, see Connection
}

// Set is what Resolve found.
type Set struct {
	// Config is the Connect config that was read; config.Default() when
	// the URL came from --url and there was no config file.
	Config  *config.Config
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

// LoadConfig reads the Connect config named by --config. With --url and no
// explicit --config, a missing default config file is not an error: the
// defaults are used.
func LoadConfig(f *cmdutil.Factory) (*config.Config, error) {
	g := f.Globals
	cfg, err := f.ConfigOptions(g.ConfigPath).Load()
	if err == nil {
		return cfg, nil
	}
	if errors.Is(err, fs.ErrNotExist) && !g.ConfigExplicit && g.ConfigPath != "-" {
		// No file: Connect's defaults and its environment (CONNECT_*),
		// then, when neither names a database, the libpq environment.
		cfg, err := f.ConfigOptions("").Load()
		if err != nil {
			return nil, cmdutil.UsageError(err)
		}
		if err := useLibpqEnv(f, cfg); err != nil {
			return nil, err
		}
		if g.URL != "" || cfg.Postgres.URL != "" {
			return cfg, nil
		}
		return nil, cmdutil.Usagef("no Connect config at %s; pass --config PATH or --url URL (or set PGHOST or PGSERVICE)", g.ConfigPath)
	}
	return nil, cmdutil.UsageError(err)
}

// Resolve reads the config and builds the targets the way Connect would.
func Resolve(ctx context.Context, f *cmdutil.Factory) (*Set, error) {
	cfg, err := LoadConfig(f)
	if err != nil {
		return nil, err
	}
	return FromConfig(ctx, f, cfg)
}

// FromConfig builds the targets from an already loaded config plus the
// factory's overrides.
func FromConfig(ctx context.Context, f *cmdutil.Factory, cfg *config.Config) (*Set, error) {
	g := f.Globals
	resolver := &secrets.Resolver{PasswordFile: g.PasswordFile, KeyPath: g.SecretKey, Getenv: f.Getenv, Config: cfg}

	if err := useLibpqEnv(f, cfg); err != nil {
		return nil, err
	}
	primary := setting{kind: Primary, raw: cfg.Postgres.URL, source: "Postgres.URL (" + cfg.Where("Postgres.URL") + ")",
		password: cfg.Postgres.Password, secretKind: secrets.Primary}
	if g.URL != "" {
		primary.raw, primary.source = g.URL, "--url"
		if g.URLSource != "" {
			primary.source = g.URLSource
		}
	}
	if primary.raw == "" {
		return nil, cmdutil.Usagef("no PostgreSQL URL: set Postgres.URL in %s or pass --url URL", displayPath(cfg))
	}
	if g.URLSource == "" {
		// Connect's URL: none of libpq's environment applies (main removed
		// it from the process for pgx); say which variables were passed by.
		primary.getenv = f.Getenv
	}
	p, err := build(primary, resolver)
	if err != nil {
		return nil, err
	}
	set := &Set{Config: cfg, Primary: p, SharedMetrics: true}

	instr := setting{kind: Instrumentation, raw: cfg.Postgres.InstrumentationURL,
		source:   "Postgres.InstrumentationURL (" + cfg.Where("Postgres.InstrumentationURL") + ")",
		password: cfg.Postgres.InstrumentationPassword, secretKind: secrets.Instrumentation}
	if g.InstrumentationURL != "" {
		instr.raw, instr.source = g.InstrumentationURL, "--instrumentation-url"
	}
	instr.getenv = primary.getenv
	if instr.raw != "" {
		i, err := build(instr, resolver)
		if err != nil {
			return nil, err
		}
		i.Warnings = slices.DeleteFunc(i.Warnings, func(w string) bool { return slices.Contains(p.Warnings, w) }) // say it once
		set.Instrumentation, set.SharedMetrics = i, false
	}
	if azure.Configured(cfg.Postgres) {
		if err := useAzure(ctx, f, cfg, set, resolver); err != nil {
			return nil, err
		}
	}
	return set, nil
}

type setting struct {
	kind       Kind
	raw        string
	source     string
	password   string // the config's separate password setting, maybe encrypted
	secretKind secrets.Target
	// getenv, when set, is the environment whose libpq variables the
	// target ignores: a warning names those that would have changed it.
	getenv func(string) string
}

func build(s setting, r *secrets.Resolver) (*Target, error) {
	info, err := dsn.Parse(s.raw)
	if err != nil {
		return nil, cmdutil.Usagef("%s: %v; run 'connectdb encode-url --check' to repair it", s.source, err)
	}
	port := ""
	if info.Port != 0 {
		port = strconv.Itoa(info.Port)
	}
	res, warnings, err := r.Password(s.secretKind, s.password, info.Host, port, info.Database, info.User)
	if err != nil {
		return nil, cmdutil.UsageError(err)
	}
	separate := ""
	if res.Found() {
		if !(res.Fallback() && info.HasPassword) {
			separate = res.Secret.Reveal()
		}
	}
	comb, err := dsn.Combine(s.raw, separate, buildinfo.UserAgent())
	if err != nil {
		return nil, cmdutil.Usagef("%s: %v", s.source, err)
	}
	cfg, err := parseConfig(comb.ConnString)
	if err != nil {
		return nil, cmdutil.Usagef("%s could not be turned into a connection (%v); run 'connectdb encode-url --check' to repair it", s.source, dsn.Redact(err.Error()))
	}
	given := separate != "" || info.HasPassword
	if !given {
		// pgx would fill in PGPASSWORD or an unchecked password file on its
		// own; every password comes from secrets.Resolver instead.
		cfg.Password = ""
	}
	t := &Target{
		Kind: s.kind, Source: s.source, Redacted: dsn.RedactInput(s.raw),
		User: cfg.User, Host: cfg.Host, Port: int(cfg.Port), Database: cfg.Database,
		Schema: info.Schema, SSLMode: info.SSLMode, Config: cfg,
		Warnings: append(warnings, comb.Warnings...), passwordGiven: given,
	}
	if !info.SSLModeSet {
		t.SSLMode = "require"
	}
	if s.getenv != nil {
		if w := ignoredEnvWarning(ignoredLibpqEnv(s.getenv, comb.ConnString)); w != "" {
			t.Warnings = append(t.Warnings, w)
		}
	}
	if separate != "" {
		t.PasswordSource = res.Source
	} else if info.HasPassword {
		t.PasswordSource = "the URL in " + s.source
	}
	return t, nil
}

// parseConfig parses a connection string for pgx with password files
// turned off: pgx reads ~/.pgpass and PGPASSFILE itself, without libpq's
// mode check, unless passfile is set. An empty passfile names no file.
// pgx also takes defaults from PG* variables in the process environment;
// main removes them all first (cmdutil.IsolatePGEnv), so connString is all
// there is, as for Connect.
func parseConfig(connString string) (*pgx.ConnConfig, error) {
	sep := "?"
	if strings.Contains(connString, "?") {
		sep = "&"
	}
	return pgx.ParseConfig(connString + sep + "passfile=")
}

// ignoredLibpqEnv returns the libpq variables set in getenv that a target
// with connString does not use, though psql would, and pgx did before
// connectdb stopped it from reading the environment: PGHOST and PGSERVICE
// whenever set (they would choose the target when nothing else does), and
// every other one whose setting connString leaves out. PGPASSWORD and
// PGPASSFILE are not among them: connectdb reads those itself, as
// documented fallbacks.
func ignoredLibpqEnv(getenv func(string) string, connString string) []string {
	given := map[string]bool{}
	if info, err := dsn.Parse(connString); err == nil {
		given["host"] = info.Host != ""
		given["port"] = len(info.Hosts) > 0 && !slices.ContainsFunc(info.Hosts, func(h dsn.HostPort) bool { return h.Port == 0 })
		given["user"], given["dbname"] = info.User != "", info.Database != ""
		for _, p := range info.Params {
			k := p.Key
			if k == "database" {
				k = "dbname"
			}
			given[k] = true
		}
	}
	var out []string
	for _, v := range libpqVars {
		if getenv(v.env) != "" && (v.env == "PGHOST" || !given[v.key]) {
			out = append(out, v.env)
		}
	}
	if getenv(secrets.EnvPGService) != "" {
		out = append(out, secrets.EnvPGService)
	}
	return out
}

// ignoredEnvWarning says that the variables in names are not used; "" when
// there are none.
func ignoredEnvWarning(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0] + " is set but ignored: Connect does not read libpq's environment, so connectdb uses the URL alone"
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] +
		" are set but ignored: Connect does not read libpq's environment, so connectdb uses the URL alone"
}

func displayPath(cfg *config.Config) string {
	if cfg.Path == "" {
		return "the Connect config"
	}
	return cfg.Path
}

// Connect opens a connection to t, giving up after timeout.
func (t *Target) Connect(ctx context.Context, timeout time.Duration) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cc := t.Config.Copy()
	if t.Token != nil {
		tok, err := t.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("getting an access token for the %s database: %w", t.Kind, err)
		}
		cc.Password = tok
	}
	if !t.passwordGiven && t.Token == nil {
		cc.Password = ""
	}
	var d dialLog
	d.wrap(cc)
	c, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		ec := t.errContext()
		t.failed(err, ec)
		return nil, &ConnectError{Kind: t.Kind, Redacted: t.Redacted, Err: err,
			Cause: connerr.ClassifyFor(err, ec), Hosts: t.Connection().FailedHosts, Warnings: t.Warnings}
	}
	t.describe(c, &d)
	return c, nil
}

// errContext names the target for connerr's messages.
func (t *Target) errContext() connerr.Context {
	return connerr.Context{User: t.User, Database: t.Database, Host: t.Host,
		NoPassword: !t.passwordGiven && t.Token == nil}
}

// Classify explains err, a failed Connect of t, with what t knows (such as
// whether a password was given).
func (t *Target) Classify(err error) connerr.Cause { return connerr.ClassifyFor(err, t.errContext()) }

// ConnectError is a failed connection attempt, explained in plain words
// with the change that fixes it. It unwraps to the driver's error.
type ConnectError struct {
	Kind     Kind
	Redacted string
	Cause    connerr.Cause
	// Hosts lists each host tried and why it failed, when the URL names
	// more than one or pgx tried one twice.
	Hosts []HostFailure
	// Warnings are the target's connection-setup warnings, such as a
	// password file that was ignored: they often explain the failure.
	Warnings []string
	Err      error
}

func (e *ConnectError) Error() string {
	raw, _, _ := strings.Cut(e.Err.Error(), "\n")
	if len(e.Hosts) > 1 {
		var hs []string
		for _, h := range e.Hosts {
			hs = append(hs, h.Host+": "+strings.TrimSuffix(h.Summary, "."))
		}
		raw = "tried " + strings.Join(hs, "; ")
	}
	also := ""
	if len(e.Warnings) > 0 {
		also = " Also: " + strings.Join(e.Warnings, "; ") + "."
	}
	return fmt.Sprintf("cannot connect to the %s database %s: %s %s (%s)%s", e.Kind, e.Redacted,
		strings.TrimSpace(e.Cause.Summary), strings.TrimSpace(e.Cause.Remedy), raw, also)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// useAzure makes the targets log in with the Azure service principal of
// cfg (Postgres.AzureTenantId, AzureClientId, AzureClientSecret), as
// Connect does: the password of every new connection is an Entra ID access
// token, shared by both targets (the same principal) and cached until
// shortly before it expires. An explicit --password-file still wins, so an
// admin can try a token fetched by hand. The HTTP client that reaches the
// authority may come in ctx under oauth2.HTTPClient. See docs/azure.md.
func useAzure(ctx context.Context, f *cmdutil.Factory, cfg *config.Config, set *Set, r *secrets.Resolver) error {
	creds, warnings, err := azure.Load(cfg.Postgres, r, f.Globals.AzureAuthorityHost)
	if err != nil {
		return cmdutil.UsageError(fmt.Errorf("%s: %w", displayPath(cfg), err))
	}
	src := azure.NewTokenSource(creds, azure.WithTimeout(f.Globals.Timeout), azure.ContextClient(ctx))
	set.Primary.Warnings = append(set.Primary.Warnings, warnings...)
	for _, t := range set.Targets() {
		if strings.HasPrefix(t.PasswordSource, "--password-file") {
			t.Warnings = append(t.Warnings, "--password-file overrides the Azure service principal set in "+cfg.Where(azure.SettingClientID)+" for the "+string(t.Kind)+" database")
			continue
		}
		t.Token = src.Token
		t.PasswordSource = "Azure service principal " + creds.ClientID + " (token from " + creds.AuthorityHost + ")"
	}
	return nil
}
