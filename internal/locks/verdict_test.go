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
		{"recent", Lock{PID: 10, Granted: true, Session: sess("idle", 20*time.Second, "")}, nil, VerdictRecent, "for only 20s"},
		{"migration app", Lock{PID: 10, Granted: true, Session: sess("idle", time.Hour, "connect-migrate")}, nil, VerdictBusy, "migration tool"},
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
