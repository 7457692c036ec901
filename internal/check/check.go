// Package check is connectdb's preflight: a registry of named checks that
// prove Posit Connect will start on a database with a given config, and an
// engine that runs them (offline config checks first, then live checks per
// database target, concurrently) and renders the results.
package check

import (
	"slices"
	"strings"
)

// Status is the outcome of one check.
type Status string

const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Scope says what a result is about.
type Scope string

const (
	ScopeConfig          Scope = "config"
	ScopePrimary         Scope = "primary"
	ScopeInstrumentation Scope = "instrumentation"
)

// Kind says when a check runs.
type Kind int

const (
	// Config checks look at the whole configuration once, offline.
	Config Kind = iota
	// URL checks look at one connection URL (primary, instrumentation), offline.
	URL
	// Live checks need a connection to the target.
	Live
)

func (k Kind) String() string {
	switch k {
	case Config:
		return "config"
	case URL:
		return "url"
	}
	return "live"
}

// Result is what one check found for one scope.
type Result struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Target  Scope  `json:"target"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	Remedy  string `json:"remedy,omitempty"`
	// Cause is the connection failure cause of pg.connect (see
	// internal/connerr), such as "password-authentication-failed".
	Cause   string   `json:"cause,omitempty"`
	Details []string `json:"details,omitempty"`
	// Consequence is what happens to Connect when the finding is real
	// (see consequences); set on every result, passing or not.
	Consequence Consequence `json:"consequence"`
	// Perf holds what the check measured, for --output nagios.
	Perf []Perf `json:"-"`
}

// Outcome is what a check function returns; the engine adds ID, title and scope.
type Outcome struct {
	Status  Status
	Message string
	Remedy  string
	Cause   string
	Details []string
	// consequence, when set, overrides the check's consequence for this
	// outcome.
	consequence Consequence
	Perf        []Perf
	// blocking is true for a skip caused by a failed or skipped
	// prerequisite: checks that need this one are skipped too. A skip
	// because the check does not apply (no client certificate) does not
	// block.
	blocking bool
}

func pass(msg string, details ...string) Outcome {
	return Outcome{Status: Pass, Message: msg, Details: details}
}
func warn(msg, remedy string) Outcome { return Outcome{Status: Warn, Message: msg, Remedy: remedy} }
func fail(msg, remedy string) Outcome { return Outcome{Status: Fail, Message: msg, Remedy: remedy} }
func skip(reason string) Outcome      { return Outcome{Status: Skip, Message: reason, blocking: true} }

// as sets the consequence of one outcome.
func (o Outcome) as(c Consequence) Outcome { o.consequence = c; return o }

// notApplicable skips a check that does not apply; it blocks nothing.
func notApplicable(reason string) Outcome { return Outcome{Status: Skip, Message: reason} }

// Check is one named rule.
type Check struct {
	ID       string
	Title    string
	Verifies string // one sentence for --list and docs
	Kind     Kind
	// Needs lists checks (same scope) that must not fail for this one to
	// mean anything; when one failed or was skipped, this one is skipped.
	Needs []string
	// Consequence overrides the consequences table for this check.
	Consequence Consequence

	config func(in *Input) Outcome
	url    func(u *URLInput) Outcome
	live   func(lc *liveCtx) Outcome
}

// Registry returns every check in run order. The slice is new on each call.
func Registry() []Check {
	all := slices.Concat(configChecks(), urlChecks(), liveChecks())
	return all
}

// IDs returns every check ID, in run order.
func IDs() []string {
	var ids []string
	for _, c := range Registry() {
		ids = append(ids, c.ID)
	}
	return ids
}

// Lookup returns the check with id.
func Lookup(id string) (Check, bool) {
	for _, c := range Registry() {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// Select filters the registry with --only and --skip lists. Entries may end
// in ".*" or "*" to match a prefix ("pg.*"). Unknown IDs are returned.
func Select(only, skipIDs []string) (selected map[string]bool, unknown []string) {
	reg := Registry()
	match := func(pattern, id string) bool {
		if p, ok := strings.CutSuffix(pattern, "*"); ok {
			return strings.HasPrefix(id, p)
		}
		return pattern == id
	}
	known := func(pattern string) bool {
		for _, c := range reg {
			if match(pattern, c.ID) {
				return true
			}
		}
		return false
	}
	for _, p := range slices.Concat(only, skipIDs) {
		if !known(p) {
			unknown = append(unknown, p)
		}
	}
	selected = map[string]bool{}
	for _, c := range reg {
		in := len(only) == 0
		for _, p := range only {
			in = in || match(p, c.ID)
		}
		for _, p := range skipIDs {
			if match(p, c.ID) {
				in = false
			}
		}
		selected[c.ID] = in
	}
	return selected, unknown
}
