// Command benchmigrate compares `connectdb migrate` with pgloader on the
// same generated SQLite files and the same throwaway PostgreSQL server:
// rows per second and peak RSS (from /usr/bin/time -v). Run it through
// scripts/bench-migrate.sh.
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
	"strconv"
	"strings"
	"time"

	"github.com/connectdb/connectdb/internal/migrate/sqlitegen"
	"github.com/connectdb/connectdb/internal/pgtest"
)

type result struct {
	cpu     float64 // user + system seconds of the tool's process
	tool    string
	rows    int64
	seconds float64
	rssKB   int64
	note    string
}

func main() {
	connectdb := flag.String("connectdb", "bin/connectdb", "connectdb binary")
	pgloader := flag.String("pgloader", "pgloader", "pgloader binary (skipped when not found)")
	sizes := flag.String("rows", "10000,1000000", "comma-separated row counts")
	repeat := flag.Int("repeat", 3, "runs per tool and size; the fastest counts (the machine may be shared)")
	work := flag.String("work", filepath.Join(os.TempDir(), "connectdb-bench-migrate"), "directory for the SQLite files (kept between runs)")
	flag.Parse()
	if err := run(*connectdb, *pgloader, *sizes, *work, max(*repeat, 1)); err != nil {
		fmt.Fprintln(os.Stderr, "benchmigrate:", err)
		os.Exit(1)
	}
}

func run(connectdb, pgloader, sizes, work string, repeat int) error {
	ctx := context.Background()
	bin, err := filepath.Abs(connectdb)
	if err != nil {
		return err
	}
	pgl, pglErr := exec.LookPath(pgloader)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	srv, err := pgtest.Start(ctx, pgtest.Options{Settings: map[string]string{"max_wal_size": "4GB", "checkpoint_timeout": "30min"}})
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Printf("PostgreSQL %s on %s:%d; work directory %s\n", srv.Version, srv.Host, srv.Port, work)

	var results [][]result
	for _, s := range strings.Split(sizes, ",") {
		want, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("-rows: %w", err)
		}
		// The generator writes about 88% of its argument.
		file := filepath.Join(work, fmt.Sprintf("connect-%d.db", want))
		if _, err := os.Stat(file); err != nil {
			fmt.Printf("generating %s ...\n", file)
			if err := sqlitegen.GenerateWith(ctx, file+".tmp", want*100/88, 1, sqlitegen.Options{TextTimestamps: true}); err != nil {
				return err
			}
			if err := os.Rename(file+".tmp", file); err != nil {
				return err
			}
		}
		// Alternate the tools and keep each one's fastest run.
		var best [2]result
		for i := 0; i < repeat; i++ {
			r, err := runConnectdb(ctx, srv, bin, file)
			if err != nil {
				return err
			}
			best[0] = faster(best[0], r)
			if pglErr != nil {
				best[1] = result{tool: "pgloader", note: "pgloader is unavailable (" + pglErr.Error() + "); connectdb's figures only"}
			} else {
				best[1] = faster(best[1], runPgloader(ctx, srv, pgl, file, r.rows))
			}
			best[0].rssKB = max(best[0].rssKB, r.rssKB)
		}
		results = append(results, best[:])
	}

	fmt.Printf("\nfastest of %d runs each; PEAK RSS is the largest seen\n", repeat)
	fmt.Printf("%-10s %-10s %10s %9s %12s %10s  %s\n", "TOOL", "ROWS", "SECONDS", "CPU", "ROWS/S", "PEAK RSS", "NOTE")
	for _, row := range results {
		for _, r := range row {
			rate := "-"
			if r.seconds > 0 {
				rate = strconv.FormatInt(int64(float64(r.rows)/r.seconds), 10)
			}
			fmt.Printf("%-10s %-10d %10.2f %8.2fs %12s %8.1fMB  %s\n", r.tool, r.rows, r.seconds, r.cpu, rate, float64(r.rssKB)/1024, r.note)
		}
		if len(row) == 2 && row[1].seconds > 0 && row[0].seconds > 0 {
			speedup := (float64(row[0].rows) / row[0].seconds) / (float64(row[1].rows) / row[1].seconds)
			verdict := "meets"
			if speedup < 2 {
				verdict = "MISSES"
			}
			fmt.Printf("%-10s connectdb is %.2fx pgloader's rows/s (%s the 2x target); connectdb peak RSS %.1f MB (target < 100 MB)\n", "", speedup, verdict, float64(row[0].rssKB)/1024)
		}
	}
	return nil
}

// faster keeps the quicker of two runs (an empty result loses).
func faster(a, b result) result {
	if a.tool == "" || (b.seconds > 0 && b.seconds < a.seconds) || a.seconds == 0 {
		if a.rssKB > b.rssKB {
			b.rssKB = a.rssKB
		}
		return b
	}
	if b.rssKB > a.rssKB {
		a.rssKB = b.rssKB
	}
	return a
}

var pgloaderTotal = regexp.MustCompile(`Total import time\s+(✓|\d+)\s+(\d+)`)

var rssRE = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)

var cpuRE = regexp.MustCompile(`(?:User|System) time \(seconds\): ([0-9.]+)`)

// cpuSeconds is the user + system time /usr/bin/time reported.
func cpuSeconds(stderr string) float64 {
	var t float64
	for _, m := range cpuRE.FindAllStringSubmatch(stderr, -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		t += v
	}
	return t
}

func timed(ctx context.Context, name string, args ...string) (stdout []byte, seconds float64, rssKB int64, stderr string, err error) {
	cmd := exec.CommandContext(ctx, "/usr/bin/time", append([]string{"-v", name}, args...)...)
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	start := time.Now()
	err = cmd.Run()
	seconds = time.Since(start).Seconds()
	if m := rssRE.FindStringSubmatch(se.String()); m != nil {
		rssKB, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return []byte(so.String()), seconds, rssKB, se.String(), err
}

func freshDB(ctx context.Context, srv *pgtest.Server, name string) error {
	_ = srv.Exec(ctx, "postgres", "DROP DATABASE IF EXISTS "+pgtest.QuoteIdent(name)+" WITH (FORCE)")
	return srv.Exec(ctx, "postgres", "CREATE DATABASE "+pgtest.QuoteIdent(name))
}

func runConnectdb(ctx context.Context, srv *pgtest.Server, bin, file string) (result, error) {
	db := "bench_connectdb"
	if err := freshDB(ctx, srv, db); err != nil {
		return result{}, err
	}
	out, secs, rss, stderr, err := timed(ctx, bin, "migrate", "--data", "core", "--sqlite", file, "--url", srv.SuperURL(db, "sslmode=disable"), "--output", "json")
	if err != nil {
		return result{}, fmt.Errorf("connectdb migrate: %v: %s", err, lastLines(stderr, 5))
	}
	var rep struct {
		Rows      int64   `json:"rows"`
		Seconds   float64 `json:"seconds"`
		Databases []struct {
			Phases map[string]float64 `json:"phases"`
		} `json:"databases"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		return result{}, fmt.Errorf("connectdb JSON: %w", err)
	}
	note := "verified, one transaction"
	if len(rep.Databases) == 1 {
		p := rep.Databases[0].Phases
		note += fmt.Sprintf(" (copy %.1fs, verify %.1fs, keys/indexes/FKs %.1fs, analyze %.1fs", p["copy"], p["verify"], p["constraints"], p["analyze"])
		// pgloader neither verifies nor analyzes: also show the rate of
		// the work both tools do.
		if work := p["copy"] + p["constraints"]; work > 0 {
			note += fmt.Sprintf("; copy+keys alone %d rows/s", int64(float64(rep.Rows)/work))
		}
		note += ")"
	}
	return result{tool: "connectdb", rows: rep.Rows, seconds: secs, rssKB: rss, cpu: cpuSeconds(stderr), note: note}, nil
}

func runPgloader(ctx context.Context, srv *pgtest.Server, bin, file string, rows int64) result {
	db := "bench_pgloader"
	if err := freshDB(ctx, srv, db); err != nil {
		return result{tool: "pgloader", note: err.Error()}
	}
	// pgloader speaks to the server's Unix socket, where the harness trusts local users.
	target := fmt.Sprintf("postgresql://%s@unix:%s:%d/%s", srv.SuperUser, srv.SocketDir, srv.Port, db)
	out, secs, rss, stderr, err := timed(ctx, bin, "sqlite://"+file, target)
	r := result{tool: "pgloader", rows: rows, seconds: secs, rssKB: rss, cpu: cpuSeconds(stderr), note: "no verification"}
	if err != nil {
		r.note = fmt.Sprintf("pgloader failed: %v: %s", err, lastLines(stderr, 3))
		r.seconds = 0
		return r
	}
	// pgloader's summary: "Total import time  <errors>  <rows>  ...".
	if m := pgloaderTotal.FindStringSubmatch(string(out) + stderr); m != nil {
		errs, _ := strconv.ParseInt(m[1], 10, 64) // "✓": no errors
		loaded, _ := strconv.ParseInt(m[2], 10, 64)
		r.rows = loaded
		if errs > 0 {
			r.note += fmt.Sprintf("; %d errors", errs)
		}
	}
	return r
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
