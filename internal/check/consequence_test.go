package check

import (
	"strings"
	"testing"
)

// TestEveryCheckHasConsequence keeps the consequences table complete: a
// check added without an entry fails here (at run time it would count as
// fails-under-load-or-later, never as blocking the start).
func TestEveryCheckHasConsequence(t *testing.T) {
	for _, c := range Registry() {
		if _, ok := consequences[c.ID]; !ok && c.Consequence == "" {
			t.Errorf("check %s has no consequence: add it to the consequences table in consequence.go", c.ID)
		}
	}
	ids := map[string]bool{}
	for _, id := range IDs() {
		ids[id] = true
	}
	for id := range consequences {
		if !ids[id] {
			t.Errorf("consequences lists %s, which is not a registered check", id)
		}
	}
	if (Check{ID: "pg.brand-new"}).consequenceOf() != FailsLater {
		t.Error("an unknown check must not claim to block the start")
	}
}

func TestVerdict(t *testing.T) {
	res := func(id string, st Status, k Consequence) Result {
		target := ScopePrimary
		if !strings.HasPrefix(id, "url.") && !strings.HasPrefix(id, "pg.") {
			target = ScopeConfig
		}
		return Result{ID: id, Status: st, Consequence: k, Target: target}
	}
	tests := []struct {
		name     string
		rep      Report
		strict   bool
		want     Consequence
		summary  string
		exitCode int
	}{
		{"blocking failure", Report{Provider: "postgres", live: true, Results: []Result{
			res("pool.max-connections", Fail, FailsLater), res("pg.schema", Fail, BlocksStart)}},
			false, BlocksStart, "Connect would not start with this configuration (pg.schema)", 1},
		{"load failure only", Report{Provider: "postgres", live: true, Results: []Result{
			res("pool.max-connections", Fail, FailsLater), res("url.sslmode", Warn, Hygiene), res("pg.connect", Pass, BlocksStart)}},
			false, FailsLater, "Connect would start, but could fail under load or later (pool.max-connections)", 1},
		{"a warning of a blocking check is not a failure", Report{Provider: "postgres", live: true, Results: []Result{
			res("pg.upgrade-lock", Warn, BlocksStart), res("pg.connect", Pass, BlocksStart)}},
			false, "", "Connect would start; see the 1 warning above.", 0},
		{"hygiene failure", Report{Provider: "postgres", live: true, Results: []Result{res("config.inline-comment", Fail, Hygiene)}},
			false, Hygiene, "Connect would start; the failures above are hygiene", 1},
		{"strict counts warnings", Report{Provider: "postgres", live: true, Results: []Result{res("url.sslmode", Warn, Hygiene)}},
			true, Hygiene, "warnings fail the check (--strict): Connect would start; the failures above are hygiene", 1},
		{"offline proves less", Report{Provider: "postgres", Results: []Result{res("url.parse", Pass, BlocksStart)}},
			false, "", "no offline finding stops Connect; the live checks did not run", 0},
		{"sqlite runs", Report{Provider: "sqlite", Results: []Result{
			res("config.provider", Fail, BlocksStart), res("url.parse", Fail, BlocksStart), res("pool.max-open", Warn, FailsLater)}},
			false, "", "Connect runs, on SQLite", 1},
		{"sqlite with two keys does not start", Report{Provider: "sqlite", Results: []Result{
			res("config.provider", Fail, BlocksStart), res("secret.key", Fail, BlocksStart)}},
			false, BlocksStart, "Connect would not start with this configuration (secret.key)", 1},
		{"input error wins", Report{Provider: "postgres", InputError: "password file x not found", Results: []Result{res("pg.schema", Fail, BlocksStart)}},
			false, "", "connectdb could not use its input (exit 2): password file x not found", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.rep.Verdict(tc.strict)
			if v.Consequence != tc.want || !strings.Contains(v.Summary, tc.summary) {
				t.Errorf("verdict %+v, want %s and %q", v, tc.want, tc.summary)
			}
			if got := tc.rep.ExitCode(tc.strict); got != tc.exitCode {
				t.Errorf("exit code %d, want %d", got, tc.exitCode)
			}
		})
	}
}
