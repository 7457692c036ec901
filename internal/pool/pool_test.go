package pool

import (
	"strings"
	"testing"
	"time"

	"github.com/connectdb/connectdb/internal/config"
)

// base is one node talking directly to a roomy server with Connect's defaults.
func base() Input {
	return Input{
		Nodes:           1,
		Server:          Server{MaxConnections: 100, SuperuserReserved: 3},
		Instrumentation: MetricsSame,
		Pooler:          PoolerNone,
		Current:         Settings{MaxOpen: DefaultMaxOpen, MaxIdle: DefaultMaxIdle},
	}
}

func checkOf(t *testing.T, ev Evaluation, id string) Check {
	t.Helper()
	for _, c := range ev.Checks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", id, ev.Checks)
	return Check{}
}

func hasCheck(ev Evaluation, id string) bool {
	for _, c := range ev.Checks {
		if c.ID == id {
			return true
		}
	}
	return false
}

// TestGuideRules has one case per sentence of the guide's pool section.
func TestGuideRules(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Input)
		check   string
		verdict Verdict
		msg     string // substring of the check's message
	}{
		{"defaults of five idle and ten open pass every rule on a direct connection", func(*Input) {}, CheckIdleDefault, Pass, "at or above the default of 5"},
		{"idle below the default of five on a direct connection warns", func(in *Input) { in.Current.MaxIdle = 2 }, CheckIdleDefault, Warn, "raise it to 5"},
		{"idle below five but equal to a small open pool passes", func(in *Input) { in.Current = Settings{MaxOpen: 3, MaxIdle: 3} }, CheckIdleDefault, Pass, "equals MaxOpenConnections"},
		{"idle below five behind a session pooler passes", func(in *Input) { in.Pooler = PoolerSession; in.Current.MaxIdle = 2 }, CheckIdleDefault, Pass, "behind a pooler"},
		{"idle higher than open has no effect and warns", func(in *Input) { in.Current.MaxIdle = 12 }, CheckIdleWithinOpen, Warn, "has no effect beyond 10"},
		{"idle equal to open is allowed", func(in *Input) { in.Current.MaxIdle = 10 }, CheckIdleWithinOpen, Pass, "not above"},
		{"zero idle directly against postgres opens a connection per operation and fails", func(in *Input) { in.Current.MaxIdle = 0 }, CheckIdleRetention, Fail, "every operation directly against PostgreSQL"},
		{"negative idle behaves like zero and fails directly against postgres", func(in *Input) { in.Current.MaxIdle = -1 }, CheckIdleRetention, Fail, "set it to 5"},
		{"zero idle behind a session-mode pooler frees server slots and passes", func(in *Input) { in.Pooler = PoolerSession; in.Current.MaxIdle = 0 }, CheckIdleRetention, Pass, "session-mode pooler"},
		{"zero idle with a small max_connections is allowed but must be intentional", func(in *Input) {
			in.Nodes = 3
			in.Server.MaxConnections = 20
			in.Current.MaxIdle = 0
		}, CheckIdleRetention, Warn, "confirm it is intentional"},
		{"zero idle behind a transaction pooler warns that idle costs nothing there", func(in *Input) { in.Pooler = PoolerTransaction; in.Current.MaxIdle = 0 }, CheckIdleRetention, Warn, "hold no server slot"},
		{"positive idle keeps connections for reuse", func(*Input) {}, CheckIdleRetention, Pass, "keeps idle connections"},
		{"pool that fits max_connections passes capacity", func(*Input) {}, CheckCapacity, Pass, "1 node × 10 MaxOpenConnections × 2 pools = 20 fits the 97"},
		{"pool that exceeds max_connections fails capacity", func(in *Input) { in.Server.MaxConnections = 15 }, CheckCapacity, Fail, "exceeds the 12"},
		{"every node maintains its own pools so the total grows with nodes", func(in *Input) { in.Nodes = 5 }, CheckCapacity, Fail, "5 nodes × 10 MaxOpenConnections × 2 pools = 100 exceeds the 97"},
		{"metrics on by default with no instrumentation url doubles the pool", func(*Input) {}, CheckInstrumentation, Pass, "2 × MaxOpenConnections"},
		{"a separate instrumentation server takes the second pool away from the primary", func(in *Input) { in.Instrumentation = MetricsSeparate; in.Nodes = 3 }, CheckInstrumentation, Pass, "3 nodes × 10 = 30 more"},
		{"metrics off leaves one pool per node", func(in *Input) { in.Instrumentation = MetricsOff }, CheckCapacity, Pass, "× 1 pool = 10"},
		{"open of zero sets no limit and fails", func(in *Input) { in.Current.MaxOpen = 0 }, CheckOpenBounded, Fail, "no limit"},
		{"transaction pooler breaks session advisory locks and Connect's upgrade locking", func(in *Input) { in.Pooler = PoolerTransaction }, CheckPoolerLocking, Warn, "upgrade locking does not work"},
		{"session pooler keeps advisory locks and must be sized for the total", func(in *Input) { in.Pooler = PoolerSession }, CheckPoolerLocking, Pass, "size the pooler's server pool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			tt.mod(&in)
			if err := in.Validate(); err != nil {
				t.Fatal(err)
			}
			c := checkOf(t, Evaluate(in), tt.check)
			if c.Verdict != tt.verdict || !strings.Contains(c.Message, tt.msg) {
				t.Errorf("%s = %s %q, want %s containing %q", tt.check, c.Verdict, c.Message, tt.verdict, tt.msg)
			}
		})
	}
}

func TestNoPoolerLockCheckOnDirectConnection(t *testing.T) {
	if ev := Evaluate(base()); hasCheck(ev, CheckPoolerLocking) {
		t.Errorf("direct connection should have no pooler check: %+v", ev.Checks)
	}
}

func TestWorstCase(t *testing.T) {
	tests := []struct {
		name        string
		nodes, open int
		instr       Instrumentation
		want        int
		wantBounded bool
	}{
		{"one node with shared metrics opens twice max open", 1, 10, MetricsSame, 20, true},
		{"three nodes with shared metrics", 3, 10, MetricsSame, 60, true},
		{"separate metrics server opens max open per node on the primary", 3, 10, MetricsSeparate, 30, true},
		{"metrics off opens max open per node", 3, 10, MetricsOff, 30, true},
		{"zero open is unbounded", 3, 0, MetricsSame, 0, false},
		{"negative open is unbounded", 3, -5, MetricsOff, 0, false},
		{"overflow is reported rather than wrapped", 1 << 40, 1 << 30, MetricsSame, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := WorstCase(tt.nodes, tt.open, tt.instr)
			if got != tt.want || ok != tt.wantBounded {
				t.Errorf("WorstCase(%d, %d, %s) = %d, %v; want %d, %v", tt.nodes, tt.open, tt.instr, got, ok, tt.want, tt.wantBounded)
			}
		})
	}
}

func TestServerAvailable(t *testing.T) {
	s := Server{MaxConnections: 100, SuperuserReserved: 3, Reserved: 2, Others: 7, Reserve: 5}
	if got := s.Available(); got != 83 {
		t.Errorf("Available() = %d, want 83", got)
	}
	s.Others = 200
	if got := s.Available(); got != 0 {
		t.Errorf("Available() with more held than max = %d, want 0", got)
	}
}

func TestRecommend(t *testing.T) {
	tests := []struct {
		name             string
		mod              func(*Input)
		open, idle       int
		feasible, raise  bool
		required         int
		openMsg, idleMsg string
	}{
		{"defaults that fit are kept", func(*Input) {}, 10, 5, true, false, 23, "(the current value)", "the current value"},
		{"too many nodes get the largest per-node value that fits", func(in *Input) { in.Nodes = 10 }, 4, 4, true, true, 203, "4 is the most that fits (97 available / (10 nodes × 2 pools))", "lowered to MaxOpenConnections"},
		{"target open raises open and idle together", func(in *Input) { in.TargetOpen = 40 }, 40, 20, true, false, 83, "as asked by --target-open", "half of MaxOpenConnections"},
		{"target open that does not fit says what max_connections it needs", func(in *Input) { in.Nodes = 3; in.TargetOpen = 40 }, 16, 8, true, true, 243, "40 per node needs max_connections = 243", ""},
		{"idle above open is lowered to open", func(in *Input) { in.Current.MaxIdle = 50 }, 10, 10, true, false, 23, "", "subset of open ones"},
		{"zero idle on a direct connection is raised", func(in *Input) { in.Current.MaxIdle = 0 }, 10, 5, true, false, 23, "", "on a direct connection"},
		{"session pooler recommends zero idle", func(in *Input) { in.Pooler = PoolerSession }, 10, 0, true, false, 23, "", "session-mode pooler"},
		{"transaction pooler keeps idle connections", func(in *Input) { in.Pooler = PoolerTransaction; in.Current.MaxIdle = 0 }, 10, 5, true, false, 23, "", "transaction-mode pooler"},
		{"a server that cannot hold one connection per pool is infeasible", func(in *Input) { in.Nodes = 10; in.Server.MaxConnections = 20 }, 1, 0, false, true, 203, "raise max_connections to at least 23", "cannot hold even one"},
		{"separate metrics halves the need on the primary", func(in *Input) { in.Nodes = 9; in.Instrumentation = MetricsSeparate }, 10, 5, true, false, 93, "", ""},
		{"zero open falls back to the default", func(in *Input) { in.Current.MaxOpen = 0 }, 10, 5, true, false, 23, "(Connect's default)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			tt.mod(&in)
			r := Recommend(in)
			if r.MaxOpen != tt.open || r.MaxIdle != tt.idle || r.Feasible != tt.feasible || r.RaiseMaxConnections != tt.raise || r.RequiredMaxConnections != tt.required {
				t.Errorf("got open %d idle %d feasible %v raise %v required %d; want %d %d %v %v %d",
					r.MaxOpen, r.MaxIdle, r.Feasible, r.RaiseMaxConnections, r.RequiredMaxConnections, tt.open, tt.idle, tt.feasible, tt.raise, tt.required)
			}
			if !strings.Contains(r.OpenReason, tt.openMsg) {
				t.Errorf("OpenReason %q lacks %q", r.OpenReason, tt.openMsg)
			}
			if !strings.Contains(r.IdleReason, tt.idleMsg) {
				t.Errorf("IdleReason %q lacks %q", r.IdleReason, tt.idleMsg)
			}
		})
	}
}

func TestRecommendLifetime(t *testing.T) {
	tests := []struct {
		name string
		cur  Settings
		want time.Duration
		msg  string
	}{
		{"unset lifetime takes the guide's sixty seconds", Settings{}, time.Minute, "value in Connect's guide"},
		{"a sensible lifetime is kept", Settings{MaxLifetime: 5 * time.Minute, LifetimeSet: true}, 5 * time.Minute, "the current value"},
		{"zero never recycles", Settings{LifetimeSet: true}, time.Minute, "never recycles"},
		{"a tiny lifetime reconnects too often", Settings{MaxLifetime: time.Second, LifetimeSet: true}, time.Minute, "reconnects so often"},
		{"a day is too long to follow a failover", Settings{MaxLifetime: 24 * time.Hour, LifetimeSet: true}, time.Minute, "slow to follow a failover"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := recommendLifetime(tt.cur)
			if got != tt.want || !strings.Contains(why, tt.msg) {
				t.Errorf("recommendLifetime(%+v) = %v %q, want %v containing %q", tt.cur, got, why, tt.want, tt.msg)
			}
		})
	}
}

func TestValidateNamesTheFlag(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Input)
		want string
	}{
		{"negative nodes", func(in *Input) { in.Nodes = -1 }, "--nodes must be at least 1, got -1"},
		{"zero max connections", func(in *Input) { in.Server.MaxConnections = 0 }, "--max-connections"},
		{"negative reserve", func(in *Input) { in.Server.Reserve = -2 }, "--reserve"},
		{"negative target", func(in *Input) { in.TargetOpen = -2 }, "--target-open"},
		{"negative superuser reserved", func(in *Input) { in.Server.SuperuserReserved = -1 }, "--superuser-reserved"},
		{"unknown instrumentation", func(in *Input) { in.Instrumentation = "both" }, "--instrumentation \"both\" is not same, separate or off"},
		{"unknown pooler", func(in *Input) { in.Pooler = "statement" }, "--pooler \"statement\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			tt.mod(&in)
			err := in.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSweepGrowsWithNodes(t *testing.T) {
	in := base()
	in.Nodes = 6
	rows := Sweep(in)
	if len(rows) != 6 {
		t.Fatalf("got %d rows, want 6", len(rows))
	}
	for i, r := range rows {
		if r.Nodes != i+1 || r.WorstCase != 20*(i+1) {
			t.Errorf("row %d = %+v, want nodes %d worst case %d", i, r, i+1, 20*(i+1))
		}
		if i > 0 && r.RequiredMaxConnections <= rows[i-1].RequiredMaxConnections {
			t.Errorf("required max_connections did not grow at %d nodes: %d after %d", r.Nodes, r.RequiredMaxConnections, rows[i-1].RequiredMaxConnections)
		}
	}
	if !rows[3].Fits || rows[4].Fits {
		t.Errorf("4 nodes (80) should fit 97 and 5 nodes (100) should not: %+v", rows)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute: "60s", 90 * time.Second: "90s", 5 * time.Minute: "5m", time.Hour: "1h",
		90 * time.Minute: "90m", 1500 * time.Millisecond: "1.5s", 0: "0s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if d > 0 {
			back, err := config.ParseDuration(FormatDuration(d))
			if err != nil || back != d {
				t.Errorf("round trip of %v gave %v, %v", d, back, err)
			}
		}
	}
}
