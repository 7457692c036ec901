package locks

import (
	"strings"
	"testing"
	"time"
)

func TestAssess(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { x := now.Add(-d); return &x }
	sess := func(state string, idle time.Duration, app string) *Session {
		return &Session{PID: 10, User: "connect", Application: app, ClientAddr: "10.0.0.5", Visible: true, CanSignal: true,
			BackendStart: ago(17 * time.Minute), StateChange: ago(idle), QueryStart: ago(idle), State: state, Query: "ALTER TABLE x ADD y int"}
	}
	snap := &Snapshot{Now: now, User: "admin"}
	tests := []struct {
		name   string
		lock   Lock
		active []Session
		kind   string
		text   string
	}{
		{"idle long", Lock{PID: 10, Granted: true, Session: sess("idle", 16*time.Minute, "rstudio-connect")}, nil, VerdictStuck,
			"held by pid 10 (rstudio-connect, 10.0.0.5) for 17m, idle for 16m: looks stuck"},
		{"idle in tx", Lock{PID: 10, Granted: true, Session: sess("idle in transaction", 5*time.Minute, "")}, nil, VerdictStuck,
			"idle in transaction for 5m: looks stuck"},
		{"active", Lock{PID: 10, Granted: true, Session: sess("active", 40*time.Second, "")}, nil, VerdictBusy,
			`running "ALTER TABLE x ADD y int" for 40s: a migration is probably running — wait`},
		{"recent", Lock{PID: 10, Granted: true, Session: sess("idle", 20*time.Second, "")}, nil, VerdictRecent, "idle for only 20s: it may be between migration steps — it would look stuck in 40s; check again then"},
		{"fresh tx", Lock{PID: 10, Granted: true, Session: sess("idle in transaction", 800*time.Millisecond, "rstudio-connect")}, nil, VerdictRecent,
			"idle in transaction for only 0.8s: it may be between migration steps — it would look stuck in 1m; check again then"},
		{"aborted tx", Lock{PID: 10, Granted: true, Session: sess("idle in transaction (aborted)", 30*time.Second, "")}, nil, VerdictRecent, "it would look stuck in 30s"},
		{"fastpath", Lock{PID: 10, Granted: true, Session: sess("fastpath function call", time.Hour, "")}, nil, VerdictBusy, "a migration is probably running"},
		{"no state", Lock{PID: 10, Granted: true, Session: sess("disabled", time.Hour, "")}, nil, VerdictHidden, "track_activities"},
		{"migration app", Lock{PID: 10, Granted: true, Session: sess("idle", time.Hour, "connect-migrate")}, nil, VerdictBusy, "migration tool"},
		{"migration app, any case", Lock{PID: 10, Granted: true, Session: sess("idle", time.Hour, "Flyway CLI")}, nil, VerdictBusy, "migration tool"},
		{"sibling", Lock{PID: 10, Granted: true, Session: sess("idle", time.Hour, "")},
			[]Session{{PID: 11, User: "connect", ClientAddr: "10.0.0.5", Query: "CREATE INDEX", QueryStart: ago(time.Minute), Visible: true}}, VerdictBusy, "pid 11 of the same role"},
		{"hidden", Lock{PID: 10, Granted: true, Session: &Session{PID: 10, User: "connect"}}, nil, VerdictHidden, "grant pg_read_all_stats to admin"},
		{"prepared", Lock{PID: 0, Granted: true, VirtualXact: "-1/42"}, nil, VerdictPrepXact, "ROLLBACK PREPARED"},
		{"waiting", Lock{PID: 12}, nil, VerdictWaiting, "waits"},
	}
	for _, tt := range tests {
		snap.Active = tt.active
		v := Assess(snap, tt.lock, 0)
		if v.Kind != tt.kind || !strings.Contains(v.Text, tt.text) {
			t.Errorf("%s: got %+v, want %s containing %q", tt.name, v, tt.kind, tt.text)
		}
	}
}

func TestFormatAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 40 * time.Second: "40s", 17*time.Minute + 30*time.Second: "17m",
		2*time.Hour + 5*time.Minute: "2h05m", 76 * time.Hour: "3d4h",
	} {
		if got := FormatAge(d); got != want {
			t.Errorf("FormatAge(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := OneLine("SELECT\n  1,\t2", 0); got != "SELECT 1, 2" {
		t.Errorf("got %q", got)
	}
	if got := OneLine("abcdef", 4); got != "abc…" {
		t.Errorf("got %q", got)
	}
}

func TestClassify(t *testing.T) {
	l := Lock{Key: BigintKey(5), Session: &Session{User: "connect"}}
	if Classify(l, ptr(BigintKey(5)), "") != ConnectLock || Classify(l, ptr(BigintKey(6)), "connect") != NotConnect {
		t.Error("with an ID the key alone decides")
	}
	if Classify(l, nil, "connect") != PossiblyConnect || Classify(l, nil, "other") != NotConnect {
		t.Error("without an ID the user decides")
	}
}

func TestStuckThreshold(t *testing.T) {
	for _, tt := range []struct {
		state      string
		stuckAfter time.Duration
		want       time.Duration
	}{
		{"idle", 0, DefaultStuckAfter},
		{"idle", time.Second, time.Second},
		{"idle", time.Hour, time.Hour},
		{"idle in transaction", time.Second, MinTransactionIdle},
		{"idle in transaction (aborted)", 0, MinTransactionIdle},
		{"idle in transaction", time.Hour, time.Hour},
	} {
		if got := StuckThreshold(tt.state, tt.stuckAfter); got != tt.want {
			t.Errorf("StuckThreshold(%q, %v) = %v, want %v", tt.state, tt.stuckAfter, got, tt.want)
		}
	}
}

func TestLooksLikeMigration(t *testing.T) {
	for app, want := range map[string]bool{
		"": false, "rstudio-connect": false, "psql": false, "connect-migrate": true, "MIGRATION": true,
		"db-upgrade": true, "Liquibase": true, "goose": true, "alembic": true, "sqitch": true, "schema-tool": true, "flyway": true,
	} {
		if got := LooksLikeMigration(app); got != want {
			t.Errorf("LooksLikeMigration(%q) = %v", app, got)
		}
	}
}

func TestDurationRange(t *testing.T) {
	for _, tt := range []struct {
		r    DurationRange
		d    time.Duration
		want string
	}{
		{StuckAfterRange, -time.Second, "--stuck-after must be between 1s and 720h, such as 1m (got -1s)"},
		{StuckAfterRange, 0, "--stuck-after must be between 1s and 720h"},
		{StuckAfterRange, 721 * time.Hour, "--stuck-after must be between 1s and 720h"},
		{GraceRange, -5 * time.Second, "--grace must be between 100ms and 1h, such as 5s (got -5s)"},
		{WaitRange, -time.Millisecond, "--wait must be between 1s and 1h, such as 10s (got -1ms)"},
		{StuckAfterRange, time.Second, ""},
		{GraceRange, time.Hour, ""},
	} {
		err := tt.r.Check(tt.d)
		if (err == nil) != (tt.want == "") || err != nil && (!strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n")) {
			t.Errorf("%s.Check(%v) = %v, want %q", tt.r.Flag, tt.d, err, tt.want)
		}
	}
}

var fuzzStates = []string{"idle", "idle in transaction", "idle in transaction (aborted)", "active", "fastpath function call", "disabled", ""}

// FuzzOneRule: whatever the holder, release-locks plans to end it without
// --force only if show-locks' verdict on it is stuck, with the same text,
// and never a holder that is running, idle less than its threshold, or idle
// in a transaction for less than MinTransactionIdle.
func FuzzOneRule(f *testing.F) {
	f.Add(uint8(1), int64(800), int64(0), "rstudio-connect", false, true, true)
	f.Add(uint8(0), int64(120000), int64(1000), "rstudio-connect", false, true, true)
	f.Add(uint8(3), int64(5000), int64(1), "connect-migrate", true, true, false)
	f.Fuzz(func(t *testing.T, state uint8, idleMs, stuckAfterMs int64, app string, sibling, visible, canSignal bool) {
		now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
		changed := now.Add(-time.Duration(idleMs) * time.Millisecond)
		start := changed.Add(-time.Hour)
		s := &Session{PID: 10, Database: "connect", User: "connect", Application: app, State: fuzzStates[int(state)%len(fuzzStates)],
			StateChange: &changed, QueryStart: &changed, BackendStart: &start, Visible: visible, CanSignal: canSignal}
		snap := &Snapshot{Now: now, OwnPID: 1, Database: "connect", User: "admin",
			Locks: []Lock{{Key: BigintKey(4242), Database: "connect", Granted: true, PID: 10, Session: s}}}
		if sibling {
			snap.Active = []Session{{PID: 11, Database: "connect", User: "connect", Application: app, State: "active", Visible: true}}
		}
		stuckAfter := time.Duration(stuckAfterMs) * time.Millisecond
		shown := BuildReport(snap, nil, "", "", stuckAfter).Locks[0].Verdict
		p := MakePlan(snap, Selection{StuckAfter: stuckAfter})
		c := p.Candidates[0]
		if c.Verdict != nil && (c.Verdict.Kind != shown.Kind || c.Verdict.Text != shown.Text) {
			t.Fatalf("two rules: show-locks %+v, release-locks %+v", shown, c.Verdict)
		}
		if c.Action == "" {
			if c.Refused == "" {
				t.Fatalf("neither ended nor refused: %+v", c)
			}
			return
		}
		idle := time.Duration(idleMs) * time.Millisecond
		switch {
		case shown.Kind != VerdictStuck:
			t.Fatalf("ends a holder whose verdict is %+v", shown)
		case Running(s.State) || !visible || !canSignal:
			t.Fatalf("ends a running, hidden or unsignallable holder: %+v", c)
		case InTransaction(s.State) && idle < MinTransactionIdle:
			t.Fatalf("ends a holder idle in a transaction for only %v", idle)
		case idle < StuckThreshold(s.State, stuckAfter):
			t.Fatalf("ends a holder idle for only %v", idle)
		}
	})
}
