package pool

import "fmt"

// Verdict grades one rule.
type Verdict string

const (
	Pass Verdict = "pass"
	Warn Verdict = "warn"
	Fail Verdict = "fail"
)

// Check IDs: stable names scripts can match on.
const (
	CheckCapacity        = "capacity"         // the cluster's worst case fits the server
	CheckOpenBounded     = "max-open-bounded" // MaxOpenConnections > 0
	CheckIdleWithinOpen  = "idle-within-open" // MaxIdle ≤ MaxOpen
	CheckIdleRetention   = "idle-retention"   // MaxIdle ≤ 0 only where it helps
	CheckIdleDefault     = "idle-default"     // MaxIdle ≥ 5 on a direct connection
	CheckPoolerLocking   = "pooler-locking"   // transaction poolers break advisory locks
	CheckInstrumentation = "metrics-pool"     // the second pool is accounted for
)

// Check is the verdict on one rule, with a one-line reason.
type Check struct {
	ID      string  `json:"id"`
	Verdict Verdict `json:"verdict"`
	Message string  `json:"message"`
}

// Evaluation judges the current settings against the server.
type Evaluation struct {
	PoolsPerNode int `json:"pools_per_node"`
	// WorstCase is nodes × MaxOpen × PoolsPerNode; Bounded is false when
	// MaxOpen ≤ 0 leaves the pool without limit.
	WorstCase int     `json:"worst_case"`
	Bounded   bool    `json:"bounded"`
	Available int     `json:"available"`
	Fits      bool    `json:"fits"`
	Checks    []Check `json:"checks"`
}

// Verdict is the worst verdict of all checks.
func (e Evaluation) Verdict() Verdict {
	v := Pass
	for _, c := range e.Checks {
		switch {
		case c.Verdict == Fail:
			return Fail
		case c.Verdict == Warn:
			v = Warn
		}
	}
	return v
}

// smallServer reports whether the server is too small to let every pool in
// the cluster keep Connect's default number of idle connections: the case in
// which the guide allows MaxIdleConnections ≤ 0 on a direct connection.
func smallServer(in Input) bool {
	need, ok := mulChecked(in.Nodes, PoolsPerNode(in.Instrumentation), DefaultMaxIdle)
	return !ok || in.Server.Available() < need
}

// Evaluate checks the current settings against every rule of the guide's
// pool section. It assumes in.Validate() passed.
func Evaluate(in Input) Evaluation {
	cur := in.Current
	pools := PoolsPerNode(in.Instrumentation)
	ev := Evaluation{PoolsPerNode: pools, Available: in.Server.Available()}
	ev.WorstCase, ev.Bounded = WorstCase(in.Nodes, cur.MaxOpen, in.Instrumentation)
	ev.Fits = ev.Bounded && ev.WorstCase <= ev.Available
	add := func(id string, v Verdict, format string, a ...any) {
		ev.Checks = append(ev.Checks, Check{ID: id, Verdict: v, Message: fmt.Sprintf(format, a...)})
	}

	// Every node opens up to MaxOpen per pool; the cluster must fit the server.
	switch {
	case !ev.Bounded && cur.MaxOpen <= 0:
		add(CheckOpenBounded, Fail, "MaxOpenConnections = %d sets no limit on open connections, so the cluster's total cannot be bounded; set it to a positive number", cur.MaxOpen)
		add(CheckCapacity, Fail, "the worst case is unbounded but the server can give Connect only %d connections", ev.Available)
	case !ev.Bounded:
		add(CheckCapacity, Fail, "%s × %d × %d pools is too large to count; the server can give Connect %d connections", nodes(in.Nodes), cur.MaxOpen, pools, ev.Available)
	case ev.Fits:
		add(CheckCapacity, Pass, "%s × %d MaxOpenConnections × %d %s = %d fits the %d connections the server can give Connect", nodes(in.Nodes), cur.MaxOpen, pools, plural(pools, "pool", "pools"), ev.WorstCase, ev.Available)
	default:
		add(CheckCapacity, Fail, "%s × %d MaxOpenConnections × %d %s = %d exceeds the %d connections the server can give Connect", nodes(in.Nodes), cur.MaxOpen, pools, plural(pools, "pool", "pools"), ev.WorstCase, ev.Available)
	}

	// With metrics on and no separate InstrumentationURL, a second pool of the same size.
	switch in.Instrumentation {
	case MetricsSame:
		add(CheckInstrumentation, Pass, "operational metrics share the primary's server: each node may open 2 × MaxOpenConnections against it, and the total above counts both pools")
	case MetricsSeparate:
		add(CheckInstrumentation, Pass, "operational metrics go to a separate server, which needs room for %s × %d = %s more connections of its own", nodes(in.Nodes), cur.MaxOpen, countOrUnbounded(in.Nodes, cur.MaxOpen))
	case MetricsOff:
		add(CheckInstrumentation, Pass, "operational metrics are off: each node opens one pool")
	}

	// Idle connections are a subset of open ones: a larger idle value has no effect.
	if cur.MaxOpen > 0 && cur.MaxIdle > cur.MaxOpen {
		add(CheckIdleWithinOpen, Warn, "MaxIdleConnections = %d is above MaxOpenConnections = %d and has no effect beyond %d; idle connections are a subset of open ones", cur.MaxIdle, cur.MaxOpen, cur.MaxOpen)
	} else {
		add(CheckIdleWithinOpen, Pass, "MaxIdleConnections = %d is not above MaxOpenConnections = %d", cur.MaxIdle, cur.MaxOpen)
	}

	// MaxIdle ≤ 0 opens a connection per operation.
	if cur.MaxIdle <= 0 {
		switch {
		case in.Pooler == PoolerSession:
			add(CheckIdleRetention, Pass, "MaxIdleConnections = %d behind a session-mode pooler releases each server slot as soon as the connection goes idle", cur.MaxIdle)
		case in.Pooler == PoolerTransaction:
			add(CheckIdleRetention, Warn, "MaxIdleConnections = %d opens a connection per operation; behind a transaction-mode pooler idle client connections hold no server slot, so keeping %d idle costs nothing", cur.MaxIdle, DefaultMaxIdle)
		case smallServer(in):
			add(CheckIdleRetention, Warn, "MaxIdleConnections = %d opens a connection per operation; with only %d connections for %d pools it can be right, but confirm it is intentional", cur.MaxIdle, ev.Available, in.Nodes*pools)
		default:
			add(CheckIdleRetention, Fail, "MaxIdleConnections = %d opens and closes a connection for every operation directly against PostgreSQL, which slows Connect and loads the server; set it to %d", cur.MaxIdle, min(DefaultMaxIdle, max(cur.MaxOpen, 1)))
		}
	} else {
		add(CheckIdleRetention, Pass, "MaxIdleConnections = %d keeps idle connections for reuse", cur.MaxIdle)
	}

	// Keep MaxIdle at or above its default of 5 on a direct connection.
	switch {
	case cur.MaxIdle <= 0:
		// judged by idle-retention above
	case cur.MaxIdle >= DefaultMaxIdle:
		add(CheckIdleDefault, Pass, "MaxIdleConnections = %d is at or above the default of %d", cur.MaxIdle, DefaultMaxIdle)
	case cur.MaxOpen > 0 && cur.MaxIdle >= cur.MaxOpen:
		add(CheckIdleDefault, Pass, "MaxIdleConnections = %d is below the default of %d but equals MaxOpenConnections, the most it can be", cur.MaxIdle, DefaultMaxIdle)
	case in.Pooler == PoolerNone:
		add(CheckIdleDefault, Warn, "MaxIdleConnections = %d is below the default of %d on a direct connection, so busy nodes reopen connections often; raise it to %d", cur.MaxIdle, DefaultMaxIdle, suggestedIdleFloor(cur.MaxOpen))
	default:
		add(CheckIdleDefault, Pass, "MaxIdleConnections = %d is below the default of %d, which is fine behind a pooler", cur.MaxIdle, DefaultMaxIdle)
	}

	// Session-level advisory locks do not survive transaction pooling.
	switch in.Pooler {
	case PoolerTransaction:
		add(CheckPoolerLocking, Warn, "a transaction-mode pooler breaks session-level advisory locks, so Connect's upgrade locking does not work through it; point Connect at PostgreSQL or a session-mode pool for upgrades")
	case PoolerSession:
		add(CheckPoolerLocking, Pass, "a session-mode pooler keeps session-level advisory locks, so Connect's upgrade locking works; size the pooler's server pool for the total above")
	}
	return ev
}

func suggestedIdleFloor(maxOpen int) int {
	if maxOpen <= 0 {
		return DefaultMaxIdle
	}
	return min(DefaultMaxIdle, maxOpen)
}

func countOrUnbounded(nodes, maxOpen int) string {
	if n, ok := WorstCase(nodes, maxOpen, MetricsOff); ok {
		return fmt.Sprint(n)
	}
	return "unbounded"
}

// nodes writes "1 node" or "N nodes".
func nodes(n int) string { return fmt.Sprintf("%d %s", n, plural(n, "node", "nodes")) }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
