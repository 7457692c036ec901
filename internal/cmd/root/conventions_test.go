package root

import (
	"strings"
	"testing"
)

// TestOutputFormatsListed: every "--output X is not supported" lists
// exactly the formats that command takes.
func TestOutputFormatsListed(t *testing.T) {
	for cmd, formats := range map[string]string{
		"check":         "text, json, junit, github, nagios",
		"encode-url":    "text, json",
		"size-pool":     "text, json, gcfg",
		"show-locks":    "text, json, nagios",
		"release-locks": "text, json",
		"migrate":       "text, json",
		"version":       "text, json",
	} {
		code, _, errOut := run(t, map[string]string{}, cmd, "--output", "yaml")
		want := `--output "yaml" is not supported by this command; use one of: ` + formats + "\n"
		if code != 2 || !strings.HasSuffix(errOut, want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", cmd, code, errOut, want)
		}
	}
}

// TestHelpListsHonouredGlobals: a command's help shows only the global
// flags it reads, and hiding them for one help does not hide them for the
// next.
func TestHelpListsHonouredGlobals(t *testing.T) {
	for _, tt := range []struct {
		cmd           string
		want, without []string
	}{
		{"version", []string{"--output"}, []string{"--url", "--config", "--timeout", "--password-file"}},
		{"encode-url", []string{"--password-file", "--secret-key"}, []string{"--url", "--config", "--timeout", "--instrumentation-url"}},
		{"show-locks", []string{"--url", "--config", "--timeout", "--password-file"}, []string{"--instrumentation-url"}},
		{"check", []string{"--url", "--config", "--env-file", "--instrumentation-url", "--secret-key"}, nil},
		{"version", []string{"--output"}, []string{"--url"}},
	} {
		code, out, _ := run(t, nil, tt.cmd, "--help")
		if code != 0 {
			t.Fatalf("%s --help: exit %d", tt.cmd, code)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w+" ") {
				t.Errorf("%s --help lacks %s", tt.cmd, w)
			}
		}
		for _, w := range tt.without {
			if strings.Contains(out, w+" ") {
				t.Errorf("%s --help lists %s, which it ignores", tt.cmd, w)
			}
		}
	}
}

// TestUnknownCheckSuggests: a mistyped check ID gets "did you mean".
func TestUnknownCheckSuggests(t *testing.T) {
	code, _, errOut := run(t, map[string]string{}, "check", "--offline", "--only", "pg.conect")
	if code != 2 || !strings.Contains(errOut, "unknown check ID pg.conect; did you mean pg.connect?") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
