// Package pool holds the sizing rules for Posit Connect's database
// connection pools, taken from the connection-pool section of Connect's
// PostgreSQL admin guide. Everything here is a pure function of its inputs:
// no I/O, no clock, so the rules can be table-tested and fuzzed.
//
// The rules in short: every Connect node opens up to MaxOpenConnections for
// the primary database and, with operational metrics on and no separate
// InstrumentationURL, a second pool of the same size to the same server.
// Idle connections are a subset of open ones. MaxIdleConnections ≤ 0 opens a
// connection per operation: bad directly against PostgreSQL, right behind a
// session-mode pooler or with a tiny max_connections.
package pool

import (
	"fmt"
	"time"
)

// Connect's defaults for the [Database] pool settings.
const (
	DefaultMaxOpen = 10
	DefaultMaxIdle = 5
	// GuideLifetime is the ConnectionMaxLifetime shown in Connect's guide.
	GuideLifetime = 60 * time.Second
	// PostgreSQL's defaults, used offline when the server is not asked.
	DefaultSuperuserReserved = 3
	DefaultReserved          = 0
)

// Lifetimes outside this range are replaced by GuideLifetime.
const (
	minSensibleLifetime = 30 * time.Second
	maxSensibleLifetime = time.Hour
)

// Instrumentation says where Connect's operational-metrics pool goes.
type Instrumentation string

const (
	// MetricsSame: metrics share the primary's server (the default, no
	// InstrumentationURL, or one that points at the same server): two pools.
	MetricsSame Instrumentation = "same"
	// MetricsSeparate: InstrumentationURL points at another server.
	MetricsSeparate Instrumentation = "separate"
	// MetricsOff: operational metrics are disabled; one pool.
	MetricsOff Instrumentation = "off"
)

// Pooler is what sits between Connect and PostgreSQL.
type Pooler string

const (
	PoolerNone        Pooler = "none"        // Connect talks directly to PostgreSQL
	PoolerSession     Pooler = "session"     // e.g. PgBouncer pool_mode=session
	PoolerTransaction Pooler = "transaction" // e.g. PgBouncer pool_mode=transaction
)

// ParseInstrumentation accepts same, separate or off.
func ParseInstrumentation(s string) (Instrumentation, error) {
	switch i := Instrumentation(s); i {
	case MetricsSame, MetricsSeparate, MetricsOff:
		return i, nil
	}
	return "", fmt.Errorf("%q is not same, separate or off", s)
}

// ParsePooler accepts none, session or transaction.
func ParsePooler(s string) (Pooler, error) {
	switch p := Pooler(s); p {
	case PoolerNone, PoolerSession, PoolerTransaction:
		return p, nil
	}
	return "", fmt.Errorf("%q is not none, session or transaction", s)
}

// Server is what the PostgreSQL server can give Connect.
type Server struct {
	MaxConnections    int // max_connections
	SuperuserReserved int // superuser_reserved_connections
	Reserved          int // reserved_connections (PostgreSQL 16+, else 0)
	Others            int // connections other clients hold now
	Reserve           int // headroom the admin keeps for admins, backups, other apps
}

// Held is everything on the server that is not Connect's to use.
func (s Server) Held() int { return s.SuperuserReserved + s.Reserved + s.Others + s.Reserve }

// Available is how many connections Connect may open in total, never below 0.
func (s Server) Available() int { return max(0, s.MaxConnections-s.Held()) }

// Settings are the [Database] pool settings of one Connect node.
type Settings struct {
	MaxOpen     int
	MaxIdle     int
	MaxLifetime time.Duration // 0 with LifetimeSet false: not configured
	LifetimeSet bool
}

// Input is everything the sizing rules look at.
type Input struct {
	Nodes           int
	Server          Server
	Instrumentation Instrumentation
	Pooler          Pooler
	Current         Settings
	TargetOpen      int // MaxOpenConnections the admin would like per node; 0: keep the current value
}

// Validate reports the first input that no rule can work with, naming it
// after its command-line flag.
func (in Input) Validate() error {
	switch {
	case in.Nodes < 1:
		return fmt.Errorf("--nodes must be at least 1, got %d", in.Nodes)
	case in.Server.MaxConnections < 1:
		return fmt.Errorf("--max-connections must be at least 1, got %d", in.Server.MaxConnections)
	case in.Server.SuperuserReserved < 0:
		return fmt.Errorf("--superuser-reserved must not be negative, got %d", in.Server.SuperuserReserved)
	case in.Server.Reserved < 0:
		return fmt.Errorf("--reserved-connections must not be negative, got %d", in.Server.Reserved)
	case in.Server.Others < 0:
		return fmt.Errorf("connections held by other clients must not be negative, got %d", in.Server.Others)
	case in.Server.Reserve < 0:
		return fmt.Errorf("--reserve must not be negative, got %d", in.Server.Reserve)
	case in.TargetOpen < 0:
		return fmt.Errorf("--target-open must not be negative, got %d", in.TargetOpen)
	}
	if _, err := ParseInstrumentation(string(in.Instrumentation)); err != nil {
		return fmt.Errorf("--instrumentation %w", err)
	}
	if _, err := ParsePooler(string(in.Pooler)); err != nil {
		return fmt.Errorf("--pooler %w", err)
	}
	return nil
}

// PoolsPerNode is how many pools of MaxOpenConnections each node opens
// against the primary's server: two when operational metrics share it.
func PoolsPerNode(i Instrumentation) int {
	if i == MetricsSame {
		return 2
	}
	return 1
}

// WorstCase is the most connections a cluster opens against the primary's
// server: nodes × maxOpen × PoolsPerNode. It reports false when maxOpen ≤ 0
// (an unbounded pool) or the product overflows.
func WorstCase(nodes, maxOpen int, i Instrumentation) (int, bool) {
	if nodes < 0 || maxOpen <= 0 {
		return 0, false
	}
	return mulChecked(nodes, maxOpen, PoolsPerNode(i))
}

// mulChecked multiplies non-negative ints, reporting false on overflow.
func mulChecked(xs ...int) (int, bool) {
	const limit = int(^uint(0) >> 2) // leave room for the additions that follow
	p := 1
	for _, x := range xs {
		if x < 0 {
			return 0, false
		}
		if x != 0 && p > limit/x {
			return 0, false
		}
		p *= x
	}
	return p, true
}

// RequiredMaxConnections is the max_connections the server needs so that
// nodes each opening perNode connections per pool fit next to everything
// else the server holds. It reports false on overflow or perNode ≤ 0.
func RequiredMaxConnections(nodes, perNode int, i Instrumentation, s Server) (int, bool) {
	w, ok := WorstCase(nodes, perNode, i)
	if !ok {
		return 0, false
	}
	h := s.Held()
	if h < 0 || w > int(^uint(0)>>1)-h {
		return 0, false
	}
	return w + h, true
}

// PerNodeBudget is the largest MaxOpenConnections that fits: the available
// connections shared out over nodes and their pools (0 when not even one fits).
func PerNodeBudget(nodes int, i Instrumentation, s Server) int {
	if nodes < 1 {
		return 0
	}
	d, ok := mulChecked(nodes, PoolsPerNode(i))
	if !ok || d == 0 {
		return 0
	}
	return s.Available() / d
}

// EffectiveIdle is the number of idle connections a node really keeps per
// pool: idle connections are a subset of open ones, and ≤ 0 keeps none.
func EffectiveIdle(st Settings) int {
	switch {
	case st.MaxIdle <= 0:
		return 0
	case st.MaxOpen > 0 && st.MaxIdle > st.MaxOpen:
		return st.MaxOpen
	}
	return st.MaxIdle
}
