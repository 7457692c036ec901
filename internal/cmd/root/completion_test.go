package root

import (
	"slices"
	"strings"
	"testing"
)

// complete runs cobra's hidden __complete command the way the shell scripts
// do and returns the candidates (the last line is the directive).
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	code, out, errOut := run(t, nil, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %q: exit %d, stderr %q", args, code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var vals []string
	for _, l := range lines {
		if strings.HasPrefix(l, ":") {
			break
		}
		vals = append(vals, strings.SplitN(l, "\t", 2)[0])
	}
	return vals
}

func TestFlagValueCompletion(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"check", "--output", ""}, []string{"text", "json", "junit", "github", "nagios"}},
		{[]string{"size-pool", "--output", ""}, []string{"text", "json", "gcfg"}},
		{[]string{"version", "-o", ""}, []string{"text", "json"}},
		{[]string{"check", "--pooler", ""}, []string{"none", "session", "transaction"}},
		{[]string{"size-pool", "--pooler", ""}, []string{"none", "session", "transaction"}},
		{[]string{"migrate", "--data", ""}, []string{"core", "instrumentation", "all"}},
		{[]string{"encode-url", "--sslmode", ""}, []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}},
		{[]string{"check", "--config", ""}, []string{"gcfg"}},
	}
	for _, tt := range tests {
		if got := complete(t, tt.args...); !slices.Equal(got, tt.want) {
			t.Errorf("complete %q = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestCheckIDCompletion(t *testing.T) {
	got := complete(t, "check", "--only", "")
	for _, want := range []string{"pg.*", "pg.connect", "pg.privileges", "pool.max-connections"} {
		if !slices.Contains(got, want) {
			t.Errorf("check --only completes %q, want it to include %q", got, want)
		}
	}
	// After a comma, the list so far is kept and its items are not offered again.
	got = complete(t, "check", "--skip", "pg.connect,")
	if slices.Contains(got, "pg.connect,pg.connect") || !slices.Contains(got, "pg.connect,pg.privileges") {
		t.Errorf("check --skip pg.connect, completes %q", got)
	}
	// Every completed ID is accepted by check itself.
	for _, id := range complete(t, "check", "--only", "") {
		if _, _, errOut := run(t, nil, "check", "--offline", "--url", "postgres://u@localhost/db", "--only", id); strings.Contains(errOut, "unknown check ID") {
			t.Errorf("check --only %s: %s", id, errOut)
		}
	}
}

// TestOutputCompletionMatchesCommands proves every completed --output value
// is one the command accepts.
func TestOutputCompletionMatchesCommands(t *testing.T) {
	for _, v := range complete(t, "check", "--output", "") {
		if code, _, errOut := run(t, nil, "check", "--list", "--output", v); code != 0 {
			t.Errorf("check --output %s: exit %d: %s", v, code, errOut)
		}
	}
}
