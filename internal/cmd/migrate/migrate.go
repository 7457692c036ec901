// Package migrate implements `connectdb migrate`: copy Connect's SQLite
// databases into PostgreSQL, verified and all-or-nothing.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/config"
	"github.com/connectdb/connectdb/internal/locks"
	"github.com/connectdb/connectdb/internal/migrate"
	"github.com/connectdb/connectdb/internal/sqlitesrc"
	"github.com/connectdb/connectdb/internal/target"
)

// Default SQLite file names inside SQLite.Dir. Connect's documentation does
// not name them; these are connectdb's assumption (see docs/migrate.md).
const (
	CoreFile            = "connect.db"
	InstrumentationFile = "instrumentation.db"
)

// MigrateOptions holds the flags of `connectdb migrate`.
type MigrateOptions struct {
	F *cmdutil.Factory

	SQLite                string
	SQLiteInstrumentation string
	Data                  string // core, instrumentation or all
	DryRun                bool
	DropExisting          bool
	StripNUL              bool
	LockTimeout           time.Duration
	LockID                string
}

// NewCmdMigrate returns the migrate command.
func NewCmdMigrate(f *cmdutil.Factory) *cobra.Command {
	opts := &MigrateOptions{F: f}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Copy Connect's SQLite databases into PostgreSQL, verified and all-or-nothing",
		Long: `Copy the SQLite database Connect uses (and with --data the instrumentation
database) into PostgreSQL. Run it while Connect is stopped.

The PostgreSQL schema is derived from SQLite's: INTEGER becomes bigint, TEXT
text, BLOB bytea, REAL double precision, NUMERIC numeric; columns declared
BOOLEAN, DATETIME/TIMESTAMP and DATE become boolean, timestamptz and date.
Rows are streamed with COPY in one transaction per target database; keys,
indexes and foreign keys follow the data; every table's row count and
checksum are compared with SQLite before anything is committed. A value that
cannot be copied unchanged stops the run with its table, row and column.`,
		Example: `  # See the schema, the row counts and any bad data; writes nothing
  connectdb migrate --dry-run

  # Migrate the core database named by the Connect config
  connectdb migrate --config /etc/rstudio-connect/rstudio-connect.gcfg

  # Both databases, explicit files and URL, JSON report
  connectdb migrate --data all --sqlite /backup/connect.db \
    --sqlite-instrumentation /backup/instrumentation.db \
    --url "postgres://connect@db.example.com/connect" --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMigrate(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.SQLite, "sqlite", "", "core SQLite database (default {SQLite.Dir}/"+CoreFile+")")
	fl.StringVar(&opts.SQLiteInstrumentation, "sqlite-instrumentation", "", "instrumentation SQLite database (default {SQLite.Dir}/"+InstrumentationFile+")")
	fl.StringVar(&opts.Data, "data", "core", "what to migrate: core, instrumentation or all")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the plan, row counts and bad data; write nothing")
	fl.BoolVar(&opts.DropExisting, "drop-existing", false, "drop target tables that already exist (inside the migration transaction)")
	fl.BoolVar(&opts.StripNUL, "strip-nul", false, "remove NUL bytes from text (PostgreSQL cannot store them) instead of stopping")
	fl.DurationVar(&opts.LockTimeout, "lock-timeout", 5*time.Minute, "how long to wait for the advisory lock")
	fl.StringVar(&opts.LockID, "lock-id", "", "advisory lock id, bigint or a,b (env CONNECTDB_LOCK_ID; default connectdb's migrate key)")
	return cmd
}

func runMigrate(ctx context.Context, opts *MigrateOptions) error {
	f := opts.F
	if err := f.CheckOutput("text", "json"); err != nil {
		return err
	}
	if opts.LockTimeout <= 0 {
		return cmdutil.Usagef("--lock-timeout must be positive, such as 5m")
	}
	key := migrate.DefaultLockKey
	given, err := locks.LockIDFromFlagOrEnv(opts.LockID, f.Getenv)
	if err != nil {
		return cmdutil.Usagef("%v", err)
	}
	if given != nil {
		key = *given
	}
	var wantCore, wantInstr bool
	switch opts.Data {
	case "core":
		wantCore = true
	case "instrumentation":
		wantInstr = true
	case "all":
		wantCore, wantInstr = true, true
	default:
		return cmdutil.Usagef("--data %q is not known; use core, instrumentation or all", opts.Data)
	}

	set, cfg, err := resolveTargets(ctx, f, opts)
	if err != nil {
		return err
	}
	core, err := sourcePath(cfg, opts.SQLite, "--sqlite", CoreFile, wantCore)
	if err != nil {
		return err
	}
	instr, err := sourcePath(cfg, opts.SQLiteInstrumentation, "--sqlite-instrumentation", InstrumentationFile, wantInstr)
	if err != nil {
		return err
	}
	jobs := buildJobs(set, core, instr)

	mopts := migrate.Options{
		DropExisting: opts.DropExisting, StripNUL: opts.StripNUL, LockKey: key,
		LockTimeout: opts.LockTimeout, ConnectTimeout: f.Globals.Timeout, Log: f.IO.ErrOut,
	}
	if f.IO.IsStderrTTY() {
		mopts.Progress = newBars(f.IO.ErrOut)
	}
	if opts.DryRun {
		rep, err := migrate.DryRun(ctx, jobs, mopts)
		if err != nil {
			return classify(err)
		}
		if f.JSON() {
			if err := cmdutil.WriteJSON(f.IO.Out, rep); err != nil {
				return err
			}
		} else {
			printDryRun(f.IO.Out, rep)
		}
		if len(rep.Problems) > 0 {
			if f.JSON() {
				return cmdutil.ErrSilent
			}
			return cmdutil.Findings("the dry run found %d values that would stop the migration; fix them in SQLite (or use --strip-nul for NUL bytes) and run the dry run again", len(rep.Problems))
		}
		return nil
	}
	if set == nil {
		return cmdutil.Usagef("no PostgreSQL URL: set Postgres.URL in the Connect config or pass --url URL")
	}
	if given == nil {
		fmt.Fprintf(f.IO.ErrOut, "using connectdb's migrate advisory lock %s (Connect's own upgrade lock id is not documented; pass --lock-id to use it)\n", key)
	}
	rep, err := migrate.Run(ctx, jobs, mopts)
	if err != nil {
		return classify(err)
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, rep)
	}
	printReport(f.IO.Out, rep)
	return nil
}

// resolveTargets reads the config and the targets. A dry run needs no
// target: without a URL it plans without one.
func resolveTargets(ctx context.Context, f *cmdutil.Factory, opts *MigrateOptions) (*target.Set, *config.Config, error) {
	cfg, err := target.LoadConfig(f)
	if err != nil {
		if !opts.DryRun || f.Globals.URL != "" {
			return nil, nil, err
		}
		cfg = config.Default()
	}
	set, err := target.FromConfig(ctx, f, cfg)
	if err != nil {
		if opts.DryRun {
			return nil, cfg, nil
		}
		return nil, nil, err
	}
	return set, cfg, nil
}

func sourcePath(cfg *config.Config, flagValue, flagName, file string, want bool) (string, error) {
	if !want {
		return "", nil
	}
	p := flagValue
	if p == "" {
		dir := cfg.SQLite.Dir
		if dir == "" {
			dir = filepath.Join(cfg.Server.DataDir, "db")
		}
		p = filepath.Join(dir, file)
	}
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", cmdutil.Usagef("no SQLite database at %s; pass %s PATH or set SQLite.Dir in the Connect config", p, flagName)
		}
		return "", cmdutil.Usagef("cannot read the SQLite database %s: %v", p, err)
	}
	return p, nil
}

// buildJobs groups the sources by target database: when the instrumentation
// data shares the primary database, both go into one transaction.
func buildJobs(set *target.Set, core, instr string) []migrate.Job {
	var primary, instrT *target.Target
	if set != nil {
		primary, instrT = set.Primary, set.Instrumentation
	}
	var jobs []migrate.Job
	if core != "" {
		jobs = append(jobs, migrate.Job{Target: primary, Sources: []migrate.Source{{Label: "core", Path: core}}})
	}
	if instr != "" {
		src := migrate.Source{Label: "instrumentation", Path: instr}
		if instrT == nil && len(jobs) == 1 && set != nil {
			jobs[0].Sources = append(jobs[0].Sources, src)
		} else {
			t := instrT
			if t == nil {
				t = primary
			}
			jobs = append(jobs, migrate.Job{Target: t, Sources: []migrate.Source{src}})
		}
	}
	return jobs
}

// classify gives migrate's errors their exit codes: refusals and bad data
// are findings (1), unreachable databases 3.
func classify(err error) error {
	var ee *cmdutil.ExitError
	if errors.As(err, &ee) {
		return err
	}
	var inUse *sqlitesrc.InUseError
	switch {
	case errors.As(err, &inUse):
		return cmdutil.Findings("%v", err)
	}
	return cmdutil.Findings("%v", err)
}

func printDryRun(w io.Writer, rep *migrate.Report) {
	for i, db := range rep.Databases {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if db.Target != "" {
			fmt.Fprintf(w, "-- target: %s\n", db.Target)
		}
		fmt.Fprint(w, db.PlanSQL)
		fmt.Fprintln(w, "\nRows to copy (dry run: nothing was written):")
		width, total := len("total"), int64(0)
		for _, t := range db.Tables {
			width = max(width, len(t.Source)+1+len(t.Table))
			total += t.Rows
		}
		for _, t := range db.Tables {
			fmt.Fprintf(w, "  %-*s %12s\n", width, t.Source+"."+t.Table, humanize.Comma(t.Rows))
		}
		fmt.Fprintf(w, "  %-*s %12s\n", width, "total", humanize.Comma(total))
		for _, t := range db.Tables {
			if t.TimestampsRounded > 0 {
				fmt.Fprintf(w, "  note: %s.%s has %s timestamps with sub-microsecond digits; they will be rounded to microseconds (PostgreSQL's precision)\n", t.Source, t.Table, humanize.Comma(t.TimestampsRounded))
			}
			if t.NULStripped > 0 {
				fmt.Fprintf(w, "  note: %s.%s has %s text values whose NUL bytes will be removed (--strip-nul)\n", t.Source, t.Table, humanize.Comma(t.NULStripped))
			}
		}
	}
	if len(rep.Problems) == 0 {
		fmt.Fprintln(w, "\nValues that will not convert: none.")
		return
	}
	fmt.Fprintf(w, "\nValues that will not convert (%d%s):\n", len(rep.Problems), moreNote(len(rep.Problems)))
	for _, p := range rep.Problems {
		col := ""
		if p.Column != "" {
			col = ", column " + p.Column
		}
		fmt.Fprintf(w, "  %s.%s, %s%s: %s\n", p.Source, p.Table, p.Row, col, p.Reason)
	}
}

func moreNote(n int) string {
	if n >= 100 {
		return ", showing the first 100"
	}
	return ""
}

func printReport(w io.Writer, rep *migrate.Report) {
	tables := 0
	for _, db := range rep.Databases {
		var srcs []string
		for _, s := range db.Sources {
			srcs = append(srcs, fmt.Sprintf("%s (%s)", s.Label, s.Path))
		}
		fmt.Fprintf(w, "Migrated %s into %s, schema %s:\n", strings.Join(srcs, " and "), db.Target, db.Schema)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TABLE\tROWS\tBYTES\tTIME\tCHECKSUM\t")
		for _, t := range db.Tables {
			fmt.Fprintf(tw, "  %s.%s\t%s\t%s\t%.2fs\t%s verified\t\n", t.Source, t.Table, humanize.Comma(t.Rows), humanize.Bytes(uint64(t.Bytes)), t.Seconds, t.Checksum)
			tables++
		}
		tw.Flush()
		for _, t := range db.Tables {
			if t.TimestampsRounded > 0 {
				fmt.Fprintf(w, "  note: %s: %s timestamps were rounded to microseconds (PostgreSQL's precision)\n", t.Table, humanize.Comma(t.TimestampsRounded))
			}
			if t.NULStripped > 0 {
				fmt.Fprintf(w, "  note: %s: NUL bytes were removed from %s text values (--strip-nul)\n", t.Table, humanize.Comma(t.NULStripped))
			}
		}
		for _, s := range db.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", s)
		}
	}
	rate := 0.0
	if rep.Seconds > 0 {
		rate = float64(rep.Rows) / rep.Seconds
	}
	fmt.Fprintf(w, "\n%d tables, %s rows, %s in %.1fs (%s rows/s): verified and committed; advisory lock %s released.\n",
		tables, humanize.Comma(rep.Rows), humanize.Bytes(uint64(rep.Bytes)), rep.Seconds, humanize.Comma(int64(rate)), rep.LockID)
	fmt.Fprintln(w, "Next: set Database.Provider = postgres in the Connect config, start Connect, then run 'connectdb check'.")
}
