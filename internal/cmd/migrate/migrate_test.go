package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/golden"
	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/migrate/sqlitegen"
	"github.com/connectdb/connectdb/internal/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, pgtest.Options{}, &srv)) }

const sentinel = "Sentinel-PW-do-not-print-42"

func newOpts(t *testing.T, url string) (*MigrateOptions, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := &cmdutil.Factory{IO: ios, Getenv: func(string) string { return "" }, Now: time.Now,
		Globals: &cmdutil.Globals{ConfigPath: filepath.Join(t.TempDir(), "absent.gcfg"), Output: "text", Timeout: 10 * time.Second, URL: url}}
	return &MigrateOptions{F: f, Data: "core", LockTimeout: 5 * time.Second}, out, errOut
}

func gen(t *testing.T, rows int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "connect.db")
	if err := sqlitegen.Generate(context.Background(), p, rows, 1); err != nil {
		t.Fatal(err)
	}
	return p
}

func newTarget(t *testing.T) (url, db string) {
	t.Helper()
	role := srv.NewRole(t, sentinel)
	db = srv.NewDatabase(t, role)
	return srv.URL(role, sentinel, db, "sslmode=disable"), db
}

func TestDryRunGolden(t *testing.T) {
	opts, out, _ := newOpts(t, "")
	opts.SQLite = gen(t, 300)
	opts.DryRun = true
	if err := runMigrate(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(out.String(), opts.SQLite, "TESTDIR/connect.db")
	golden.Assert(t, filepath.Join("testdata", "dry-run.golden"), got)
}

func TestMigrateTextAndJSON(t *testing.T) {
	url, db := newTarget(t)
	opts, out, errOut := newOpts(t, url)
	opts.SQLite = gen(t, 2000)
	if err := runMigrate(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Migrated core (", "schema public", "users", "verified and committed", "advisory lock 27976396599551858 released", "connectdb check"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if !strings.Contains(errOut.String(), "using connectdb's migrate advisory lock 27976396599551858") {
		t.Errorf("stderr = %q", errOut)
	}
	if strings.Contains(errOut.String(), "rows/s") {
		t.Errorf("progress bars on a stderr that is not a terminal: %q", errOut)
	}
	// Second run onto the complete target: verified, nothing written, exit 0.
	opts2, out2, _ := newOpts(t, url)
	opts2.SQLite = opts.SQLite
	if err := runMigrate(context.Background(), opts2); err != nil || !strings.Contains(out2.String(), "already migrated and verified; nothing was written") {
		t.Fatalf("second run = %v\n%s", err, out2)
	}
	// A changed target is refused, exit 1, naming the first differing row.
	srv.MustExec(t, db, "UPDATE users SET email = 'x' WHERE id = 2")
	out2.Reset()
	opts2.F.Globals.Output = "json"
	err := runMigrate(context.Background(), opts2)
	if cmdutil.ExitCode(err) != cmdutil.ExitFindings || !strings.Contains(err.Error(), "--drop-all") || !strings.Contains(err.Error(), "the row with id=2 has other values") {
		t.Fatalf("run onto a changed target = %v", err)
	}
	// --drop-existing with JSON output.
	opts2.DropAll, opts2.Yes = true, true
	out2.Reset()
	if err := runMigrate(context.Background(), opts2); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Committed bool
		Rows      int64
		Databases []struct {
			Target string
			Tables []struct {
				Table    string
				Rows     int64
				Verified bool
			}
		}
	}
	if err := json.Unmarshal(out2.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out2)
	}
	if !rep.Committed || rep.Rows < 1500 || len(rep.Databases) != 1 || len(rep.Databases[0].Tables) != 10 || !rep.Databases[0].Tables[0].Verified {
		t.Errorf("report = %+v", rep)
	}
	for _, s := range []string{out.String(), errOut.String(), out2.String(), err.Error()} {
		if strings.Contains(s, sentinel) {
			t.Fatal("the password appears in the output")
		}
	}
}

func TestInstrumentationSharedDatabase(t *testing.T) {
	url, db := newTarget(t)
	opts, out, _ := newOpts(t, url)
	opts.SQLite = gen(t, 500)
	opts.SQLiteInstrumentation = filepath.Join(t.TempDir(), "instrumentation.db")
	if err := sqlitegen.GenerateInstrumentation(context.Background(), opts.SQLiteInstrumentation, 400, 2); err != nil {
		t.Fatal(err)
	}
	opts.Data = "all"
	if err := runMigrate(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "core (") || !strings.Contains(out.String(), "instrumentation (") || !strings.Contains(out.String(), "instrumentation.shiny_usage") {
		t.Errorf("output:\n%s", out)
	}
	var n int
	c := srv.Conn(t, db)
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM shiny_usage").Scan(&n); err != nil || n != 200 {
		t.Fatalf("shiny_usage rows = %d, %v", n, err)
	}
}

func TestInstrumentationSeparateDatabase(t *testing.T) {
	url, _ := newTarget(t)
	iurl, idb := newTarget(t)
	opts, _, _ := newOpts(t, url)
	opts.F.Globals.InstrumentationURL = iurl
	opts.Data = "instrumentation"
	opts.SQLiteInstrumentation = filepath.Join(t.TempDir(), "instrumentation.db")
	if err := sqlitegen.GenerateInstrumentation(context.Background(), opts.SQLiteInstrumentation, 100, 2); err != nil {
		t.Fatal(err)
	}
	if err := runMigrate(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := srv.Conn(t, idb).QueryRow(context.Background(), "SELECT count(*) FROM content_visits").Scan(&n); err != nil || n != 50 {
		t.Fatalf("content_visits rows = %d, %v", n, err)
	}
}

func TestExitCodes(t *testing.T) {
	good := gen(t, 50)
	url, _ := newTarget(t)
	cases := []struct {
		name string
		set  func(o *MigrateOptions)
		code int
		want string
	}{
		{"bad data flag", func(o *MigrateOptions) { o.Data = "metrics" }, cmdutil.ExitUsage, "--data"},
		{"bad lock id", func(o *MigrateOptions) { o.LockID = "x" }, cmdutil.ExitUsage, "--lock-id"},
		{"missing sqlite", func(o *MigrateOptions) { o.SQLite = "/nonexistent/connect.db" }, cmdutil.ExitUsage, "no SQLite database at /nonexistent/connect.db"},
		{"no url", func(o *MigrateOptions) { o.F.Globals.URL = "" }, cmdutil.ExitUsage, "--url"},
		{"unreachable", func(o *MigrateOptions) {
			o.F.Globals.URL = "postgres://u:" + sentinel + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"
		}, cmdutil.ExitUnreachable, "127.0.0.1"},
		{"yaml output", func(o *MigrateOptions) { o.F.Globals.Output = "yaml" }, cmdutil.ExitUsage, "--output"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, _, _ := newOpts(t, url)
			o.SQLite = good
			c.set(o)
			err := runMigrate(context.Background(), o)
			if cmdutil.ExitCode(err) != c.code || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v (exit %d), want exit %d mentioning %q", err, cmdutil.ExitCode(err), c.code, c.want)
			}
			if strings.Contains(err.Error(), sentinel) {
				t.Fatal("the password appears in the error")
			}
		})
	}
}

func TestDryRunProblemsExitOne(t *testing.T) {
	p := filepath.Join(t.TempDir(), "connect.db")
	if err := sqlitegen.Generate(context.Background(), p, 50, 1); err != nil {
		t.Fatal(err)
	}
	// Corrupt one value the way a buggy writer would.
	if err := execSQLite(p, "UPDATE users SET active = 7 WHERE id = 3"); err != nil {
		t.Fatal(err)
	}
	opts, out, _ := newOpts(t, "")
	opts.SQLite, opts.DryRun = p, true
	err := runMigrate(context.Background(), opts)
	if cmdutil.ExitCode(err) != cmdutil.ExitFindings {
		t.Fatalf("err = %v", err)
	}
	if !regexp.MustCompile(`core\.users, id 3, column active: the integer 7 is not a boolean`).MatchString(out.String()) {
		t.Errorf("output:\n%s", out)
	}
}

// The SQLite files and the URL come from the Connect config: SQLite.Dir,
// or {Server.DataDir}/db when it is unset.
func TestPathsFromConfig(t *testing.T) {
	url, db := newTarget(t)
	for _, c := range []struct{ name, section string }{
		{"data dir", "[Server]\nDataDir = %s\n"},
		{"sqlite dir", "[SQLite]\nDir = %s/db\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dataDir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dataDir, "db"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := sqlitegen.Generate(context.Background(), filepath.Join(dataDir, "db", CoreFile), 40, 1); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(t.TempDir(), "rstudio-connect.gcfg")
			body := strings.ReplaceAll(c.section, "%s", dataDir) + "[Database]\nProvider = sqlite\n[Postgres]\nURL = \"" + url + "\"\n"
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			opts, out, _ := newOpts(t, "")
			opts.F.Globals.ConfigPath, opts.F.Globals.ConfigExplicit = cfg, true
			opts.DropAll, opts.Yes = true, true
			if err := runMigrate(context.Background(), opts); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), filepath.Join(dataDir, "db", CoreFile)) {
				t.Errorf("output does not name the config's SQLite file:\n%s", out)
			}
		})
	}
	var n int
	if err := srv.Conn(t, db).QueryRow(context.Background(), "SELECT count(*) FROM users").Scan(&n); err != nil || n == 0 {
		t.Fatalf("users = %d, %v", n, err)
	}
}

func TestProgressBars(t *testing.T) {
	var buf bytes.Buffer
	b := newBars(&buf)
	b.Begin(2, 3000)
	x := b.Table("core", "users", 1, 2, 1000)
	x.Add(1000)
	x.Done()
	y := b.Table("core", "jobs", 2, 2, 2000)
	y.Add(2000)
	y.Done()
	s := buf.String()
	for _, w := range []string{"[1/2, overall   0%] core.users", "[2/2, overall  33%] core.jobs", "rows/s"} {
		if !strings.Contains(s, w) {
			t.Errorf("progress output lacks %q: %q", w, s)
		}
	}
}
