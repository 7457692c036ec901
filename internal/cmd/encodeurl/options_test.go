package encodeurl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/dsn"
)

// TestUsageErrors: every bad combination of flags is a one-line usage error
// (exit 2) that names the flag and the fix.
func TestUsageErrors(t *testing.T) {
	base := func(f func(*EncodeURLOptions)) EncodeURLOptions {
		o := EncodeURLOptions{User: "connect", Host: "db.example.com", Database: "connect"}
		f(&o)
		return o
	}
	tests := []struct {
		name string
		opts EncodeURLOptions
		want string
	}{
		{"no user", base(func(o *EncodeURLOptions) { o.User = "" }), "--user is required"},
		{"empty host", base(func(o *EncodeURLOptions) { o.Host = "" }), "--host is required"},
		{"blank host", base(func(o *EncodeURLOptions) { o.Host = "  " }), "--host is required"},
		{"URL as host", base(func(o *EncodeURLOptions) { o.Host = "mysql://db.example.com" }), "--host takes a host name, not a URL"},
		{"host with port", base(func(o *EncodeURLOptions) { o.Host = "db:5432" }), "--port"},
		{"host with slash", base(func(o *EncodeURLOptions) { o.Host = "db/x" }), "single host name"},
		{"bad port", base(func(o *EncodeURLOptions) { o.Port = 70000 }), "--port 70000 is not a TCP port"},
		{"bad sslmode", base(func(o *EncodeURLOptions) { o.SSLMode = "on" }), `--sslmode "on" is not a PostgreSQL sslmode`},
		{"param without =", base(func(o *EncodeURLOptions) { o.Params = []string{"novalue"} }), "is not key=value"},
		{"password param", base(func(o *EncodeURLOptions) { o.Params = []string{"password=x"} }), "never from a parameter"},
		{"sslmode param", base(func(o *EncodeURLOptions) { o.Params = []string{"SSLMode=require"} }), "use --sslmode"},
		{"options and schema", base(func(o *EncodeURLOptions) { o.Schema, o.Params = "s", []string{"options=-cx=y"} }), "both set the options parameter"},
		{"duplicate param", base(func(o *EncodeURLOptions) { o.Params = []string{"a=1", "A=2"} }), "given twice"},
		{"two password sources", base(func(o *EncodeURLOptions) { o.PasswordStdin, o.NoPassword = true, true }), "at most one of"},
		{"missing password file", base(func(o *EncodeURLOptions) {}), "password file /nonexistent/pw not found"},
		{"show-password without check", base(func(o *EncodeURLOptions) { o.ShowPassword = true }), "--show-password applies only to --check"},
		{"inline without gcfg", base(func(o *EncodeURLOptions) { o.InlinePassword = true }), "--inline-password applies only to --gcfg"},
		{"fips without gcfg", base(func(o *EncodeURLOptions) { o.FIPS = true }), "--fips applies only to --gcfg"},
		{"fips without key", base(func(o *EncodeURLOptions) { o.GCfg, o.FIPS = true, true }), "--fips needs Connect's secret key"},
		{"fips with inline", base(func(o *EncodeURLOptions) { o.GCfg, o.FIPS, o.InlinePassword = true, true, true }), "does not apply with --inline-password"},
		{"check with build flags", EncodeURLOptions{CheckSet: true, Check: "postgres://h/d", User: "x"}, "--user builds a URL and cannot be combined with --check"},
		{"empty check", EncodeURLOptions{CheckSet: true, Check: " "}, "--check needs the URL"},
		{"check unsupported scheme", EncodeURLOptions{CheckSet: true, Check: "mysql://u@h/d"}, "supports postgres:// and postgresql://"},
		{"check not a URL", EncodeURLOptions{CheckSet: true, Check: "host=db user=connect"}, "has no scheme"},
		{"check empty host", EncodeURLOptions{CheckSet: true, Check: "postgres:///connect"}, "the URL names no host"},
		{"check empty stdin", EncodeURLOptions{CheckSet: true, Check: "-"}, "stdin holds no URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runOpts(t, tt.opts, "", func(f *cmdutil.Factory) {
				if tt.name == "missing password file" {
					f.Globals.PasswordFile = "/nonexistent/pw"
				}
			})
			if r.code != cmdutil.ExitUsage {
				t.Fatalf("exit %d, want 2 (err %v)", r.code, r.err)
			}
			msg := r.err.Error()
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line containing %q", msg, tt.want)
			}
		})
	}
}

// TestUnsupportedOutput: only text and json.
func TestUnsupportedOutput(t *testing.T) {
	r := runOpts(t, EncodeURLOptions{User: "u", Host: "h"}, "", withOutput("junit"))
	if r.code != cmdutil.ExitUsage || !strings.Contains(r.err.Error(), "use one of: text, json") {
		t.Fatalf("got exit %d, err %v", r.code, r.err)
	}
}

// TestPrompt: on a terminal the password is asked twice without echo; an
// empty answer means no password; different answers are an error.
func TestPrompt(t *testing.T) {
	tty := func(f *cmdutil.Factory) { f.IO.SetTTY(true, false, false) }
	answers := func(a ...string) func(string) (string, error) {
		return func(prompt string) (string, error) {
			if len(a) == 0 {
				return "", errors.New("no more answers")
			}
			s := a[0]
			a = a[1:]
			return s, nil
		}
	}
	o := EncodeURLOptions{User: "connect", Host: "h", Database: "d", ReadSecret: answers("p@ss w", "p@ss w")}
	r := runOpts(t, o, "", tty)
	if r.err != nil || pgxParse(t, strings.TrimSpace(r.out)).Password != "p@ss w" {
		t.Fatalf("out %q err %v", r.out, r.err)
	}

	o.ReadSecret = answers("")
	r = runOpts(t, o, "", tty)
	if r.err != nil || strings.TrimSpace(r.out) != "postgres://connect@h/d" {
		t.Fatalf("empty answer: out %q err %v", r.out, r.err)
	}

	o.ReadSecret = answers("one", "two")
	r = runOpts(t, o, "", tty)
	if r.code != cmdutil.ExitUsage || !strings.Contains(r.err.Error(), "the two passwords differ") {
		t.Fatalf("mismatch: exit %d err %v", r.code, r.err)
	}

	// Without a terminal, no prompt and no password.
	o.ReadSecret = func(string) (string, error) { t.Fatal("prompted without a terminal"); return "", nil }
	r = runOpts(t, o, "ignored stdin\n", nil)
	if r.err != nil || strings.TrimSpace(r.out) != "postgres://connect@h/d" {
		t.Fatalf("no tty: out %q err %v", r.out, r.err)
	}

	// --no-password on a terminal does not prompt either.
	o.NoPassword = true
	r = runOpts(t, o, "", tty)
	if r.err != nil || strings.TrimSpace(r.out) != "postgres://connect@h/d" {
		t.Fatalf("--no-password: out %q err %v", r.out, r.err)
	}
}

// TestPasswordFlagWarns: --password works but warns that argv is visible.
func TestPasswordFlagWarns(t *testing.T) {
	r := runOpts(t, EncodeURLOptions{User: "u", Host: "h", Password: "pw#1", PasswordSet: true}, "", nil)
	if r.err != nil || pgxParse(t, strings.TrimSpace(r.out)).Password != "pw#1" {
		t.Fatalf("out %q err %v", r.out, r.err)
	}
	if !strings.Contains(r.errOut, "visible to other users") && !strings.Contains(r.errOut, "other users can see it via ps") {
		t.Errorf("no ps warning on stderr: %q", r.errOut)
	}
	if strings.Contains(r.errOut, "pw#1") {
		t.Errorf("the warning shows the password: %q", r.errOut)
	}
}

// TestTTYNote: a URL with a password printed to a terminal comes with a
// note recommending the Password setting; piped output has no note.
func TestTTYNote(t *testing.T) {
	o := EncodeURLOptions{User: "u", Host: "h", Database: "d", PasswordStdin: true}
	r := runOpts(t, o, "pw\n", func(f *cmdutil.Factory) { f.IO.SetTTY(false, true, true) })
	if !strings.Contains(r.errOut, "contains the password") || !strings.Contains(r.errOut, "Postgres.Password") {
		t.Errorf("stderr %q lacks the note", r.errOut)
	}
	r = runOpts(t, o, "pw\n", nil)
	if r.errOut != "" {
		t.Errorf("piped output has stderr %q", r.errOut)
	}
}

// TestNULPassword is refused: PostgreSQL cannot store it and pgx rejects %00.
func TestNULPassword(t *testing.T) {
	r := runOpts(t, EncodeURLOptions{User: "u", Host: "h", PasswordStdin: true}, "a\x00b\n", nil)
	if r.code != cmdutil.ExitUsage || !strings.Contains(r.err.Error(), "NUL") {
		t.Fatalf("exit %d err %v", r.code, r.err)
	}
}

func TestSchemaOption(t *testing.T) {
	for schema, want := range map[string]string{
		"connect_schema": "-csearch_path=connect_schema",
		"s1$":            "-csearch_path=s1$",
		"Connect":        `-csearch_path="Connect"`,
		"my schema":      `-csearch_path="my\ schema"`,
		`a"b`:            `-csearch_path="a""b"`,
		`back\slash`:     `-csearch_path="back\\slash"`,
		"1abc":           `-csearch_path="1abc"`,
		"é":              `-csearch_path="é"`,
	} {
		if got := SchemaOption(schema); got != want {
			t.Errorf("SchemaOption(%q) = %q, want %q", schema, got, want)
		}
	}
	// dsn reads the plain form back, as Connect's guide writes it.
	if s, ok := dsn.SearchPath(SchemaOption("connect_schema")); !ok || s != "connect_schema" {
		t.Errorf("dsn.SearchPath = %q, %v", s, ok)
	}
}

func TestCheckHost(t *testing.T) {
	for in, want := range map[string]string{
		"db.example.com": "db.example.com", "10.0.0.1": "10.0.0.1", "::1": "::1", "[fe80::1]": "fe80::1",
	} {
		got, err := checkHost(in)
		if err != nil || got != want {
			t.Errorf("checkHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	r := runOpts(t, EncodeURLOptions{User: "u", Host: "::1", Port: 5433, Database: "d"}, "", nil)
	if strings.TrimSpace(r.out) != "postgres://u@[::1]:5433/d" {
		t.Errorf("IPv6 URL = %q", r.out)
	}
	// Non-ASCII host and database names come back unchanged.
	r = runOpts(t, EncodeURLOptions{User: "u", Host: "dé.example.com", Database: "conn/ect?#é"}, "", nil)
	if cfg := pgxParse(t, strings.TrimSpace(r.out)); cfg.Host != "dé.example.com" || cfg.Database != "conn/ect?#é" {
		t.Errorf("pgx read host %q database %q from %s", cfg.Host, cfg.Database, r.out)
	}
}

// TestOffsetMap: carets outside the password are exact; every offset inside
// it, even for passwords that start or end with the mark's letter, points at
// the start of "xxxxx".
func TestOffsetMap(t *testing.T) {
	for _, pw := range []string{"ab@cd", "x@y", "xxxxxx@", "@xx", "xxxxx#x", "x", "a#bx"} {
		raw := "postgres://ux:" + pw + "@db/x?sslmode=require"
		redacted := dsn.Redact(raw)
		if redacted != "postgres://ux:xxxxx@db/x?sslmode=require" {
			t.Fatalf("Redact(%q) = %q", raw, redacted)
		}
		m := newOffsetMap(raw, redacted)
		start := len("postgres://ux:")
		for off := 0; off < len(raw); off++ {
			got := m.redactedOffset(off)
			switch {
			case off < start:
				if got != off {
					t.Errorf("pw %q: offset %d (user) -> %d", pw, off, got)
				}
			case off < start+len(pw):
				if got != start {
					t.Errorf("pw %q: offset %d (password) -> %d, want %d", pw, off, got, start)
				}
			default:
				if want := off - len(pw) + len("xxxxx"); got != want || redacted[got] != raw[off] {
					t.Errorf("pw %q: offset %d (after) -> %d, want %d", pw, off, got, want)
				}
			}
		}
		if o := m.shownOffset(dsn.Diagnosis{Field: "password", Offset: start + len(pw) - 1}); o != start {
			t.Errorf("pw %q: shown offset %d, want %d", pw, o, start)
		}
	}
	// Columns count characters, not bytes, and control characters are shown
	// as U+FFFD.
	m := newOffsetMap("postgres://é\x1b@h/d", "postgres://é\x1b@h/d")
	if m.column(len("postgres://é")) != len("postgres://")+1 || strings.ContainsRune(m.display, 0x1b) {
		t.Errorf("column %d, display %q", m.column(len("postgres://é")), m.display)
	}
}

// TestCheckArgvWarning: a password in a URL on the command line draws a
// warning; the same URL on stdin does not.
func TestCheckArgvWarning(t *testing.T) {
	u := "postgres://connect:secret@db.example.com/connect"
	r := runOpts(t, EncodeURLOptions{Check: u, CheckSet: true}, "", nil)
	if !strings.Contains(r.errOut, "--check -") || strings.Contains(r.errOut, "secret") {
		t.Errorf("argv: stderr %q", r.errOut)
	}
	r = runOpts(t, EncodeURLOptions{Check: "-", CheckSet: true}, u+"\n", nil)
	if r.errOut != "" || r.code != 0 {
		t.Errorf("stdin: exit %d stderr %q", r.code, r.errOut)
	}
	// On a terminal, --check - reads the URL without echo.
	r = runOpts(t, EncodeURLOptions{Check: "-", CheckSet: true, ReadSecret: func(string) (string, error) { return u, nil }}, "",
		func(f *cmdutil.Factory) { f.IO.SetTTY(true, false, false) })
	if r.code != 0 || !strings.Contains(r.out, "No problems found") {
		t.Errorf("tty: exit %d out %q", r.code, r.out)
	}
}

// TestPasswordFile: --password-file's first line is the password.
func TestPasswordFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(path, []byte("p@ss#w!$%/?:word é\nsecond\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runOpts(t, EncodeURLOptions{User: "u", Host: "h", Database: "d"}, "", func(f *cmdutil.Factory) { f.Globals.PasswordFile = path })
	if r.err != nil || pgxParse(t, strings.TrimSpace(r.out)).Password != "p@ss#w!$%/?:word é" {
		t.Fatalf("out %q err %v", r.out, r.err)
	}
	r = runOpts(t, EncodeURLOptions{User: "u", Host: "h", PasswordStdin: true}, "x\n", func(f *cmdutil.Factory) { f.Globals.PasswordFile = path })
	if r.code != cmdutil.ExitUsage {
		t.Fatalf("--password-file with --password-stdin: exit %d", r.code)
	}
}

// TestPasswordStdinOnTerminal: --password-stdin typed at a terminal is read
// without echo.
func TestPasswordStdinOnTerminal(t *testing.T) {
	prompted := false
	o := EncodeURLOptions{User: "u", Host: "h", PasswordStdin: true,
		ReadSecret: func(string) (string, error) { prompted = true; return "typed#pw", nil }}
	r := runOpts(t, o, "", func(f *cmdutil.Factory) { f.IO.SetTTY(true, false, false) })
	if r.err != nil || !prompted || pgxParse(t, strings.TrimSpace(r.out)).Password != "typed#pw" {
		t.Fatalf("prompted %v out %q err %v", prompted, r.out, r.err)
	}
}
