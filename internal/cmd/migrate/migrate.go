// Package migrate implements `connectdb migrate`: copy Connect's SQLite
// databases into PostgreSQL, verified and all-or-nothing.
package migrate

import (
	"bufio"
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
	Verify                bool
	DropAll               bool
	Yes                   bool
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
		Long: `Copy the SQLite databases Connect uses (core and, when its file exists,
instrumentation; --data picks one) into PostgreSQL. Run it while Connect is
stopped. --verify compares an earlier migration with SQLite, read-only.

The PostgreSQL schema is derived from SQLite's: INTEGER becomes bigint, TEXT
text, BLOB bytea, REAL double precision, NUMERIC numeric; columns declared
BOOLEAN, DATETIME/TIMESTAMP and DATE become boolean, timestamptz and date.
Rows are streamed with COPY in one transaction per target database; keys,
indexes and foreign keys follow the data; every table's row count and
checksum are compared with SQLite before anything is committed. A value that
cannot be copied unchanged stops the run with its table, row and column.

When the target already holds Connect's own tables, empty (Connect was
started once against the empty database, then stopped), the data is loaded
into them instead: columns matched by name, values converted to each
column's type, the target's keys and defaults kept. --dry-run with a target
shows that mapping. A re-run onto a complete, verified copy writes nothing.`,
		Example: `  # See the schema, the row counts and any bad data; writes nothing
  connectdb migrate --dry-run

  # Migrate both databases named by the Connect config
  connectdb migrate --config /etc/rstudio-connect/rstudio-connect.gcfg

  # Later: prove PostgreSQL still matches the SQLite files (read-only)
  connectdb migrate --verify --config /etc/rstudio-connect/rstudio-connect.gcfg

  # Both databases, explicit files and URL, JSON report
  connectdb migrate --sqlite /backup/connect.db \
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
	fl.StringVar(&opts.Data, "data", "all", "what to migrate: all (core and, when its file exists, instrumentation), core or instrumentation")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the plan, row counts and bad data; write nothing")
	fl.BoolVar(&opts.Verify, "verify", false, "only compare an earlier migration's PostgreSQL tables with SQLite (read-only, no lock); exit 1 when they differ")
	fl.BoolVar(&opts.DropAll, "drop-all", false, "drop the target tables that already exist, inside the migration transaction (asks on a terminal; needs --yes otherwise)")
	fl.BoolVar(&opts.DropAll, "drop-existing", false, "alias of --drop-all")
	fl.BoolVar(&opts.Yes, "yes", false, "do not ask before --drop-all drops tables")
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

	if opts.Verify && (opts.DryRun || opts.DropAll) {
		return cmdutil.Usagef("--verify only reads: it cannot be combined with --dry-run or --drop-all")
	}
	interactive := f.IO.IsStdinTTY() && f.IO.IsStderrTTY()
	if opts.DropAll && !opts.DryRun && !opts.Yes && !interactive {
		return cmdutil.Usagef("--drop-all drops the target's existing tables and there is no terminal to confirm it on; check the target (connectdb migrate --dry-run), then add --yes")
	}

	set, cfg, err := resolveTargets(ctx, f, opts)
	if err != nil {
		return err
	}
	core, err := sourcePath(cfg, opts.SQLite, "--sqlite", CoreFile, wantCore)
	if err != nil {
		return err
	}
	// With --data all, a missing instrumentation file is a note: Connect
	// may not have written one yet.
	instrOptional := opts.Data == "all" && opts.SQLiteInstrumentation == ""
	instr, err := sourcePath(cfg, opts.SQLiteInstrumentation, "--sqlite-instrumentation", InstrumentationFile, wantInstr)
	var notes []string
	if err != nil {
		p := defaultPath(cfg, InstrumentationFile)
		if _, serr := os.Stat(p); !instrOptional || !errors.Is(serr, fs.ErrNotExist) {
			return err
		}
		notes = append(notes, fmt.Sprintf("no instrumentation database at %s: only the core database is copied (pass --sqlite-instrumentation PATH if it is elsewhere)", p))
		instr = ""
	}
	for _, n := range notes {
		fmt.Fprintf(f.IO.ErrOut, "note: %s\n", n)
	}
	jobs := buildJobs(set, core, instr)

	mopts := migrate.Options{
		DropExisting: opts.DropAll, StripNUL: opts.StripNUL, LockKey: key,
		LockTimeout: opts.LockTimeout, ConnectTimeout: f.Globals.Timeout, Log: f.IO.ErrOut,
	}
	if opts.DropAll && !opts.Yes {
		mopts.ConfirmDrop = func(ctx context.Context, d migrate.DropPlan) error { return confirmDrop(f, d) }
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
	if opts.Verify {
		rep, err := migrate.Verify(ctx, jobs, mopts)
		if err != nil {
			return classify(err)
		}
		rep.Notes = notes
		if f.JSON() {
			if err := cmdutil.WriteJSON(f.IO.Out, rep); err != nil {
				return err
			}
		} else {
			printVerify(f.IO.Out, rep)
		}
		if rep.Differences > 0 {
			if f.JSON() {
				return cmdutil.ErrSilent
			}
			return cmdutil.Findings("%d tables differ between SQLite and PostgreSQL; see the list above", rep.Differences)
		}
		return nil
	}
	if given == nil {
		fmt.Fprintf(f.IO.ErrOut, "using connectdb's migrate advisory lock %s (Connect's own upgrade lock id is not documented; pass --lock-id to use it)\n", key)
	}
	rep, err := migrate.Run(ctx, jobs, mopts)
	if err != nil {
		return classify(err)
	}
	rep.Notes = notes
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
		// A dry run plans without a config only when none was asked for
		// and the default file is absent: an explicit --config that is
		// missing, unreadable or malformed fails as in every command.
		g := f.Globals
		if !opts.DryRun || g.URL != "" || g.ConfigExplicit || g.ConfigPath == "-" {
			return nil, nil, err
		}
		if _, serr := os.Stat(g.ConfigPath); !errors.Is(serr, fs.ErrNotExist) {
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
		p = defaultPath(cfg, file)
	}
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return "", cmdutil.Usagef("no SQLite database at %s; pass %s PATH or set SQLite.Dir in the Connect config", p, flagName)
	}
	if err := sqlitesrc.CheckFile(p); err != nil {
		return "", cmdutil.Usagef("%s: %w", flagName, err)
	}
	return p, nil
}

// defaultPath is file in the Connect config's SQLite.Dir.
func defaultPath(cfg *config.Config, file string) string {
	dir := cfg.SQLite.Dir
	if dir == "" {
		dir = filepath.Join(cfg.Server.DataDir, "db")
	}
	return filepath.Join(dir, file)
}

// confirmDrop lists what --drop-all is about to drop and asks for the
// database name to be typed on the terminal.
func confirmDrop(f *cmdutil.Factory, d migrate.DropPlan) error {
	w := f.IO.ErrOut
	var total int64
	for _, t := range d.Tables {
		total += t.Rows
	}
	fmt.Fprintf(w, "--drop-all will drop %d tables (%s rows) in schema %s of database %s on %s:\n", len(d.Tables), humanize.Comma(total), d.Schema, d.Database, d.Host)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, t := range d.Tables {
		fmt.Fprintf(tw, "  %s\t%s rows\t\n", t.Table, humanize.Comma(t.Rows))
	}
	tw.Flush()
	fmt.Fprintf(w, "Type the database name (%s) to drop them, anything else to stop: ", d.Database)
	line, _ := bufio.NewReader(f.IO.In).ReadString('\n')
	if strings.TrimSpace(line) != d.Database {
		return cmdutil.Findings("not confirmed: nothing was dropped or written")
	}
	return nil
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
	if errors.Is(err, sqlitesrc.ErrBadInput) {
		return cmdutil.UsageError(err)
	}
	return cmdutil.Findings("%w", err)
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
		if p.Table == "" {
			fmt.Fprintf(w, "  %s: %s\n", p.Source, p.Reason)
			continue
		}
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

func sourceList(db migrate.DatabaseReport) string {
	var srcs []string
	for _, s := range db.Sources {
		srcs = append(srcs, fmt.Sprintf("%s (%s)", s.Label, s.Path))
	}
	return strings.Join(srcs, " and ")
}

func printVerify(w io.Writer, rep *migrate.Report) {
	tables := 0
	for _, db := range rep.Databases {
		fmt.Fprintf(w, "Compared %s with %s, schema %s (read-only):\n", sourceList(db), db.Target, db.Schema)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TABLE\tSQLITE ROWS\tPOSTGRESQL ROWS\tRESULT\t")
		for _, t := range db.Tables {
			pg := "-"
			if t.PostgresRows != nil {
				pg = humanize.Comma(*t.PostgresRows)
			}
			result := "equal (checksum " + t.Checksum + ")"
			if !t.Verified {
				result = "DIFFERS: " + t.Difference
			}
			fmt.Fprintf(tw, "  %s.%s\t%s\t%s\t%s\t\n", t.Source, t.Table, humanize.Comma(t.Rows), pg, result)
			tables++
		}
		tw.Flush()
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if rep.Differences == 0 {
		fmt.Fprintf(w, "\n%d tables, %s rows: PostgreSQL matches SQLite.\n", tables, humanize.Comma(rep.Rows))
		return
	}
	fmt.Fprintf(w, "\n%d of %d tables differ from SQLite.\n", rep.Differences, tables)
}

func printReport(w io.Writer, rep *migrate.Report) {
	tables := 0
	if rep.AlreadyMigrated {
		for _, db := range rep.Databases {
			tables += len(db.Tables)
			fmt.Fprintf(w, "%s already holds %s: every table verified equal to SQLite.\n", db.Target, sourceList(db))
		}
		fmt.Fprintf(w, "\n%d tables, %s rows already migrated and verified; nothing was written.\n", tables, humanize.Comma(rep.Rows))
		fmt.Fprintln(w, "Next: set Database.Provider = postgres in the Connect config, start Connect, then run 'connectdb check'.")
		return
	}
	for _, db := range rep.Databases {
		into := "schema " + db.Schema
		if db.ExistingSchema {
			into = "the existing (Connect-created) tables of schema " + db.Schema
		}
		fmt.Fprintf(w, "Migrated %s into %s, %s:\n", sourceList(db), db.Target, into)
		if len(db.Dropped) > 0 {
			var names []string
			for _, d := range db.Dropped {
				names = append(names, fmt.Sprintf("%s (%s rows)", d.Table, humanize.Comma(d.Rows)))
			}
			fmt.Fprintf(w, "  dropped first (--drop-all): %s\n", strings.Join(names, ", "))
		}
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
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	how := "verified and committed"
	if rep.CommitRecovered {
		how = "committed and verified (the COMMIT's answer was lost; a new connection found it committed)"
	}
	fmt.Fprintf(w, "\n%d tables, %s rows, %s in %.1fs (%s rows/s): %s; advisory lock %s released.\n",
		tables, humanize.Comma(rep.Rows), humanize.Bytes(uint64(rep.Bytes)), rep.Seconds, humanize.Comma(int64(rate)), how, rep.LockID)
	fmt.Fprintln(w, "Next: set Database.Provider = postgres in the Connect config, start Connect, then run 'connectdb check'.")
}
