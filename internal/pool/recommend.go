package pool

import (
	"fmt"
	"time"
)

// Recommendation is the per-node [Database] block connectdb suggests, each
// value with a one-line reason.
type Recommendation struct {
	MaxOpen        int           `json:"max_open_connections"`
	MaxIdle        int           `json:"max_idle_connections"`
	MaxLifetime    time.Duration `json:"-"`
	OpenReason     string        `json:"max_open_reason"`
	IdleReason     string        `json:"max_idle_reason"`
	LifetimeReason string        `json:"max_lifetime_reason"`
	// WorstCase is nodes × MaxOpen × pools for the recommendation.
	WorstCase int `json:"worst_case"`
	// Feasible is false when not even one connection per pool fits; MaxOpen
	// is then 1 and RequiredMaxConnections says what the server needs.
	Feasible bool `json:"feasible"`
	// DesiredOpen is what the admin asked for (--target-open, else the
	// current MaxOpenConnections, else the default).
	DesiredOpen int `json:"desired_open"`
	// RequiredMaxConnections is the max_connections the server needs for
	// DesiredOpen on every node (0 when it cannot be counted).
	RequiredMaxConnections int `json:"required_max_connections"`
	// RaiseMaxConnections is true when the server's max_connections is
	// below RequiredMaxConnections.
	RaiseMaxConnections bool `json:"raise_max_connections"`
}

// Recommend sizes the pools of every node so that the cluster fits the
// server. It assumes in.Validate() passed.
func Recommend(in Input) Recommendation {
	r := Recommendation{DesiredOpen: desiredOpen(in)}
	pools := PoolsPerNode(in.Instrumentation)
	budget := PerNodeBudget(in.Nodes, in.Instrumentation, in.Server)
	if req, ok := RequiredMaxConnections(in.Nodes, r.DesiredOpen, in.Instrumentation, in.Server); ok {
		r.RequiredMaxConnections = req
		r.RaiseMaxConnections = req > in.Server.MaxConnections
	} else {
		r.RaiseMaxConnections = true
	}
	avail := in.Server.Available()
	share := fmt.Sprintf("%d available / (%s × %d %s)", avail, nodes(in.Nodes), pools, plural(pools, "pool", "pools"))

	switch {
	case budget >= r.DesiredOpen:
		r.MaxOpen, r.Feasible = r.DesiredOpen, true
		r.OpenReason = fmt.Sprintf("%d %s: %s allows up to %d per node", r.DesiredOpen, desiredSource(in), share, budget)
	case budget >= 1:
		r.MaxOpen, r.Feasible = budget, true
		r.OpenReason = fmt.Sprintf("%d is the most that fits (%s); %d per node needs max_connections = %s", budget, share, r.DesiredOpen, requiredText(r.RequiredMaxConnections))
	default:
		r.MaxOpen, r.Feasible = 1, false
		min1, _ := RequiredMaxConnections(in.Nodes, 1, in.Instrumentation, in.Server)
		r.OpenReason = fmt.Sprintf("not even 1 per pool fits (%s); raise max_connections to at least %s", share, requiredText(min1))
	}
	r.WorstCase, _ = WorstCase(in.Nodes, r.MaxOpen, in.Instrumentation)
	r.MaxIdle, r.IdleReason = recommendIdle(in, r)
	r.MaxLifetime, r.LifetimeReason = recommendLifetime(in.Current)
	return r
}

func desiredOpen(in Input) int {
	switch {
	case in.TargetOpen > 0:
		return in.TargetOpen
	case in.Current.MaxOpen > 0:
		return in.Current.MaxOpen
	}
	return DefaultMaxOpen
}

func desiredSource(in Input) string {
	switch {
	case in.TargetOpen > 0:
		return "as asked by --target-open"
	case in.Current.MaxOpen > 0:
		return "(the current value)"
	}
	return "(Connect's default)"
}

func requiredText(n int) string {
	if n <= 0 {
		return "more than can be counted"
	}
	return fmt.Sprint(n)
}

// IdleFloor is the least idle count worth keeping on a direct connection for
// a pool of maxOpen: the default of 5, or half the pool when it is larger
// (idle and open grow together), never above maxOpen.
func IdleFloor(maxOpen int) int {
	return min(maxOpen, max(DefaultMaxIdle, (maxOpen+1)/2))
}

func recommendIdle(in Input, r Recommendation) (int, string) {
	switch {
	case in.Pooler == PoolerSession:
		return 0, "0 behind a session-mode pooler: an idle client connection holds a server slot, so release it as soon as it goes idle"
	case !r.Feasible:
		return 0, "0 because the server cannot hold even one connection per pool: release each connection as soon as it goes idle"
	}
	floor := IdleFloor(r.MaxOpen)
	cur := in.Current.MaxIdle
	switch {
	case cur >= floor && cur <= r.MaxOpen:
		return cur, fmt.Sprintf("%d, the current value: at least %d and no more than MaxOpenConnections = %d", cur, floor, r.MaxOpen)
	case cur > r.MaxOpen:
		return r.MaxOpen, fmt.Sprintf("%d, lowered to MaxOpenConnections: idle connections are a subset of open ones, so more has no effect", r.MaxOpen)
	}
	why := "on a direct connection"
	if in.Pooler == PoolerTransaction {
		why = "behind a transaction-mode pooler (idle client connections hold no server slot)"
	}
	if floor < DefaultMaxIdle {
		return floor, fmt.Sprintf("%d, equal to MaxOpenConnections: keep idle connections for reuse %s", floor, why)
	}
	return floor, fmt.Sprintf("%d: keep at least the default of %d, or half of MaxOpenConnections when larger, idle for reuse %s", floor, DefaultMaxIdle, why)
}

func recommendLifetime(cur Settings) (time.Duration, string) {
	switch {
	case !cur.LifetimeSet:
		return GuideLifetime, fmt.Sprintf("%s, the value in Connect's guide: connections are recycled regularly, so they follow a failover or a pooler restart", FormatDuration(GuideLifetime))
	case cur.MaxLifetime >= minSensibleLifetime && cur.MaxLifetime <= maxSensibleLifetime:
		return cur.MaxLifetime, fmt.Sprintf("%s, the current value: between %s and %s", FormatDuration(cur.MaxLifetime), FormatDuration(minSensibleLifetime), FormatDuration(maxSensibleLifetime))
	case cur.MaxLifetime <= 0:
		return GuideLifetime, fmt.Sprintf("%s, the value in Connect's guide: %s never recycles connections, so they do not follow a failover", FormatDuration(GuideLifetime), FormatDuration(cur.MaxLifetime))
	case cur.MaxLifetime < minSensibleLifetime:
		return GuideLifetime, fmt.Sprintf("%s, the value in Connect's guide: %s reconnects so often that busy nodes pay the connection cost again and again", FormatDuration(GuideLifetime), FormatDuration(cur.MaxLifetime))
	}
	return GuideLifetime, fmt.Sprintf("%s, the value in Connect's guide: %s keeps connections so long that they are slow to follow a failover", FormatDuration(GuideLifetime), FormatDuration(cur.MaxLifetime))
}

// Plan is the whole answer for one input.
type Plan struct {
	Evaluation     Evaluation     `json:"evaluation"`
	Recommendation Recommendation `json:"recommendation"`
}

// Size evaluates the current settings and recommends new ones.
func Size(in Input) Plan {
	return Plan{Evaluation: Evaluate(in), Recommendation: Recommend(in)}
}

// SweepRow is one line of a capacity-planning sweep.
type SweepRow struct {
	Nodes                  int  `json:"nodes"`
	WorstCase              int  `json:"worst_case"` // with the current MaxOpenConnections
	Bounded                bool `json:"bounded"`
	Available              int  `json:"available"`
	Fits                   bool `json:"fits"`
	RecommendedOpen        int  `json:"recommended_max_open"`
	RecommendedIdle        int  `json:"recommended_max_idle"`
	Feasible               bool `json:"feasible"`
	RequiredMaxConnections int  `json:"required_max_connections"` // for the desired MaxOpen
}

// Sweep sizes the cluster for 1..in.Nodes nodes.
func Sweep(in Input) []SweepRow {
	rows := make([]SweepRow, 0, max(in.Nodes, 0))
	for n := 1; n <= in.Nodes; n++ {
		step := in
		step.Nodes = n
		ev, rec := Evaluate(step), Recommend(step)
		rows = append(rows, SweepRow{
			Nodes: n, WorstCase: ev.WorstCase, Bounded: ev.Bounded, Available: ev.Available, Fits: ev.Fits,
			RecommendedOpen: rec.MaxOpen, RecommendedIdle: rec.MaxIdle, Feasible: rec.Feasible,
			RequiredMaxConnections: rec.RequiredMaxConnections,
		})
	}
	return rows
}
