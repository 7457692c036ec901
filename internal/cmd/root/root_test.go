package root

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/iostreams"
)

func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	f := cmdutil.NewFactory(io)
	f.Getenv = func(k string) string { return env[k] }
	code := Run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

func TestExitCodesAndMessages(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantCode  int
		wantErr   string
		wantOut   string
		forbidErr string
	}{
		{"help", []string{"--help"}, 0, "", "Usage:", ""},
		{"version flag", []string{"--version"}, 0, "", "connectdb ", ""},
		{"version command", []string{"version"}, 0, "", "commit ", ""},
		{"unknown flag", []string{"--bogus"}, 2, "unknown flag: --bogus; see 'connectdb --help'", "", "goroutine"},
		{"unknown command suggests", []string{"verson"}, 2, `did you mean version`, "", "\n\n"},
		{"extra argument", []string{"version", "x"}, 2, `unknown command "x"`, "", ""},
		{"bad output", []string{"version", "--output", "yaml"}, 2, `--output "yaml" is not supported by this command; use one of: text, json`, "", ""},
		{"bad timeout", []string{"version", "--timeout", "-1s"}, 2, "--timeout must be positive", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, nil, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errOut, tt.wantErr)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout = %q, want it to contain %q", out, tt.wantOut)
			}
			if tt.wantErr != "" && strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("error is not one line: %q", errOut)
			}
			if tt.forbidErr != "" && strings.Contains(errOut, tt.forbidErr) {
				t.Errorf("stderr contains %q: %q", tt.forbidErr, errOut)
			}
		})
	}
}

func TestVersionJSON(t *testing.T) {
	code, out, _ := run(t, nil, "version", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var v map[string]string
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"version", "commit", "go_version"} {
		if v[k] == "" {
			t.Errorf("JSON lacks %q: %s", k, out)
		}
	}
}

func TestEnvironmentFillsGlobals(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	f := cmdutil.NewFactory(io)
	f.Getenv = func(k string) string {
		return map[string]string{"CONNECTDB_CONFIG": "/tmp/x.gcfg", "CONNECTDB_URL": "postgres://h/db", "NO_COLOR": "1"}[k]
	}
	io.SetColorEnabled(true)
	if code := Run(context.Background(), f, []string{"version"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	g := f.Globals
	if g.ConfigPath != "/tmp/x.gcfg" || !g.ConfigExplicit || g.URL != "postgres://h/db" {
		t.Errorf("globals from env not applied: %+v", g)
	}
	if io.ColorEnabled() {
		t.Error("NO_COLOR did not turn colour off")
	}
}
