package check

import (
	"fmt"
	"strings"
)

// Consequence says what happens to Connect when a check's finding is real.
type Consequence string

const (
	// BlocksStart: Connect exits at start or cannot reach its database.
	BlocksStart Consequence = "blocks-start"
	// FailsLater: Connect starts, but fails under load or later (pool
	// larger than max_connections, lock timeouts too short, a setting a
	// future release refuses).
	FailsLater Consequence = "fails-under-load-or-later"
	// Hygiene: Connect runs; the finding is about security or tidiness.
	Hygiene Consequence = "hygiene"
)

func (c Consequence) rank() int {
	switch c {
	case BlocksStart:
		return 3
	case FailsLater:
		return 2
	case Hygiene:
		return 1
	}
	return 0
}

// consequences gives every check its consequence, keyed by check ID. A
// check may instead set Check.Consequence, and one outcome may override
// both (a key readable by others is hygiene, two keys block the start).
// TestEveryCheckHasConsequence keeps this table complete.
var consequences = map[string]Consequence{
	// Offline, whole config.
	"config.provider":       BlocksStart,
	"config.inline-comment": BlocksStart,
	"config.migration-file": FailsLater,
	"config.environment":    Hygiene,
	"pool.max-open":         FailsLater,
	"pool.max-idle":         Hygiene,
	"pool.pooler":           FailsLater,
	"pool.max-lifetime":     BlocksStart,
	"azure.principal":       BlocksStart,
	"secret.key":            BlocksStart,
	// Offline, per URL.
	"url.parse":             BlocksStart,
	"url.placeholder":       BlocksStart,
	"url.encoding":          BlocksStart,
	"url.inline-password":   Hygiene,
	"url.password-conflict": Hygiene,
	"secret.password":       BlocksStart,
	"url.sslmode":           Hygiene,
	"url.hosted-ssl":        Hygiene,
	"url.ssl-files":         BlocksStart,
	"url.client-cert":       BlocksStart,
	"url.cert-user":         BlocksStart,
	"url.search-path":       BlocksStart,
	// Live.
	"pg.connect":           BlocksStart,
	"pg.tls":               BlocksStart,
	"pg.version":           BlocksStart,
	"pg.read-write":        BlocksStart,
	"pg.encoding":          FailsLater,
	"pg.schema":            BlocksStart,
	"pg.privileges":        BlocksStart,
	"pg.timeouts":          FailsLater,
	"pool.max-connections": FailsLater,
	"pg.upgrade-lock":      BlocksStart,
	"pg.latency":           FailsLater,
	// Poolers: Connect starts, but a transaction pooler loses its upgrade
	// lock, and a dropped options parameter puts its tables in another
	// schema.
	"pg.pooler":      FailsLater,
	"pg.search-path": FailsLater,
}

// consequenceOf returns c's consequence. A check missing from the table
// (a new one) counts as FailsLater, so that it never claims on its own
// that Connect would not start.
func (c Check) consequenceOf() Consequence {
	if c.Consequence != "" {
		return c.Consequence
	}
	if k, ok := consequences[c.ID]; ok {
		return k
	}
	return FailsLater
}

// Verdict is the one-line conclusion of a report.
type Verdict struct {
	// Consequence is the strongest consequence among the failures (with
	// --strict, the warnings too); "" when nothing failed.
	Consequence Consequence `json:"consequence,omitempty"`
	// Summary is the sentence the text report ends with.
	Summary string `json:"summary"`
}

// sqliteIrrelevant reports whether a result says nothing about a Connect
// that runs on SQLite: the PostgreSQL URL, pool and Azure checks.
func sqliteIrrelevant(res Result) bool {
	if res.Target != ScopeConfig {
		return true
	}
	return res.ID == "config.provider" || strings.HasPrefix(res.ID, "pool.") || strings.HasPrefix(res.ID, "azure.") ||
		res.ID == "config.inline-comment" && res.Consequence != BlocksStart
}

// Verdict says what Connect would do, naming the strongest true
// consequence: "would not start" only when a check that blocks the start
// failed.
func (r *Report) Verdict(strict bool) Verdict {
	code := r.ExitCode(strict)
	if r.InputError != "" {
		return Verdict{Summary: "connectdb could not use its input (exit 2): " + r.InputError}
	}
	worst := Consequence("")
	var worstID string
	sqlite := r.Provider == "sqlite"
	for _, res := range r.Results {
		counts := res.Status == Fail || strict && res.Status == Warn
		if !counts || sqlite && sqliteIrrelevant(res) {
			continue
		}
		if res.Consequence.rank() > worst.rank() {
			worst, worstID = res.Consequence, res.ID
		}
	}
	v := Verdict{Consequence: worst}
	c := r.Counts()
	switch {
	case sqlite && worst != BlocksStart:
		v.Summary = "Connect runs, on SQLite: Database.Provider is sqlite, so it does not use PostgreSQL; the PostgreSQL findings above matter once you switch."
		if code == 0 {
			v.Summary = "Connect runs, on SQLite: Database.Provider is sqlite, so it does not use PostgreSQL."
		}
	case code == 3:
		v.Summary = "no database could be reached: Connect would not start unless it reaches its database from its own host."
	case worst == BlocksStart:
		v.Summary = "Connect would not start with this configuration (" + worstID + "); fix the failures above."
	case worst == FailsLater:
		v.Summary = "Connect would start, but could fail under load or later (" + worstID + "); fix the failures above."
	case worst == Hygiene:
		v.Summary = "Connect would start; the failures above are hygiene (security or tidiness), not outages."
	case !r.live:
		v.Summary = "no offline finding stops Connect; the live checks did not run, so this does not prove that Connect reaches its database."
	case c[Warn] > 0:
		v.Summary = fmt.Sprintf("Connect would start; see the %s above.", countWarnings(c[Warn]))
	default:
		v.Summary = "Connect would start with this configuration."
	}
	if strict && c[Fail] == 0 && c[Warn] > 0 && code == 1 {
		v.Summary = "warnings fail the check (--strict): " + v.Summary
	}
	return v
}
