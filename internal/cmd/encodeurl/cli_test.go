package encodeurl_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/connectdb/connectdb/internal/cmd/root"
	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/iostreams"
)

// cli runs the whole connectdb command line, as main does.
func cli(t *testing.T, env map[string]string, stdin string, args ...string) (code int, out, errOut string) {
	t.Helper()
	io, in, o, e := iostreams.Test()
	in.WriteString(stdin)
	f := cmdutil.NewFactory(io)
	f.Getenv = func(k string) string { return env[k] }
	code = root.Run(context.Background(), f, args)
	return code, o.String(), e.String()
}

// TestCLIBadInput: each bad input is one line on stderr with the fix, exit
// code 2, and never a stack trace.
func TestCLIBadInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.key")
	if err := os.WriteFile(garbage, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short.key")
	if err := os.WriteFile(short, []byte("abcd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	build := []string{"encode-url", "--user", "connect", "--host", "db.example.com", "--database", "connect", "--password-stdin"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unsupported scheme", nil, []string{"encode-url", "--check", "mysql://connect@db.example.com/connect"}, "supports postgres:// and postgresql://"},
		{"empty host in check", nil, []string{"encode-url", "--check", "postgres://connect@/connect"}, "the URL names no host; write the database server's host name"},
		{"empty host flag", nil, []string{"encode-url", "--user", "connect", "--host", "", "--no-password"}, "--host is required"},
		{"missing key file", nil, append(build, "--gcfg", "--secret-key", filepath.Join(dir, "missing.key")), "not found; pass Connect's key file with --secret-key"},
		{"missing key file from env", map[string]string{"CONNECTDB_SECRET_KEY": filepath.Join(dir, "missing.key")}, append(build, "--gcfg"), "not found"},
		{"key path is a directory", nil, append(build, "--gcfg", "--secret-key", dir), "is a directory; pass the key file itself"},
		{"unreadable key contents", nil, append(build, "--gcfg", "--secret-key", garbage), "neither hex nor base64"},
		{"short key", nil, append(build, "--gcfg", "--secret-key", short), "not 512"},
		{"unknown flag", nil, []string{"encode-url", "--pasword-stdin"}, "unknown flag"},
		{"positional argument", nil, []string{"encode-url", "postgres://h/d"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, tt.env, "Sentinel-pw\n", tt.args...)
			if code != cmdutil.ExitUsage {
				t.Errorf("exit %d, want 2 (stderr %q)", code, errOut)
			}
			lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "connectdb: ") || !strings.Contains(last, tt.want) {
				t.Errorf("stderr %q, want a last line 'connectdb: …%s…'", errOut, tt.want)
			}
			for _, bad := range []string{"goroutine", "panic", ".go:", "Sentinel-pw"} {
				if strings.Contains(errOut+out, bad) {
					t.Errorf("output contains %q:\n%s%s", bad, out, errOut)
				}
			}
		})
	}
}

// TestCLIBuildAndCheck: the full command line builds a URL pgx accepts, and
// checking that URL finds nothing wrong.
func TestCLIBuildAndCheck(t *testing.T) {
	code, out, errOut := cli(t, nil, "p@ss#w!$%/?:word é\n", "encode-url", "--user", "connect", "--host", "db.example.com",
		"--port", "5432", "--database", "connect", "--schema", "connect_schema", "--param", "connect_timeout=10", "--password-stdin")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d stderr %q", code, errOut)
	}
	u := strings.TrimSpace(out)
	cfg, err := pgconn.ParseConfig(u)
	if err != nil || cfg.Password != "p@ss#w!$%/?:word é" || cfg.User != "connect" {
		t.Fatalf("pgx: %v", err)
	}
	code, out, _ = cli(t, nil, u+"\n", "encode-url", "--check", "-")
	if code != 0 || !strings.Contains(out, "No problems found") {
		t.Fatalf("check: exit %d\n%s", code, out)
	}
}

// TestHelpMatchesDocs: every flag in --help is documented in
// docs/encode-url.md, and the doc carries the --help examples verbatim.
func TestHelpMatchesDocs(t *testing.T) {
	code, help, _ := cli(t, nil, "", "encode-url", "--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "encode-url.md"))
	if err != nil {
		t.Fatal(err)
	}
	local := help[strings.Index(help, "\nFlags:"):]
	if g := strings.Index(local, "Global Flags:"); g >= 0 {
		local = local[:g]
	}
	for _, line := range strings.Split(local, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "--") {
			flag := strings.Fields(line)[0]
			if !bytes.Contains(doc, []byte("`"+flag)) {
				t.Errorf("docs/encode-url.md does not document %s", flag)
			}
		}
	}
	i := strings.Index(help, "Examples:\n")
	j := strings.Index(help, "\nFlags:")
	if i < 0 || j < i {
		t.Fatalf("no examples in --help:\n%s", help)
	}
	for _, ex := range strings.Split(strings.TrimSpace(help[i+len("Examples:\n"):j]), "\n") {
		if ex = strings.TrimSpace(ex); ex != "" && !bytes.Contains(doc, []byte(ex)) {
			t.Errorf("docs/encode-url.md lacks the --help example line %q", ex)
		}
	}
}
