package root

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestStrayArgumentsNeverEchoSecrets gives every command a stray argument
// that holds a secret, in every place Cobra or a command quotes one.
func TestStrayArgumentsNeverEchoSecrets(t *testing.T) {
	const secret = "S3cr3tXyzzy"
	cmds := [][]string{{}, {"check"}, {"encode-url"}, {"size-pool"}, {"show-locks"}, {"release-locks"}, {"migrate"}, {"version"}, {"help"}, {"completion", "bash"}}
	strays := []struct {
		arg, shown string
	}{
		{"postgres://connect:" + secret + "@db.example.com/connect", "postgres://connect:xxxxx@db.example.com/connect"},
		{"postgresql://u:" + secret + "@h:5432/db?sslmode=require", "postgresql://u:xxxxx@h:5432/db?sslmode=require"},
		{"host=h password=" + secret, "host=h password=xxxxx"},
		{"connect:" + secret + "@db", "connect:xxxxx@db"},
		{secret, hiddenArg},
		{"p\"" + secret, hiddenArg},
		{secret + "\xff", hiddenArg},
		{"-x" + secret, hiddenArg},
		{"--bogus=" + secret, ""},
		{strings.Repeat("a", 200) + secret, hiddenArg},
	}
	for _, c := range cmds {
		for _, s := range strays {
			args := append(append([]string(nil), c...), s.arg)
			code, out, errOut := run(t, nil, args...)
			name := strings.Join(c, " ") + " " + s.arg
			if code != 2 {
				t.Errorf("%s: exit %d, want 2 (stderr %q)", name, code, errOut)
			}
			if strings.Contains(out+errOut, secret) {
				t.Errorf("%s: output shows the secret:\nstdout %q\nstderr %q", name, out, errOut)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.HasPrefix(errOut, "connectdb: ") {
				t.Errorf("%s: stderr is not one connectdb: line: %q", name, errOut)
			}
			if s.shown != "" && !strings.Contains(errOut, s.shown) && !strings.Contains(errOut, "unknown flag") {
				t.Errorf("%s: stderr %q does not show the argument as %q", name, errOut, s.shown)
			}
		}
	}
}

// TestHarmlessArgumentsAreQuoted checks that typos, hosts, numbers and paths
// are still quoted back, so that the message stays useful.
func TestHarmlessArgumentsAreQuoted(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"chek"}, `unknown command "chek"`},
		{[]string{"check", "db.example.com"}, `"db.example.com"`},
		{[]string{"check", "/etc/rstudio-connect/rstudio-connect.gcfg"}, `"/etc/rstudio-connect/rstudio-connect.gcfg"`},
		{[]string{"size-pool", "--nodes", "three"}, `invalid argument "three" for "--nodes"`},
		{[]string{"check", "--timeout", "10x"}, `invalid argument "10x" for "--timeout"`},
		{[]string{"help", "chek"}, `unknown help topic "chek"`},
	} {
		code, _, errOut := run(t, nil, tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) || strings.Contains(errOut, hiddenArg) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

func TestShownArg(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{"check", "check"}, {"verify-full", "verify-full"}, {"10.0.0.1", "10.0.0.1"}, {"1h30m", "1h30m"},
		{"10,20", "10,20"}, {"./x.gcfg", "./x.gcfg"}, {"--watch", "--watch"},
		{"hunter2", hiddenArg}, {"Password", hiddenArg}, {"a b", hiddenArg}, {"", hiddenArg},
		{"postgres://h/db", hiddenArg}, {"postgres://u:p@h/db", "postgres://u:xxxxx@h/db"},
	} {
		if got, _ := shownArg(tt.in); got != tt.want {
			t.Errorf("shownArg(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestInvalidUTF8 checks that text flags and CONNECTDB_URL with bytes that
// are not UTF-8 are usage errors that quote neither the value nor the raw
// bytes, and that no message carries invalid UTF-8 or control characters.
func TestInvalidUTF8(t *testing.T) {
	const secret = "S3cr3tXyzzy"
	for _, tt := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"encode-url", "--host", "db\xff.example.com", "--user", "u", "--no-password"}, "--host is not valid UTF-8 text (byte 2 is 0xff)"},
		{nil, []string{"encode-url", "--user", "conn\xc3", "--host", "h", "--no-password"}, "--user is not valid UTF-8"},
		{nil, []string{"encode-url", "--check", "postgres://u:" + secret + "@h\xfe/db"}, "--check is not valid UTF-8"},
		{nil, []string{"show-locks", "--url", "postgres://u:" + secret + "@h\xff/db"}, "--url is not valid UTF-8"},
		{nil, []string{"check", "--instrumentation-url", "postgres://u:" + secret + "@h/d\x80b"}, "--instrumentation-url is not valid UTF-8"},
		{map[string]string{"CONNECTDB_URL": "postgres://u:" + secret + "@h\xff/db"}, []string{"show-locks"}, "CONNECTDB_URL is not valid UTF-8"},
		{nil, []string{"check", "--only", "pg.\x01x\xff"}, "--only is not valid UTF-8"},
	} {
		code, out, errOut := run(t, tt.env, tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) || out != "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tt.args, code, errOut, tt.want)
		}
		if strings.Contains(errOut, secret) || !utf8.ValidString(errOut) || strings.ContainsAny(strings.TrimSuffix(errOut, "\n"), "\x00\x01\n\r\x1b") {
			t.Errorf("%q: stderr shows a secret or raw bytes: %q", tt.args, errOut)
		}
	}
	if got := printable("a\x1b[31mb\xffc\td"); got != "a\uFFFD[31mb\uFFFDc\uFFFDd" {
		t.Errorf("printable = %q", got)
	}
}
