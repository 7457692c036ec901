package showlocks

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
	"github.com/connectdb/connectdb/internal/locks"
	"github.com/connectdb/connectdb/internal/locks/lockstest"
	"github.com/connectdb/connectdb/internal/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, pgtest.Options{TLS: true}, &srv)) }

const sentinel = "Sentinel-Pa55-9f3e"

func factory(url string, env map[string]string) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	io, _, out, errOut := iostreams.Test()
	return &cmdutil.Factory{
		IO:      io,
		Globals: &cmdutil.Globals{Output: "text", Timeout: time.Minute, URL: url},
		Getenv:  func(k string) string { return env[k] },
		Now:     time.Now,
	}, out, errOut
}

var normalisers = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`\bdb_[a-z0-9_]+`), "<db>"},
	{regexp.MustCompile(`\br_[a-z0-9_]+`), "<role>"},
	{regexp.MustCompile(`:\d{4,5}/`), ":<port>/"},
	{regexp.MustCompile(`(reached [0-9.]+):\d{4,5}`), "$1:<port>"},
	{regexp.MustCompile(`\?[^ ,)"]*`), "?<params>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`), "<time>"},
	{regexp.MustCompile(`(pid|pids|pid:|"pid":|"own_pid":|blocked by pid) \d+`), "$1 <pid>"},
	{regexp.MustCompile(`"(database_oid|server_version_num)": \d+`), `"$1": <n>`},
	{regexp.MustCompile(`"virtualtransaction": "[^"]*"`), `"virtualtransaction": "<vxid>"`},
	{regexp.MustCompile(`"blocked_by": \[\s*\d+\s*\]`), `"blocked_by": [<pid>]`},
	{regexp.MustCompile(`\b(\d+h\d\dm|\d+d\d+h|\d+(\.\d)?[sm])\b`), "<age>"},
}

func normalise(s string) string {
	for _, n := range normalisers {
		s = n.re.ReplaceAllString(s, n.repl)
	}
	return s
}

// assertGolden compares got, normalised, with testdata/name.
func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Assert(t, filepath.Join("testdata", name), normalise(got))
}

// scenario: Connect's lock 4242 held by an idle session, a second node
// waiting for it, and a shared two-int lock.
func scenario(t *testing.T) (db string) {
	db = srv.NewDatabase(t, "")
	lockstest.Hold(t, srv, db, "rstudio-connect", "SELECT pg_advisory_lock(4242)", "SELECT pg_advisory_lock_shared(10, 20)")
	lockstest.Background(t, srv, db, "connect-node-2", "SELECT pg_advisory_lock(4242)")
	lockstest.Until(t, srv, db, lockstest.AdvisoryWaiter)
	// The holder reports state idle a moment before its wait event
	// (ClientRead) appears; the golden files show both, so wait for both.
	lockstest.Until(t, srv, db, "EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'rstudio-connect' AND state = 'idle' AND wait_event = 'ClientRead')")
	return db
}

func TestShowLocksText(t *testing.T) {
	db := scenario(t)
	// The smallest --stuck-after a user may give is 1s; the "next:" hint
	// carries it, so judge with it once the holder has been idle that long.
	lockstest.Until(t, srv, db, lockstest.InState("rstudio-connect", "idle", time.Second))
	f, out, _ := factory(srv.SuperURL(db), nil)
	f.Globals.LockID = "4242"
	opts := &ShowLocksOptions{F: f, StuckAfter: time.Second}
	if err := runShowLocks(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"[Connect's upgrade lock]", "└ waiting: pid", "connect-node-2", "looks stuck", "also holds: 10,20(share)", "--lock-id 4242 --pid"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	assertGolden(t, "text.golden", s)
}

func TestShowLocksJSON(t *testing.T) {
	db := scenario(t)
	f, out, _ := factory(srv.SuperURL(db), map[string]string{locks.EnvLockID: "4242"})
	f.Globals.Output = "json"
	opts := &ShowLocksOptions{F: f, StuckAfter: time.Nanosecond}
	if err := runShowLocks(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	var rep locks.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.LockID == nil || *rep.LockID != locks.BigintKey(4242) || rep.LockIDSource != locks.EnvLockID || len(rep.Locks) != 3 {
		t.Fatalf("report: %+v", rep)
	}
	if rep.Locks[0].Connect != locks.ConnectLock || rep.Locks[0].Verdict.Kind != locks.VerdictStuck {
		t.Fatalf("first lock: %+v", rep.Locks[0])
	}
	assertGolden(t, "json.golden", out.String())
}

func TestShowLocksWithoutIDGuessesByUser(t *testing.T) {
	db := scenario(t)
	f, out, _ := factory(srv.SuperURL(db), nil)
	if err := runShowLocks(context.Background(), &ShowLocksOptions{F: f, StuckAfter: time.Hour}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "[possibly Connect's upgrade lock]") || !strings.Contains(s, "only a guess") && !strings.Contains(s, "does not know Connect's lock ID") {
		t.Fatalf("no guess marking:\n%s", s)
	}
	if !strings.Contains(s, "it would look stuck in") {
		t.Fatalf("fresh idle holder not judged recent:\n%s", s)
	}
	assertGolden(t, "guess.golden", s)
}

func TestShowLocksNonPrivilegedRole(t *testing.T) {
	connect := srv.NewRole(t, sentinel)
	admin := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, connect)
	lockstest.HoldURL(t, srv.URL(connect, sentinel, db, "application_name=rstudio-connect"), "SELECT pg_advisory_lock(4242)")
	f, out, errOut := factory(srv.URL(admin, sentinel, db), nil)
	f.Globals.LockID = "4242"
	if err := runShowLocks(context.Background(), &ShowLocksOptions{F: f}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "GRANT pg_read_all_stats TO "+admin) || !strings.Contains(s, "hidden (needs pg_read_all_stats)") {
		t.Fatalf("no privilege advice:\n%s", s)
	}
	if strings.Contains(s+errOut.String(), sentinel) {
		t.Fatal("password printed")
	}
	assertGolden(t, "nonprivileged.golden", s)

	f.Globals.Output = "json"
	out.Reset()
	if err := runShowLocks(context.Background(), &ShowLocksOptions{F: f}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), sentinel) {
		t.Fatal("password in JSON")
	}
}

func TestShowLocksNone(t *testing.T) {
	db := srv.NewDatabase(t, "")
	f, out, _ := factory(srv.SuperURL(db), nil)
	f.Globals.LockID = "7,8"
	if err := runShowLocks(context.Background(), &ShowLocksOptions{F: f}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Connect's upgrade lock 7,8 is free.") {
		t.Fatalf("output:\n%s", out)
	}
	assertGolden(t, "none.golden", out.String())
}

func TestShowLocksAllDatabases(t *testing.T) {
	db1, db2 := srv.NewDatabase(t, ""), srv.NewDatabase(t, "")
	lockstest.Hold(t, srv, db2, "elsewhere", "SELECT pg_advisory_lock(99)")
	f, out, _ := factory(srv.SuperURL(db1), nil)
	if err := runShowLocks(context.Background(), &ShowLocksOptions{F: f}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "elsewhere") {
		t.Fatalf("other database shown without --all-databases:\n%s", out)
	}
	out.Reset()
	if err := runShowLocks(context.Background(), &ShowLocksOptions{F: f, AllDatabases: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "== database "+db2+" ==") || !strings.Contains(out.String(), "elsewhere") {
		t.Fatalf("other database missing:\n%s", out)
	}
}

func TestShowLocksWatchStopsOnCancel(t *testing.T) {
	db := srv.NewDatabase(t, "")
	f, out, _ := factory(srv.SuperURL(db), nil)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	opts := &ShowLocksOptions{F: f, Watch: 20 * time.Millisecond, afterRender: func() {
		n++
		if n == 3 {
			cancel()
		}
	}}
	if err := runShowLocks(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "Refreshing every"); got != 3 {
		t.Fatalf("%d refreshes:\n%s", got, out)
	}
}

// TestShowLocksWatchJSONLines: with --watch, --output json writes one
// compact JSON object per refresh, one per line.
func TestShowLocksWatchJSONLines(t *testing.T) {
	db := scenario(t)
	f, out, _ := factory(srv.SuperURL(db), map[string]string{locks.EnvLockID: "4242"})
	f.Globals.Output = "json"
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	opts := &ShowLocksOptions{F: f, Watch: 10 * time.Millisecond, afterRender: func() {
		if n++; n == 3 {
			cancel()
		}
	}}
	if err := runShowLocks(ctx, opts); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), out)
	}
	for i, line := range lines {
		var rep locks.Report
		if err := json.Unmarshal([]byte(line), &rep); err != nil {
			t.Fatalf("line %d is not one JSON object: %v\n%s", i+1, err, line)
		}
		if len(rep.Locks) != 3 || rep.LockID == nil {
			t.Fatalf("line %d: %+v", i+1, rep)
		}
	}
}

func TestShowLocksUsageAndUnreachable(t *testing.T) {
	f, _, _ := factory(srv.SuperURL("postgres"), nil)
	f.Globals.LockID = "x"
	if err := runShowLocks(context.Background(), &ShowLocksOptions{F: f}); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("bad --lock-id: %v", err)
	}
	f, _, _ = factory("postgres://nobody:"+sentinel+"@127.0.0.1:1/x?sslmode=disable", nil)
	err := runShowLocks(context.Background(), &ShowLocksOptions{F: f})
	if cmdutil.ExitCode(err) != cmdutil.ExitUnreachable || strings.Contains(err.Error(), sentinel) {
		t.Fatalf("unreachable: %v", err)
	}
}

func TestShowLocksManyLocksWrap(t *testing.T) {
	db := srv.NewDatabase(t, "")
	lockstest.Hold(t, srv, db, "batch", "SELECT pg_advisory_lock(k) FROM generate_series(1000000, 1000029) k")
	f, out, _ := factory(srv.SuperURL(db), nil)
	if err := runShowLocks(context.Background(), &ShowLocksOptions{F: f, ConnectUser: "connect"}); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if len(line) > 100 && strings.HasPrefix(line, "  ") {
			t.Errorf("line longer than 100 columns: %q", line)
		}
	}
	if !strings.Contains(out.String(), "30 held by 1 session, 0 waiting.") || strings.Contains(out.String(), "[possibly") {
		t.Fatalf("output:\n%s", out)
	}
	assertGolden(t, "many.golden", out.String())
}

// cancelOn passes writes to w and calls cancel once w holds s.
type cancelOn struct {
	w      *bytes.Buffer
	s      string
	cancel func()
}

func (c *cancelOn) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if strings.Contains(c.w.String(), c.s) {
		c.cancel()
	}
	return n, err
}

// TestShowLocksFlags runs the command with flags. A --watch case stops as
// soon as its first refresh is written (a condition, not a time limit: the
// machine may be slow); the others end by themselves.
func TestShowLocksFlags(t *testing.T) {
	db := srv.NewDatabase(t, "")
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"--watch", "50ms"}, "Refreshing every 50ms", 0},
		{[]string{"--watch=60ms"}, "Refreshing every 60ms", 0},
		{[]string{"--watch"}, "Refreshing every 2s", 0},
		{[]string{"--lock-id", "1,2"}, "Connect's upgrade lock: 1,2 (int4,int4, from --lock-id)", 0},
		{[]string{"--stuck-after", "10m"}, "No advisory locks are held or awaited.", 0},
		{[]string{"5s"}, "", cmdutil.ExitUsage},
		{[]string{"--watch", "soon"}, "", cmdutil.ExitUsage},
		{[]string{"--stuck-after", "-1m"}, "", cmdutil.ExitUsage},
		{[]string{"--stuck-after", "0s"}, "", cmdutil.ExitUsage},
		{[]string{"--stuck-after", "1000h"}, "", cmdutil.ExitUsage},
	} {
		f, out, _ := factory(srv.SuperURL(db), nil)
		ctx, cancel := context.WithCancel(context.Background())
		f.IO.Out = &cancelOn{w: out, s: "Refreshing every", cancel: cancel}
		cmd := NewCmdShowLocks(f)
		cmd.SetArgs(tc.args)
		cmd.SetOut(out)
		cmd.SetErr(out)
		err := cmd.ExecuteContext(ctx)
		cancel()
		if code := cmdutil.ExitCode(err); code != tc.code {
			t.Errorf("%v: exit %d (%v), want %d", tc.args, code, err, tc.code)
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: output lacks %q:\n%s", tc.args, tc.want, out)
		}
		if tc.code == cmdutil.ExitUsage && (err == nil || strings.Contains(err.Error(), "\n")) {
			t.Errorf("%v: want a one-line error, got %q", tc.args, err)
		}
		if len(tc.args) == 2 && tc.args[0] == "--stuck-after" && tc.code != 0 && !strings.Contains(err.Error(), "--stuck-after must be between 1s and 720h") {
			t.Errorf("%v: error does not name the flag and its range: %v", tc.args, err)
		}
	}
}
