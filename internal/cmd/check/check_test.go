package check

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	engine "github.com/connectdb/connectdb/internal/check"
	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, pgtest.Options{TLS: true}, &srv)) }

func newOpts(t *testing.T, g cmdutil.Globals, env map[string]string) (*CheckOptions, *bytes.Buffer) {
	t.Helper()
	ios, _, out, _ := iostreams.Test()
	if g.ConfigPath == "" {
		g.ConfigPath = filepath.Join(t.TempDir(), "absent.gcfg")
	}
	if g.Output == "" {
		g.Output = "text"
	}
	if g.Timeout == 0 {
		g.Timeout = 10 * time.Second
	}
	f := &cmdutil.Factory{IO: ios, Globals: &g, Getenv: func(k string) string { return env[k] }, Now: time.Now}
	return &CheckOptions{F: f, Nodes: 1, Pooler: "none"}, out
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rstudio-connect.gcfg")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLivePassExitsZero(t *testing.T) {
	role := srv.NewRole(t, "pw")
	db := srv.NewDatabase(t, role)
	cfg := writeConfig(t, "[Server]\nAddress = x\n\n[Database]\nProvider = postgres\n\n[Postgres]\nURL = \""+srv.URL(role, "", db)+"\"\n")
	opts, out := newOpts(t, cmdutil.Globals{ConfigPath: cfg, ConfigExplicit: true, PasswordFile: writeConfig(t, "pw\n")}, nil)
	if err := runCheck(context.Background(), opts); err != nil {
		t.Fatalf("err %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "PASS pg.privileges") || !strings.Contains(out.String(), "Postgres.URL ("+cfg+":8)") {
		t.Fatalf("output:\n%s", out)
	}
}

func TestExitCodes(t *testing.T) {
	role := srv.NewRole(t, "pw")
	db := srv.NewDatabase(t, role)
	good := srv.URL(role, "pw", db)
	tests := []struct {
		name string
		g    cmdutil.Globals
		mod  func(*CheckOptions)
		want int
	}{
		{"pass with warnings", cmdutil.Globals{URL: good}, nil, 0},
		{"strict warnings", cmdutil.Globals{URL: good}, func(o *CheckOptions) { o.Strict = true }, 1},
		{"unreachable", cmdutil.Globals{URL: srv.URL(role, "wrong", db)}, nil, 3},
		{"missing database is unreachable", cmdutil.Globals{URL: srv.URL(role, "pw", "nope")}, nil, 3},
		{"unknown check", cmdutil.Globals{URL: good}, func(o *CheckOptions) { o.Only = []string{"pg.nope"} }, 2},
		{"bad output", cmdutil.Globals{URL: good, Output: "gcfg"}, nil, 2},
		{"bad nodes", cmdutil.Globals{URL: good}, func(o *CheckOptions) { o.Nodes = 0 }, 2},
		{"no url", cmdutil.Globals{}, nil, 2},
		{"budget fails", cmdutil.Globals{URL: good}, func(o *CheckOptions) { o.Nodes = 50 }, 1},
		{"only connect", cmdutil.Globals{URL: good}, func(o *CheckOptions) { o.Only = []string{"pg.connect"} }, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts, out := newOpts(t, tc.g, nil)
			if tc.mod != nil {
				tc.mod(opts)
			}
			err := runCheck(context.Background(), opts)
			if got := cmdutil.ExitCode(err); got != tc.want {
				t.Fatalf("exit %d (%v), want %d\n%s", got, err, tc.want, out)
			}
		})
	}
}

func TestOfflineConfigRemediesNameLines(t *testing.T) {
	cfg := writeConfig(t, `; Connect config
[Database]
Provider = postgres
MaxIdleConnections = 0

[Postgres]
URL = "postgres://connect:p#w@db.example.com/connect?sslmode=disable"
`)
	opts, out := newOpts(t, cmdutil.Globals{ConfigPath: cfg, ConfigExplicit: true}, nil)
	opts.Offline = true
	err := runCheck(context.Background(), opts)
	if cmdutil.ExitCode(err) != 1 {
		t.Fatalf("exit %d: %v\n%s", cmdutil.ExitCode(err), err, out)
	}
	for _, want := range []string{"[Database] MaxIdleConnections = 5 (" + cfg + ":4)", "FAIL url.encoding", "SKIP pg.connect", "--offline"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out.String(), "p#w") {
		t.Error("password printed")
	}
	// Declaring a session pooler makes MaxIdleConnections = 0 intended.
	opts, out = newOpts(t, cmdutil.Globals{ConfigPath: cfg, ConfigExplicit: true, Output: "json"}, nil)
	opts.Offline, opts.Pooler = true, "session"
	_ = runCheck(context.Background(), opts)
	var doc engine.JSONReport
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range doc.Results {
		if r.ID == "pool.max-idle" && r.Status != engine.Pass {
			t.Errorf("pool.max-idle with --pooler session: %s", r.Status)
		}
	}
	if doc.SchemaVersion != 2 || doc.ExitCode != 1 || doc.OK {
		t.Errorf("json header %+v", doc)
	}
}

func TestSQLiteProvider(t *testing.T) {
	cfg := writeConfig(t, "[Database]\nProvider = sqlite\n")
	opts, out := newOpts(t, cmdutil.Globals{ConfigPath: cfg, ConfigExplicit: true}, nil)
	opts.Offline = true
	err := runCheck(context.Background(), opts)
	if cmdutil.ExitCode(err) != 1 || !strings.Contains(out.String(), "migrate") {
		t.Fatalf("exit %d\n%s", cmdutil.ExitCode(err), out)
	}
}

func TestLockIDFromEnv(t *testing.T) {
	role := srv.NewRole(t, "pw")
	db := srv.NewDatabase(t, role)
	holder := srv.Conn(t, db)
	if _, err := holder.Exec(context.Background(), "SELECT pg_advisory_lock(10, 20)"); err != nil {
		t.Fatal(err)
	}
	opts, out := newOpts(t, cmdutil.Globals{URL: srv.URL(role, "pw", db)}, map[string]string{"CONNECTDB_LOCK_ID": "10,20"})
	opts.Only = []string{"pg.upgrade-lock"}
	if err := runCheck(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "WARN pg.upgrade-lock") || !strings.Contains(out.String(), "see connectdb show-locks") {
		t.Fatalf("output:\n%s", out)
	}
	opts, _ = newOpts(t, cmdutil.Globals{URL: srv.URL(role, "pw", db)}, nil)
	opts.F.Globals.LockID = "ten"
	if cmdutil.ExitCode(runCheck(context.Background(), opts)) != 2 {
		t.Fatal("bad --lock-id accepted")
	}
}

func TestList(t *testing.T) {
	opts, out := newOpts(t, cmdutil.Globals{}, nil)
	opts.List = true
	if err := runCheck(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	for _, id := range engine.IDs() {
		if !strings.Contains(out.String(), id+" ") {
			t.Errorf("--list lacks %s", id)
		}
	}
}

func TestOutputsAccepted(t *testing.T) {
	for _, o := range []string{"json", "junit", "github"} {
		opts, out := newOpts(t, cmdutil.Globals{URL: "postgres://connect@db.example.com/connect", Output: o}, nil)
		opts.Offline = true
		if err := runCheck(context.Background(), opts); err != nil {
			t.Fatalf("%s: %v", o, err)
		}
		if out.Len() == 0 {
			t.Fatalf("%s: no output", o)
		}
	}
}

// TestDocsListEveryCheck keeps docs/check.md in step with the registry.
func TestDocsListEveryCheck(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/check.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range engine.IDs() {
		if !strings.Contains(string(doc), "`"+id+"`") {
			t.Errorf("docs/check.md does not document %s", id)
		}
	}
}
