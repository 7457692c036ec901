// Command benchmigrate measures `connectdb migrate` against the floor, the
// fastest way PostgreSQL itself can take the same rows, and against other
// tools, on generated SQLite files and one throwaway PostgreSQL server. Run
// it through scripts/bench-migrate.sh.
//
// For every shape (wide: Connect-shaped tables; narrow: one table of two
// 64-bit integers) and size it runs, in rounds whose order rotates:
//
//   - connectdb into an empty database (derived schema);
//   - the floor: the tables created from connectdb's own plan (its
//     --dry-run SQL), then in one transaction server-side
//     COPY … FROM 'file' (FORMAT binary, FREEZE) of files holding exactly the
//     rows connectdb wrote (exported with COPY … TO beforehand), then the
//     plan's keys, indexes and foreign keys, COMMIT, then ANALYZE;
//   - connectdb into a schema created beforehand the way Connect creates it
//     (testdata/connect-like-schema.sql), when -modes has "existing";
//   - an older connectdb binary (-baseline), and pgloader, when given.
//
// Seconds are wall times of the whole process (/usr/bin/time -v, which also
// gives CPU time and peak RSS); ratios are medians of per-round ratios.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/migrate/sqlitegen"
	"github.com/connectdb/connectdb/internal/pgtest"
)

// result is one timed run.
type result struct {
	rows    int64
	seconds float64
	cpu     float64 // user + system seconds of the client process
	rssKB   int64
	phases  map[string]float64
	note    string
}

// runner is one contender of a case.
type runner struct {
	label string
	run   func(ctx context.Context) (result, error)
	runs  []result
}

type bench struct {
	srv       *pgtest.Server
	connectdb string
	baseline  string
	pgloader  string
	modes     []string
	work      string
	schemaDDL string
	repeat    int
}

func main() {
	connectdb := flag.String("connectdb", "bin/connectdb", "connectdb binary")
	baseline := flag.String("baseline", "", "an older connectdb binary to alternate with (rows/s ratio); none when empty")
	pgloader := flag.String("pgloader", "pgloader", `pgloader binary ("none": skip; skipped when not found)`)
	pgloaderMax := flag.Int("pgloader-max-rows", 2_000_000, "skip pgloader above this many rows (it needs minutes and GBs there)")
	sizes := flag.String("rows", "10000,1000000", "comma-separated row counts")
	shapes := flag.String("shapes", "wide,narrow", "wide (Connect-shaped tables) and/or narrow (one table of two bigints)")
	modes := flag.String("modes", "derived,existing", "derived (empty database) and/or existing (Connect-created schema; wide only)")
	repeat := flag.Int("repeat", 3, "rounds per case")
	work := flag.String("work", filepath.Join(os.TempDir(), "connectdb-bench-migrate"), "directory for the SQLite and COPY files (SQLite files are kept between runs)")
	schema := flag.String("schema", "internal/migrate/testdata/connect-like-schema.sql", "the Connect-like DDL for -modes existing")
	flag.Parse()
	if err := run(*connectdb, *baseline, *pgloader, *pgloaderMax, *sizes, *shapes, *modes, *work, *schema, max(*repeat, 1)); err != nil {
		fmt.Fprintln(os.Stderr, "benchmigrate:", err)
		os.Exit(1)
	}
}

func run(connectdb, baseline, pgloader string, pgloaderMax int, sizes, shapes, modes, work, schema string, repeat int) error {
	ctx := context.Background()
	b := &bench{modes: strings.Split(modes, ","), work: work, repeat: repeat}
	var err error
	if b.connectdb, err = filepath.Abs(connectdb); err != nil {
		return err
	}
	if baseline != "" {
		if b.baseline, err = filepath.Abs(baseline); err != nil {
			return err
		}
	}
	if pgloader != "none" {
		if p, err := exec.LookPath(pgloader); err == nil {
			b.pgloader = p
		} else {
			fmt.Printf("pgloader is unavailable (%v): no pgloader column\n", err)
		}
	}
	if slices.Contains(b.modes, "existing") {
		ddl, err := os.ReadFile(schema)
		if err != nil {
			return fmt.Errorf("-schema: %w", err)
		}
		b.schemaDDL = string(ddl)
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	b.srv, err = pgtest.Start(ctx, pgtest.Options{Settings: map[string]string{"max_wal_size": "8GB", "checkpoint_timeout": "30min"}})
	if err != nil {
		return err
	}
	defer b.srv.Stop()
	fmt.Printf("PostgreSQL %s on %s:%d; work directory %s\n", b.srv.Version, b.srv.Host, b.srv.Port, work)
	for _, shape := range strings.Split(shapes, ",") {
		for _, s := range strings.Split(sizes, ",") {
			want, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("-rows: %w", err)
			}
			file, err := b.generate(ctx, shape, want)
			if err != nil {
				return err
			}
			withPgloader := b.pgloader != "" && want <= pgloaderMax
			if err := b.runCase(ctx, shape, file, withPgloader); err != nil {
				return fmt.Errorf("%s, %d rows: %w", shape, want, err)
			}
		}
	}
	return nil
}

// generate writes (once, then reuses) the SQLite file of a case.
func (b *bench) generate(ctx context.Context, shape string, want int) (string, error) {
	file := filepath.Join(b.work, fmt.Sprintf("%s-%d.db", shape, want))
	if _, err := os.Stat(file); err == nil {
		return file, nil
	}
	fmt.Printf("generating %s ...\n", file)
	start := time.Now()
	tmp := file + ".tmp"
	_ = os.Remove(tmp)
	var err error
	switch shape {
	case "wide":
		// The generator writes about 88% of its argument; timestamps as
		// text so that pgloader can load every row.
		err = sqlitegen.GenerateWith(ctx, tmp, want*100/88, 1, sqlitegen.Options{TextTimestamps: true})
	case "narrow":
		err = sqlitegen.GenerateNarrow(ctx, tmp, want)
	default:
		err = fmt.Errorf("-shapes: unknown shape %q (wide or narrow)", shape)
	}
	if err != nil {
		return "", err
	}
	fmt.Printf("generated in %.0fs\n", time.Since(start).Seconds())
	return file, os.Rename(tmp, file)
}

func (b *bench) runCase(ctx context.Context, shape, file string, withPgloader bool) error {
	fl, err := b.prepareFloor(ctx, shape, file)
	if err != nil {
		return fmt.Errorf("preparing the floor: %w", err)
	}
	defer os.RemoveAll(fl.dir)
	runners := []*runner{
		{label: "connectdb", run: func(ctx context.Context) (result, error) { return b.runConnectdb(ctx, b.connectdb, file, "") }},
		{label: "floor", run: fl.run},
	}
	ddl := b.schemaDDL
	if shape == "narrow" {
		ddl = "CREATE TABLE pairs (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, value bigint NOT NULL)"
	} else {
		// The generator's settings.value is plain text, not JSON.
		ddl += ";\nALTER TABLE settings ALTER COLUMN value TYPE text"
	}
	if slices.Contains(b.modes, "existing") {
		runners = append(runners, &runner{label: "connectdb, existing schema", run: func(ctx context.Context) (result, error) {
			return b.runConnectdb(ctx, b.connectdb, file, ddl)
		}})
	}
	if b.baseline != "" {
		if slices.Contains(b.modes, "derived") {
			runners = append(runners, &runner{label: "baseline", run: func(ctx context.Context) (result, error) { return b.runConnectdb(ctx, b.baseline, file, "") }})
		}
		if slices.Contains(b.modes, "existing") {
			runners = append(runners, &runner{label: "baseline, existing schema", run: func(ctx context.Context) (result, error) { return b.runConnectdb(ctx, b.baseline, file, ddl) }})
		}
	}
	if withPgloader {
		runners = append(runners, &runner{label: "pgloader", run: func(ctx context.Context) (result, error) { return b.runPgloader(ctx, file) }})
	}
	for i := 0; i < b.repeat; i++ {
		for k := range runners {
			r := runners[(i+k)%len(runners)]
			res, err := r.run(ctx)
			if err != nil {
				return fmt.Errorf("%s: %w", r.label, err)
			}
			r.runs = append(r.runs, res)
		}
	}
	report(shape, runners, b.repeat)
	return nil
}

// report prints the medians of a case and the per-round ratios.
func report(shape string, runners []*runner, rounds int) {
	rows := runners[0].runs[0].rows
	fmt.Printf("\n== %s, %d rows: %d rounds, order rotating; medians (peak RSS: largest)\n", shape, rows, rounds)
	fmt.Printf("%-28s %9s %11s %8s %9s  %s\n", "RUN", "SECONDS", "ROWS/S", "CPU", "PEAK RSS", "PHASES (s)")
	for _, r := range runners {
		var secs, cpu []float64
		var rss int64
		phases := map[string][]float64{}
		for _, x := range r.runs {
			secs = append(secs, x.seconds)
			cpu = append(cpu, x.cpu)
			rss = max(rss, x.rssKB)
			for k, v := range x.phases {
				phases[k] = append(phases[k], v)
			}
		}
		var ph []string
		for _, k := range []string{"copy", "verify", "constraints", "keys", "commit", "analyze"} {
			if v, ok := phases[k]; ok {
				ph = append(ph, fmt.Sprintf("%s %.2f", k, median(v)))
			}
		}
		s := median(secs)
		rssText := "-"
		if rss > 0 {
			rssText = fmt.Sprintf("%.1f MB", float64(rss)/1024)
		}
		fmt.Printf("%-28s %9.2f %11.0f %7.2fs %9s  %s %s\n", r.label, s, float64(rows)/s, median(cpu), rssText, strings.Join(ph, ", "), r.runs[0].note)
	}
	ratio := func(a, b *runner, f func(x, y result) float64) (float64, float64, float64) {
		var rs []float64
		for i := range a.runs {
			rs = append(rs, f(a.runs[i], b.runs[i]))
		}
		slices.Sort(rs)
		return median(rs), rs[0], rs[len(rs)-1]
	}
	cd, fl := runners[0], runners[1]
	line := func(what string, target string, m, lo, hi float64) {
		fmt.Printf("  %-60s %.2fx (%.2f-%.2f)%s\n", what, m, lo, hi, target)
	}
	m, lo, hi := ratio(cd, fl, func(x, y result) float64 { return x.seconds / y.phases["total"] })
	line("connectdb / floor (COPY FREEZE + keys + ANALYZE)", "   target <= 1.15", m, lo, hi)
	m, lo, hi = ratio(cd, fl, func(x, y result) float64 { return x.seconds / y.phases["bare"] })
	line("connectdb / bare COPY FREEZE", "   target <= 2", m, lo, hi)
	m, lo, hi = ratio(cd, fl, func(x, y result) float64 { return x.phases["copy"] / y.phases["copy"] })
	line("connectdb copy phase (read, convert, COPY) / floor's COPY", "", m, lo, hi)
	m, lo, hi = ratio(cd, fl, func(x, y result) float64 { return x.phases["constraints"] / y.phases["keys"] })
	line("connectdb keys, indexes, FKs / floor's", "", m, lo, hi)
	rate := func(x, y result) float64 { return (float64(x.rows) / x.seconds) / (float64(y.rows) / y.seconds) }
	byLabel := map[string]*runner{}
	for _, r := range runners {
		byLabel[r.label] = r
	}
	for _, r := range runners[2:] {
		switch r.label {
		case "pgloader":
			m, lo, hi = ratio(cd, r, rate)
			line("connectdb rows/s / pgloader rows/s", "   target >= 2", m, lo, hi)
		case "baseline":
			m, lo, hi = ratio(cd, r, rate)
			line("connectdb rows/s / baseline rows/s", "   target >= 0.90", m, lo, hi)
		case "baseline, existing schema":
			m, lo, hi = ratio(byLabel["connectdb, existing schema"], r, rate)
			line("connectdb / baseline rows/s, existing schema", "", m, lo, hi)
		default:
			m, lo, hi = ratio(r, cd, rate)
			line(r.label+" rows/s / derived rows/s", "", m, lo, hi)
		}
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

var (
	rssRE = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)
	cpuRE = regexp.MustCompile(`(?:User|System) time \(seconds\): ([0-9.]+)`)
)

// timed runs a command under /usr/bin/time -v.
func timed(ctx context.Context, name string, args ...string) (stdout []byte, r result, stderr string, err error) {
	cmd := exec.CommandContext(ctx, "/usr/bin/time", append([]string{"-v", name}, args...)...)
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	start := time.Now()
	err = cmd.Run()
	r.seconds = time.Since(start).Seconds()
	if m := rssRE.FindStringSubmatch(se.String()); m != nil {
		r.rssKB, _ = strconv.ParseInt(m[1], 10, 64)
	}
	for _, m := range cpuRE.FindAllStringSubmatch(se.String(), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		r.cpu += v
	}
	return []byte(so.String()), r, se.String(), err
}

func (b *bench) freshDB(ctx context.Context, name string) error {
	_ = b.srv.Exec(ctx, "postgres", "DROP DATABASE IF EXISTS "+pgtest.QuoteIdent(name)+" WITH (FORCE)")
	return b.srv.Exec(ctx, "postgres", "CREATE DATABASE "+pgtest.QuoteIdent(name))
}

// migrateReport is the part of connectdb's JSON report the bench reads.
type migrateReport struct {
	Rows      int64 `json:"rows"`
	Databases []struct {
		Phases  map[string]float64 `json:"phases"`
		PlanSQL string             `json:"plan_sql"`
	} `json:"databases"`
}

func (b *bench) migrate(ctx context.Context, bin, file, db string, extra ...string) (migrateReport, result, error) {
	args := append([]string{"migrate", "--data", "core", "--sqlite", file, "--url", b.srv.SuperURL(db, "sslmode=disable"), "--output", "json"}, extra...)
	out, r, stderr, err := timed(ctx, bin, args...)
	var rep migrateReport
	if err != nil {
		return rep, r, fmt.Errorf("connectdb migrate: %v: %s", err, lastLines(stderr, 5))
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		return rep, r, fmt.Errorf("connectdb JSON: %w", err)
	}
	r.rows = rep.Rows
	if len(rep.Databases) == 1 {
		r.phases = rep.Databases[0].Phases
	}
	return rep, r, nil
}

// runConnectdb migrates file into a new database, into the tables of ddl
// when it is not empty.
func (b *bench) runConnectdb(ctx context.Context, bin, file, ddl string) (result, error) {
	db := "bench_connectdb"
	if err := b.freshDB(ctx, db); err != nil {
		return result{}, err
	}
	r := result{note: "verified"}
	if ddl != "" {
		if err := b.srv.Exec(ctx, db, ddl); err != nil {
			return r, fmt.Errorf("creating the Connect-like schema: %w", err)
		}
	}
	_, r2, err := b.migrate(ctx, bin, file, db)
	r2.note = r.note
	return r2, err
}

// floor is the fastest load PostgreSQL can do of the same rows.
type floor struct {
	b       *bench
	dir     string
	creates []string
	post    []string
	tables  []string
}

var createRE = regexp.MustCompile(`^CREATE TABLE (.+?) \(`)

// prepareFloor migrates file once with connectdb, exports every table to a
// server-side binary COPY file, and reads connectdb's plan (its --dry-run
// SQL) for the DDL.
func (b *bench) prepareFloor(ctx context.Context, shape, file string) (*floor, error) {
	fl := &floor{b: b, dir: filepath.Join(b.work, "copy-"+shape)}
	_ = os.RemoveAll(fl.dir)
	if err := os.MkdirAll(fl.dir, 0o777); err != nil {
		return nil, err
	}
	if err := os.Chmod(fl.dir, 0o777); err != nil { // the server's own user writes the files
		return nil, err
	}
	if err := b.freshDB(ctx, "bench_floor"); err != nil {
		return nil, err
	}
	rep, _, err := b.migrate(ctx, b.connectdb, file, "bench_floor", "--dry-run")
	if err != nil {
		return nil, err
	}
	if len(rep.Databases) != 1 {
		return nil, fmt.Errorf("connectdb's dry run planned %d databases, not one", len(rep.Databases))
	}
	for _, st := range strings.Split(rep.Databases[0].PlanSQL, ";\n") {
		var lines []string
		for _, l := range strings.Split(st, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "--") {
				lines = append(lines, l)
			}
		}
		st = strings.TrimSpace(strings.Join(lines, "\n"))
		if st == "" {
			continue
		}
		if m := createRE.FindStringSubmatch(st); m != nil {
			fl.creates = append(fl.creates, st)
			fl.tables = append(fl.tables, m[1])
		} else {
			fl.post = append(fl.post, st)
		}
	}
	if len(fl.tables) == 0 {
		return nil, fmt.Errorf("no CREATE TABLE in connectdb's plan")
	}
	if _, err := b.runConnectdb(ctx, b.connectdb, file, ""); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, b.srv.SuperURL("bench_connectdb", "sslmode=disable"))
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	for i, t := range fl.tables {
		if _, err := conn.Exec(ctx, fmt.Sprintf("COPY %s TO '%s' WITH (FORMAT binary)", t, fl.file(i))); err != nil {
			return nil, fmt.Errorf("exporting %s: %w", t, err)
		}
	}
	return fl, nil
}

func (fl *floor) file(i int) string { return filepath.Join(fl.dir, fmt.Sprintf("t%d.bin", i)) }

// run loads the exported files into a new database: phases "copy" (CREATE
// TABLE and COPY FREEZE), "keys", "commit", "analyze", and the sums "bare"
// (copy + commit) and "total".
func (fl *floor) run(ctx context.Context) (result, error) {
	db := "bench_floor"
	if err := fl.b.freshDB(ctx, db); err != nil {
		return result{}, err
	}
	conn, err := pgx.Connect(ctx, fl.b.srv.SuperURL(db, "sslmode=disable"))
	if err != nil {
		return result{}, err
	}
	defer conn.Close(ctx)
	r := result{phases: map[string]float64{}, note: "server-side COPY of binary files, no verification"}
	step := func(phase string, stmts ...string) error {
		start := time.Now()
		for _, s := range stmts {
			tag, err := conn.Exec(ctx, s)
			if err != nil {
				return fmt.Errorf("%.80s: %w", s, err)
			}
			if strings.HasPrefix(s, "COPY") {
				r.rows += tag.RowsAffected()
			}
		}
		r.phases[phase] += time.Since(start).Seconds()
		return nil
	}
	// The same memory for index builds and foreign-key checks as connectdb
	// gives its own transaction.
	copies := []string{"BEGIN", "SET LOCAL maintenance_work_mem = '256MB'", "SET LOCAL work_mem = '64MB'"}
	copies = append(copies, fl.creates...)
	for i, t := range fl.tables {
		copies = append(copies, fmt.Sprintf("COPY %s FROM '%s' WITH (FORMAT binary, FREEZE)", t, fl.file(i)))
	}
	analyze := []string{"ANALYZE " + strings.Join(fl.tables, ", ")}
	for _, s := range []struct {
		phase string
		stmts []string
	}{{"copy", copies}, {"keys", fl.post}, {"commit", []string{"COMMIT"}}, {"analyze", analyze}} {
		if err := step(s.phase, s.stmts...); err != nil {
			return r, err
		}
	}
	p := r.phases
	p["bare"] = p["copy"] + p["commit"]
	p["total"] = p["bare"] + p["keys"] + p["analyze"]
	r.seconds = p["total"]
	return r, nil
}

var pgloaderTotal = regexp.MustCompile(`Total import time\s+(✓|\d+)\s+(\d+)`)

func (b *bench) runPgloader(ctx context.Context, file string) (result, error) {
	db := "bench_pgloader"
	if err := b.freshDB(ctx, db); err != nil {
		return result{}, err
	}
	// pgloader speaks to the server's Unix socket, where the harness trusts local users.
	target := fmt.Sprintf("postgresql://%s@unix:%s:%d/%s", b.srv.SuperUser, b.srv.SocketDir, b.srv.Port, db)
	out, r, stderr, err := timed(ctx, b.pgloader, "sqlite://"+file, target)
	r.note = "no verification"
	if err != nil {
		return r, fmt.Errorf("pgloader failed: %v: %s", err, lastLines(stderr, 3))
	}
	// pgloader's summary: "Total import time  <errors>  <rows>  ...".
	if m := pgloaderTotal.FindStringSubmatch(string(out) + stderr); m != nil {
		errs, _ := strconv.ParseInt(m[1], 10, 64) // "✓": no errors
		r.rows, _ = strconv.ParseInt(m[2], 10, 64)
		if errs > 0 {
			r.note += fmt.Sprintf("; %d errors", errs)
		}
	}
	return r, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
