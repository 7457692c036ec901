// Package check implements `connectdb check`, the preflight that proves
// Posit Connect will start on a database with a given config.
package check

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	engine "github.com/connectdb/connectdb/internal/check"
	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/config"
	"github.com/connectdb/connectdb/internal/locks"
	"github.com/connectdb/connectdb/internal/secrets"
	"github.com/connectdb/connectdb/internal/target"
)

// CheckOptions holds the flags of `connectdb check`.
type CheckOptions struct {
	F *cmdutil.Factory

	Offline bool
	Only    []string
	Skip    []string
	List    bool
	Strict  bool
	Verbose bool
	Nodes   int
	Pooler  string
}

// NewCmdCheck returns the check command.
func NewCmdCheck(f *cmdutil.Factory) *cobra.Command {
	opts := &CheckOptions{F: f}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Prove Connect will start on this database with this config",
		Long: `check runs every rule of Connect's PostgreSQL admin guide as a named check:
offline checks of the config and URLs, then live checks against the primary
and instrumentation databases (concurrently). If check passes, Connect will
start; if Connect would fail, check fails first and says what to change.

Exit codes: 0 nothing failed (warnings allowed unless --strict), 1 a check
failed, 2 unusable input, 3 no database could be reached.`,
		Example: `  connectdb check --config /etc/rstudio-connect/rstudio-connect.gcfg --secret-key /var/lib/rstudio-connect/db/secret.key
  connectdb check --url "postgres://connect@db.example.com/connect" --password-file ~/.connect-pw --nodes 3
  connectdb check --offline --config rstudio-connect.gcfg --output github
  connectdb check --output junit > check.xml
  connectdb check --only pg.connect,pg.privileges --verbose
  connectdb check --list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Offline, "offline", false, "run only the checks that need no database connection (CI)")
	fl.StringSliceVar(&opts.Only, "only", nil, "run only these check IDs (comma-separated; a trailing * matches a prefix, e.g. pg.*)")
	fl.StringSliceVar(&opts.Skip, "skip", nil, "do not run these check IDs (comma-separated; a trailing * matches a prefix)")
	fl.BoolVar(&opts.List, "list", false, "print every check with its ID and what it verifies, then exit")
	fl.BoolVar(&opts.Strict, "strict", false, "warnings fail the check too (exit 1)")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "show details of passing checks")
	fl.IntVar(&opts.Nodes, "nodes", 1, "number of Connect nodes sharing the database, for the connection budget")
	fl.StringVar(&opts.Pooler, "pooler", "none", "connection pooler between Connect and PostgreSQL: none, session or transaction")
	fl.StringVar(&f.Globals.LockID, "lock-id", "", "Connect's upgrade advisory lock ID: a bigint or two integers a,b (env CONNECTDB_LOCK_ID)")
	return cmd
}

func runCheck(ctx context.Context, opts *CheckOptions) error {
	f := opts.F
	if err := f.CheckOutput("text", "json", "junit", "github", "nagios"); err != nil {
		return err
	}
	if opts.List {
		return writeList(opts)
	}
	if opts.Nodes < 1 {
		return cmdutil.Usagef("--nodes must be 1 or more, not %d", opts.Nodes)
	}
	switch opts.Pooler {
	case "none", "session", "transaction":
	default:
		return cmdutil.Usagef("--pooler %q is not known; use none, session or transaction", opts.Pooler)
	}
	selected, unknown := engine.Select(opts.Only, opts.Skip)
	if len(unknown) > 0 {
		var hints []string
		for _, u := range unknown {
			if s := engine.Suggest(u); s != "" {
				hints = append(hints, "did you mean "+s+"? ")
			}
		}
		return cmdutil.Usagef("unknown check %s %s; %srun 'connectdb check --list' for the IDs", plural(len(unknown), "ID", "IDs"), strings.Join(unknown, ", "), strings.Join(hints, ""))
	}
	lock, err := lockID(opts)
	if err != nil {
		return err
	}
	cfg, err := target.LoadConfig(f)
	if err != nil {
		return err
	}
	in := buildInput(opts, cfg)
	if in.KeyUsage {
		// A --secret-key that does not load is connectdb's input, not a
		// finding about Connect.
		return cmdutil.UsageError(errors.New(in.KeyError))
	}
	in.Offline = opts.Offline

	eo := engine.Options{Input: in, Selected: selected, Timeout: f.Globals.Timeout, Lock: lock, SharedMetrics: in.Instrumentation == nil}
	var resolveErr error
	switch {
	case opts.Offline:
		eo.LiveSkipReason = "skipped: --offline"
	default:
		set, err := target.FromConfig(ctx, f, cfg)
		if err != nil {
			resolveErr = err
			eo.LiveSkipReason = "skipped: fix the failures above first"
		} else {
			eo.Targets, eo.SharedMetrics = set.Targets(), set.SharedMetrics
		}
	}

	rep, err := engine.Run(ctx, eo)
	if err != nil {
		return err
	}
	if resolveErr != nil {
		// Usage and resolution errors win over findings (exit 2): the
		// report is shown, then the error.
		rep.InputError = resolveErr.Error()
		if err := render(opts, rep); err != nil {
			return err
		}
		return resolveErr
	}
	if f.Globals.Output == "nagios" {
		return writeNagios(opts, rep)
	}
	if err := render(opts, rep); err != nil {
		return err
	}
	switch rep.ExitCode(opts.Strict) {
	case cmdutil.ExitUnreachable:
		return cmdutil.Unreachable(errors.New("no database could be reached; see the failures above"))
	case cmdutil.ExitFindings:
		return cmdutil.ErrSilent
	}
	return nil
}

func render(opts *CheckOptions, rep *engine.Report) error {
	out := opts.F.IO.Out
	switch opts.F.Globals.Output {
	case "json":
		return cmdutil.WriteJSON(out, rep.JSON(opts.Strict))
	case "junit":
		return rep.WriteJUnit(out, opts.Strict)
	case "github":
		return rep.WriteGitHub(out, opts.Strict)
	}
	return rep.WriteText(out, engine.TextOptions{Verbose: opts.Verbose, Strict: opts.Strict, Color: opts.F.IO.ColorScheme()})
}

// ListEntry is one line of `check --list --output json`.
type ListEntry struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Title    string `json:"title"`
	Verifies string `json:"verifies"`
}

func writeList(opts *CheckOptions) error {
	var entries []ListEntry
	for _, c := range engine.Registry() {
		entries = append(entries, ListEntry{ID: c.ID, Kind: c.Kind.String(), Title: c.Title, Verifies: c.Verifies})
	}
	if opts.F.JSON() {
		return cmdutil.WriteJSON(opts.F.IO.Out, entries)
	}
	tw := tabwriter.NewWriter(opts.F.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tVERIFIES")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.ID, e.Kind, e.Verifies)
	}
	return tw.Flush()
}

func lockID(opts *CheckOptions) (*locks.Key, error) {
	k, err := locks.LockIDFromFlagOrEnv(opts.F.Globals.LockID, opts.F.Getenv)
	if err != nil {
		return nil, cmdutil.UsageError(err)
	}
	return k, nil
}

// buildInput reads the config (when there is one) and the flags into the
// engine's input.
func buildInput(opts *CheckOptions, cfg *config.Config) *engine.Input {
	f := opts.F
	g := f.Globals
	in := &engine.Input{Pooler: opts.Pooler, Nodes: opts.Nodes, Now: f.Now()}
	in.Provider = cfg.Database.Provider
	if cfg.Path != "" {
		in.ConfigPath = cfg.Path
		in.Where, in.IsSet = cfg.Where, cfg.IsSet
	} else if g.URL != "" {
		// --url without a config file: the URL says PostgreSQL.
		in.Provider = config.ProviderPostgres
	}
	in.MaxIdleConnections = cfg.Database.MaxIdleConnections
	in.MaxOpenConnections = cfg.Database.MaxOpenConnections
	in.ConnectionMaxLifetime = cfg.Database.ConnectionMaxLifetimeRaw
	in.AzureTenantID, in.AzureClientID, in.AzureClientSecret = cfg.Postgres.AzureTenantId, cfg.Postgres.AzureClientId, cfg.Postgres.AzureClientSecret

	pwElsewhere := g.PasswordFile != "" || f.Getenv(secrets.EnvPassword) != ""
	source := func(key string) string {
		if cfg.IsSet(key) {
			return key + " (" + cfg.Where(key) + ")"
		}
		return key
	}
	if cfg.Path == "" {
		// No file: only Connect's environment overrides have an origin.
		fromEnv := func(key string) bool { return cfg.Origin(key).IsEnv() }
		in.IsSet = fromEnv
		in.Where = func(key string) string {
			if fromEnv(key) {
				return cfg.Where(key)
			}
			return ""
		}
	}
	in.Primary = &engine.URLInput{Scope: engine.ScopePrimary, Key: "Postgres.URL", URL: cfg.Postgres.URL, Source: source("Postgres.URL"),
		PasswordKey: "Postgres.Password", Password: cfg.Postgres.Password, PasswordElsewhere: pwElsewhere}
	if g.URL != "" {
		in.Primary.URL, in.Primary.Source = g.URL, "--url"
		if g.URLSource != "" {
			in.Primary.Source = g.URLSource
		}
	}
	iurl, isrc := cfg.Postgres.InstrumentationURL, source("Postgres.InstrumentationURL")
	if g.InstrumentationURL != "" {
		iurl, isrc = g.InstrumentationURL, "--instrumentation-url"
	}
	if iurl != "" {
		in.Instrumentation = &engine.URLInput{Scope: engine.ScopeInstrumentation, Key: "Postgres.InstrumentationURL", URL: iurl, Source: isrc,
			PasswordKey: "Postgres.InstrumentationPassword", Password: cfg.Postgres.InstrumentationPassword,
			PasswordElsewhere: g.PasswordFile != "" || f.Getenv(secrets.EnvInstrumentationPassword) != ""}
	}
	keyPath := g.SecretKey
	if keyPath == "" {
		keyPath = f.Getenv(secrets.EnvSecretKey)
	}
	ks := secrets.KeySearch{Path: keyPath, Config: cfg}
	in.KeyPlaces = ks.Places()
	switch fk, err := secrets.FindKey(ks); {
	case err != nil && keyPath != "":
		in.KeyError, in.KeyUsage = err.Error(), true
	case err != nil:
		in.KeyError = err.Error()
		in.KeyBlocks = errors.Is(err, secrets.ErrBothKeys) || keyPath == "" && !errors.Is(err, fs.ErrPermission)
	case fk != nil:
		in.KeyFrom, in.KeyWarnings = fk.From, fk.Warnings
		in.Decrypt = func(_, value string) (string, error) { return fk.Key.Decrypt(value) }
	}
	in.CutValues = cfg.CutValues
	in.EnvWarnings = cfg.EnvWarnings()
	for _, k := range config.Settings() {
		if o := cfg.Origin(k); o.IsEnv() {
			in.Overrides = append(in.Overrides, k+" from "+o.String())
		}
	}
	in.MigrationFile = migrationFile(cfg)
	return in
}

// migrationFile returns the rstudio-connect-migration.gcfg beside the
// config when it holds any setting, or "".
func migrationFile(cfg *config.Config) string {
	if cfg.Path == "" || cfg.Path == "<stdin>" {
		return ""
	}
	p := filepath.Join(filepath.Dir(cfg.Path), "rstudio-connect-migration.gcfg")
	data, err := os.ReadFile(cfg.HostPath(p))
	if err != nil || len(data) > config.MaxFileSize {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, ";") && !strings.HasPrefix(line, "[") {
			return p
		}
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
