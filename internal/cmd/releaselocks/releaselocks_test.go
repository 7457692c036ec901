package releaselocks

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

const sentinel = "Sentinel-Pa55-77aa"

func setup(url string, env map[string]string) (*ReleaseLocksOptions, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	io, in, out, errOut := iostreams.Test()
	f := &cmdutil.Factory{
		IO:      io,
		Globals: &cmdutil.Globals{Output: "text", Timeout: time.Minute, URL: url},
		Getenv:  func(k string) string { return env[k] },
		Now:     time.Now,
	}
	return &ReleaseLocksOptions{F: f, Grace: time.Second, Wait: time.Minute, StuckAfter: locks.DefaultStuckAfter}, in, out, errOut
}

// stuckAfterIdle waits until the session of db named app has been idle
// (outside a transaction) for a second by the server's clock, and sets
// --stuck-after 1s: from then on show-locks calls it stuck.
func stuckAfterIdle(t *testing.T, opts *ReleaseLocksOptions, db, app string) {
	t.Helper()
	lockstest.Until(t, srv, db, lockstest.InState(app, "idle", time.Second))
	opts.StuckAfter = time.Second
}

func heldCount(t *testing.T, db string, key string) int {
	t.Helper()
	k, _ := locks.ParseKey(key)
	l, err := locks.List(context.Background(), srv.Conn(t, db), locks.ListOptions{Key: &k})
	if err != nil {
		t.Fatal(err)
	}
	return len(locks.HeldBy(l, k))
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
	{regexp.MustCompile(`(pid|"pid":|blocked by pid) \d+`), "$1 <pid>"},
	{regexp.MustCompile(`"held_by": \[\s*\d+\s*\]`), `"held_by": [<pid>]`},
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

func TestDryRunThenYes(t *testing.T) {
	db := srv.NewDatabase(t, "")
	lockstest.Hold(t, srv, db, "rstudio-connect", "SELECT pg_advisory_lock(4242)")
	waiter := lockstest.Background(t, srv, db, "connect-node-2", "SELECT pg_advisory_lock(4242)")
	lockstest.Until(t, srv, db, lockstest.AdvisoryWaiter)

	opts, _, out, _ := setup(srv.SuperURL(db), map[string]string{locks.EnvLockID: "4242"})
	opts.ConnectLock = true
	stuckAfterIdle(t, opts, db, "rstudio-connect")
	if err := runReleaseLocks(context.Background(), opts); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if !strings.Contains(out.String(), "Dry run: nothing was ended") || heldCount(t, db, "4242") != 1 {
		t.Fatalf("dry run acted or said nothing:\n%s", out)
	}
	assertGolden(t, "dry-run.golden", out.String())

	out.Reset()
	opts.Yes = true
	if err := runReleaseLocks(context.Background(), opts); err != nil {
		t.Fatalf("--yes: %v\n%s", err, out)
	}
	select {
	case err := <-waiter:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the waiting node did not get the lock")
	}
	if !strings.Contains(out.String(), "Released.") || !strings.Contains(out.String(), "a session that was waiting for it") {
		t.Fatalf("output:\n%s", out)
	}
	assertGolden(t, "released.golden", out.String())
}

func TestActiveHolderRefusedWithoutForce(t *testing.T) {
	db := srv.NewDatabase(t, "")
	sleeper := lockstest.Background(t, srv, db, "rstudio-connect", "SELECT pg_advisory_lock(10, 20), pg_sleep(60)")
	lockstest.Until(t, srv, db, "EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)' AND state = 'active' AND wait_event = 'PgSleep')")

	opts, _, out, _ := setup(srv.SuperURL(db), nil)
	opts.F.Globals.LockID = "10,20"
	opts.Yes = true
	err := runReleaseLocks(context.Background(), opts)
	if cmdutil.ExitCode(err) != cmdutil.ExitFindings || !strings.Contains(out.String(), "add --force") || heldCount(t, db, "10,20") != 1 {
		t.Fatalf("active holder: %v\n%s", err, out)
	}
	assertGolden(t, "refused-active.golden", out.String())

	out.Reset()
	opts.Force = true
	opts.F.Globals.Output = "json"
	if err := runReleaseLocks(context.Background(), opts); err != nil {
		t.Fatalf("--force: %v\n%s", err, out)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.DryRun || !rep.Released || rep.Result == nil || rep.Result.Outcomes[0].Done != "cancelled, then terminated" {
		t.Fatalf("report: %s", out)
	}
	if err := <-sleeper; err == nil {
		t.Fatal("pg_sleep survived")
	}
	assertGolden(t, "forced.json.golden", out.String())
}

func TestInteractivePrompt(t *testing.T) {
	db := srv.NewDatabase(t, "")
	lockstest.Hold(t, srv, db, "rstudio-connect", "SELECT pg_advisory_lock(5)")
	for _, answer := range []string{"n\n", "y\n"} {
		opts, in, out, _ := setup(srv.SuperURL(db), nil)
		stuckAfterIdle(t, opts, db, "rstudio-connect")
		opts.F.IO.SetTTY(true, true, false)
		opts.F.Globals.LockID = "5"
		in.WriteString(answer)
		if err := runReleaseLocks(context.Background(), opts); err != nil {
			t.Fatalf("%q: %v", answer, err)
		}
		if !strings.Contains(out.String(), "End 1 session (pid ") {
			t.Fatalf("no prompt:\n%s", out)
		}
		want := 1
		if answer == "y\n" {
			want = 0
		}
		if got := heldCount(t, db, "5"); got != want {
			t.Fatalf("answer %q: %d holders\n%s", answer, got, out)
		}
	}
}

// TestMigrationInFlightRefused is issue 16 item 2 end to end: a holder idle
// in a transaction right after a CREATE TABLE is refused with show-locks'
// verdict and the time left, even with --idle-for and a short
// --stuck-after, and ended only with --force.
func TestMigrationInFlightRefused(t *testing.T) {
	db := srv.NewDatabase(t, "")
	lockstest.Hold(t, srv, db, "rstudio-connect", "BEGIN", "SELECT pg_advisory_xact_lock(-9000000000)", "CREATE TABLE connect_step (id int)")
	opts, _, out, _ := setup(srv.SuperURL(db), nil)
	opts.IdleFor = time.Hour
	opts.Yes = true
	if err := runReleaseLocks(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "--idle-for 1h0m0s") || heldCount(t, db, "-9000000000") != 1 {
		t.Fatalf("--idle-for 1h:\n%s", out)
	}
	lockstest.Until(t, srv, db, lockstest.InState("rstudio-connect", "idle in transaction", time.Second))
	out.Reset()
	opts.IdleFor, opts.StuckAfter = time.Second, time.Second
	err := runReleaseLocks(context.Background(), opts)
	if cmdutil.ExitCode(err) != cmdutil.ExitFindings || heldCount(t, db, "-9000000000") != 1 {
		t.Fatalf("a migration in flight was not refused: %v\n%s", err, out)
	}
	for _, want := range []string{"idle in transaction for only", "may be between migration steps", "it would look stuck in", "never ended without --force", "Nothing will be ended"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	assertGolden(t, "refused-in-transaction.golden", out.String())

	// show-locks' JSON verdict on the same holder is the same rule.
	out.Reset()
	opts.F.Globals.Output = "json"
	opts.Yes = false
	_ = runReleaseLocks(context.Background(), opts)
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Candidates) != 1 || rep.Candidates[0].Verdict == nil || rep.Candidates[0].Verdict.Kind != locks.VerdictRecent || rep.Candidates[0].Verdict.StuckInSeconds <= 0 {
		t.Fatalf("JSON: %s", out)
	}

	out.Reset()
	opts.F.Globals.Output = "text"
	opts.Force, opts.Yes = true, true
	if err := runReleaseLocks(context.Background(), opts); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if heldCount(t, db, "-9000000000") != 0 || !strings.Contains(out.String(), "Released.") {
		t.Fatalf("--force:\n%s", out)
	}
}

func TestOtherDatabase(t *testing.T) {
	db1, db2 := srv.NewDatabase(t, ""), srv.NewDatabase(t, "")
	lockstest.Hold(t, srv, db2, "elsewhere", "SELECT pg_advisory_lock(12)")
	opts, _, out, _ := setup(srv.SuperURL(db1), nil)
	stuckAfterIdle(t, opts, db2, "elsewhere")
	opts.F.Globals.LockID = "12"
	opts.Yes = true
	if err := runReleaseLocks(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if heldCount(t, db2, "12") != 1 || !strings.Contains(out.String(), "add --all-databases") {
		t.Fatalf("other database touched:\n%s", out)
	}
	out.Reset()
	opts.AllDatabases = true
	if err := runReleaseLocks(context.Background(), opts); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if heldCount(t, db2, "12") != 0 {
		t.Fatalf("--all-databases:\n%s", out)
	}
}

func TestNonPrivilegedRoleAndSentinel(t *testing.T) {
	connect := srv.NewRole(t, sentinel)
	admin := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, connect)
	srv.MustExec(t, "postgres", "GRANT pg_read_all_stats TO "+admin)
	lockstest.HoldURL(t, srv.URL(connect, sentinel, db, "application_name=rstudio-connect"), "SELECT pg_advisory_lock(4242)")
	opts, _, out, errOut := setup(srv.URL(admin, sentinel, db), nil)
	stuckAfterIdle(t, opts, db, "rstudio-connect")
	opts.F.Globals.LockID = "4242"
	opts.Yes = true
	err := runReleaseLocks(context.Background(), opts)
	if cmdutil.ExitCode(err) != cmdutil.ExitFindings || !strings.Contains(out.String(), "GRANT pg_signal_backend TO "+admin) {
		t.Fatalf("non-privileged: %v\n%s", err, out)
	}
	assertGolden(t, "no-signal.golden", out.String())
	opts.F.Globals.Output = "json"
	_ = runReleaseLocks(context.Background(), opts)
	if strings.Contains(out.String()+errOut.String(), sentinel) {
		t.Fatal("password printed")
	}
}

func TestUsageErrors(t *testing.T) {
	for name, mod := range map[string]func(*ReleaseLocksOptions){
		"nothing selected":           func(o *ReleaseLocksOptions) {},
		"connect-lock without an ID": func(o *ReleaseLocksOptions) { o.ConnectLock = true },
		"bad lock id":                func(o *ReleaseLocksOptions) { o.F.Globals.LockID = "1,2,3" },
		"bad output":                 func(o *ReleaseLocksOptions) { o.F.Globals.Output = "junit"; o.PID = 5 },
	} {
		opts, _, _, _ := setup(srv.SuperURL("postgres"), map[string]string{locks.EnvLockID: ""})
		mod(opts)
		if err := runReleaseLocks(context.Background(), opts); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%s: %v", name, err)
		}
	}
	// CONNECTDB_LOCK_ID alone does not select anything: it names Connect's
	// lock only for --connect-lock.
	opts, _, _, _ := setup(srv.SuperURL("postgres"), map[string]string{locks.EnvLockID: "1"})
	if err := runReleaseLocks(context.Background(), opts); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Errorf("env only: %v", err)
	}
}

func TestNothingToRelease(t *testing.T) {
	db := srv.NewDatabase(t, "")
	opts, _, out, _ := setup(srv.SuperURL(db), nil)
	opts.F.Globals.LockID = "4242"
	opts.Yes = true
	if err := runReleaseLocks(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Nothing to release.") {
		t.Fatalf("output:\n%s", out)
	}
}

// TestFlagRanges: negative or out-of-range durations are refused (exit 2)
// with one line that names the flag and its range, before connecting.
func TestFlagRanges(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--grace", "-1s"}, "--grace must be between 100ms and 1h"},
		{[]string{"--grace=2h"}, "--grace must be between 100ms and 1h"},
		{[]string{"--wait", "-10s"}, "--wait must be between 1s and 1h"},
		{[]string{"--wait", "0s"}, "--wait must be between 1s and 1h"},
		{[]string{"--stuck-after", "-1m"}, "--stuck-after must be between 1s and 720h"},
		{[]string{"--stuck-after", "1ms"}, "--stuck-after must be between 1s and 720h"},
	} {
		opts, _, out, _ := setup("postgres://nobody@127.0.0.1:1/x?sslmode=disable", nil)
		cmd := NewCmdReleaseLocks(opts.F)
		cmd.SetArgs(append([]string{"--lock-id", "4242"}, tc.args...))
		cmd.SetOut(out)
		cmd.SetErr(out)
		err := cmd.Execute()
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v (exit %d)", tc.args, err, cmdutil.ExitCode(err))
		}
	}
}
