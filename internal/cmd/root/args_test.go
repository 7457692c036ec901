package root

import (
	"strings"
	"testing"
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
