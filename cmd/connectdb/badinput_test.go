package main_test

// The bad-input corpus: the real connectdb binary, built once, run over
// hundreds of bad inputs (stray arguments, bad URLs and flags, numbers out
// of range, invalid UTF-8, files that are directories, devices, FIFOs,
// empty, binary or one huge line, bad environment values, signals) for
// every command. Each case asserts the documented exit code
// (docs/exit-codes.md), one line on stderr, no panic or stack trace, none of
// the sentinel secrets planted in arguments, environment and files, and a
// bound on the child's CPU time and memory read from its rusage.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// Sentinel secrets: each is planted somewhere and must never be printed.
const (
	secretURL   = "SentUrlPw7q"  // in the password of URLs
	secretFile  = "SentFilePw8r" // in --password-file files
	secretEnv   = "SentEnvPw9s"  // in password environment variables
	secretArg   = "SentArgPw6t"  // as stray arguments and bad flag values
	secretCfg   = "SentCfgPw5u"  // inside config files
	secretAzure = "SentAzurePw4v"
)

var secrets = []string{secretURL, secretFile, secretEnv, secretArg, secretCfg, secretAzure}

// Bounds per case, from the child's rusage (not wall-clock time, which a
// loaded machine stretches).
const (
	maxCPU    = 2 * time.Second
	maxRSSKiB = 200 * 1024
	// hangGuard only stops a case that never ends; it is not an assertion
	// about speed.
	hangGuard = 2 * time.Minute
)

var (
	binary string // the connectdb binary under test
	fx     fixtures
)

// fixtures are the bad files the cases point at.
type fixtures struct {
	dir, empty, garbage, huge, fifo, missing string
	pwFile, pwFileEmpty, pwFileNUL           string
	cfgURL, cfgSecretLine, cfgBadSection     string
	cfgUnterminated, cfgEncrypted, cfgOK     string
	cfgAzure                                 string
	keyGarbage, keyShort                     string
	bigURLFile, manyProblemsFile             string
	envFileSecret                            string
}

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "connectdb-badinput-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(tmp)
		binary = filepath.Join(tmp, "connectdb")
		build := exec.Command("go", "build", "-o", binary, ".")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building connectdb:", err)
			return 1
		}
		if err := makeFixtures(filepath.Join(tmp, "fx")); err != nil {
			fmt.Fprintln(os.Stderr, "fixtures:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func makeFixtures(dir string) error {
	p := func(name string) string { return filepath.Join(dir, name) }
	fx = fixtures{
		dir: p("a-directory"), empty: p("empty"), garbage: p("garbage"), huge: p("huge-line"),
		fifo: p("fifo"), missing: p("missing"),
		pwFile: p("password"), pwFileEmpty: p("password-empty"), pwFileNUL: p("password-nul"),
		cfgURL: p("url.gcfg"), cfgSecretLine: p("secret-line.gcfg"), cfgBadSection: p("bad-section.gcfg"),
		cfgUnterminated: p("unterminated.gcfg"), cfgEncrypted: p("encrypted.gcfg"), cfgOK: p("ok.gcfg"),
		cfgAzure:   p("azure.gcfg"),
		keyGarbage: p("garbage.key"), keyShort: p("short.key"),
		bigURLFile: p("big-url.txt"), manyProblemsFile: p("many-problems.txt"),
		envFileSecret: p("secret.env"),
	}
	if err := os.MkdirAll(fx.dir, 0o755); err != nil {
		return err
	}
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(i*7 + i>>8) // deterministic binary noise, NULs included
	}
	files := map[string]string{
		fx.empty:       "",
		fx.garbage:     string(garbage),
		fx.huge:        strings.Repeat("A", 4<<20),
		fx.pwFile:      secretFile + "\n",
		fx.pwFileEmpty: "\n",
		fx.pwFileNUL:   secretFile + "\x00tail\n",
		fx.cfgURL:      "[Postgres]\nURL = \"postgres://connect:" + secretCfg + "@127.0.0.1:1/connect\"\n",
		// A password file given as --config: its only line is the secret.
		fx.cfgSecretLine:   secretCfg + "\n",
		fx.cfgBadSection:   "[Postgres\nURL = postgres://connect:" + secretCfg + "@h/c\n",
		fx.cfgUnterminated: "[Postgres]\nURL = \"postgres://connect:" + secretCfg + "@h/c\n",
		fx.cfgEncrypted:    "[Database]\nProvider = postgres\n[Postgres]\nURL = \"postgres://connect@127.0.0.1:1/connect\"\nPassword = " + secretCfg + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		fx.cfgOK:           "[Database]\nProvider = postgres\n[Postgres]\nURL = \"postgres://connect@127.0.0.1:1/connect\"\n",
		fx.cfgAzure:        "[Postgres]\nURL = \"postgres://connect@127.0.0.1:1/connect\"\nAzureTenantID = 72f988bf-86f1-41af-91ab-2d7cd011db47\nAzureClientID = 0e3a5f4c-1b2d-4c6e-8f9a-0b1c2d3e4f5a\nAzureClientSecret = " + secretAzure + "\n",
		fx.keyGarbage:      string(garbage[:1024]),
		fx.keyShort:        "abcdef\n",
		fx.bigURLFile:      "postgres://connect:" + secretURL + "@db.example.com/connect?application_name=" + strings.Repeat("a", 200<<10) + "\n",
		fx.manyProblemsFile: "postgres://connect:" + secretURL + "@db.example.com/connect?application_name=" +
			strings.Repeat("%zz", 10000) + strings.Repeat("a", 60000) + "\n",
		fx.envFileSecret: "CONNECT_POSTGRES_PASSWORD=" + secretEnv + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			return err
		}
	}
	return syscall.Mkfifo(fx.fifo, 0o600)
}

// badCase is one run of the binary.
type badCase struct {
	name  string
	args  []string
	env   []string // extra KEY=VALUE
	stdin string   // a file to read stdin from; "" is /dev/null
	code  int      // the documented exit code
	want  string   // a substring stderr must contain ("" = any)
	// twoLines allows a notice line before the error line (commands that
	// say which lock they use before failing).
	twoLines bool
}

// refused is a PostgreSQL URL nothing listens at (connection refused).
const refused = "postgres://connect:" + secretURL + "@127.0.0.1:1/connect"

// commandBases are a run of each command that gets as far as its real
// work; the cases add one bad input each.
var commandBases = []struct {
	name string
	args []string
}{
	{"root", nil},
	{"check", []string{"check", "--url", refused}},
	{"encode-url", []string{"encode-url", "--user", "connect", "--host", "db.example.com", "--database", "connect", "--no-password"}},
	{"size-pool", []string{"size-pool", "--config", "", "--nodes", "2", "--max-connections", "100"}},
	{"show-locks", []string{"show-locks", "--url", refused}},
	{"release-locks", []string{"release-locks", "--url", refused, "--lock-id", "42"}},
	{"migrate", []string{"migrate", "--url", refused, "--sqlite", ""}},
	{"version", []string{"version"}},
}

// base returns a command's base arguments with the fixture paths filled in.
func base(args []string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		if a == "" && i > 0 {
			switch out[i-1] {
			case "--config":
				out[i] = fx.cfgOK
			case "--sqlite":
				out[i] = fx.missing
			}
		}
	}
	return out
}

func with(args []string, more ...string) []string {
	return append(append([]string(nil), args...), more...)
}

// corpus builds the table. Expected codes: 2 usage or unreadable input, 3
// no database reachable, 1 findings, 0 success.
func corpus() []badCase {
	var cs []badCase
	add := func(c badCase) { cs = append(cs, c) }

	// Stray arguments, for every command: never echoed when they may be
	// secrets (issue 16 item 3).
	strays := []struct{ name, arg string }{
		{"url-with-password", "postgres://connect:" + secretArg + "@db.example.com/connect"},
		{"postgresql-url", "postgresql://u:" + secretArg + "@h:5432/db?sslmode=require"},
		{"keyword-value", "host=h password=" + secretArg},
		{"userinfo-no-scheme", "connect:" + secretArg + "@db"},
		{"bare-password", secretArg},
		{"password-with-quote", "p\"" + secretArg},
		{"invalid-utf8", secretArg + "\xff\xfe"},
		{"control-chars", secretArg + "\x1b[2J"},
		{"huge", strings.Repeat("x", 100<<10) + secretArg},
		{"shorthand-junk", "-z" + secretArg},
		{"unknown-flag-with-value", "--bogus=" + secretArg},
	}
	for _, b := range commandBases {
		for _, s := range strays {
			if b.name == "root" && s.arg == "--bogus="+secretArg {
				continue // the same as version's; keep the table free of duplicates
			}
			add(badCase{name: "stray/" + b.name + "/" + s.name, args: with(base(b.args), s.arg), code: 2})
		}
	}
	add(badCase{name: "stray/check/after-double-dash", args: []string{"check", "--", secretArg}, code: 2})
	add(badCase{name: "stray/show-locks/url-after-double-dash", args: []string{"show-locks", "--", "postgres://u:" + secretArg + "@h/db"}, code: 2, want: "postgres://u:xxxxx@h/db"})
	for _, s := range strays[:6] {
		add(badCase{name: "help-topic/" + s.name, args: []string{"help", s.arg}, code: 2, want: "unknown help topic"})
	}

	// Global flags with bad values, for every command.
	globals := []struct {
		name string
		args []string
		want string
	}{
		{"output-unknown", []string{"--output", "yaml"}, `--output "yaml" is not supported by this command; use one of`},
		{"output-empty", []string{"--output", ""}, "--output"},
		{"timeout-zero", []string{"--timeout", "0s"}, "--timeout must be positive"},
		{"timeout-negative", []string{"--timeout", "-5s"}, "--timeout must be positive"},
		{"timeout-huge", []string{"--timeout", "25h"}, "--timeout must be at most 24h"},
		{"timeout-overflow", []string{"--timeout", "9999999999h"}, `for "--timeout": pass a duration`},
		{"timeout-secret", []string{"--timeout", secretArg}, "(hidden argument)"},
		{"no-color-not-bool", []string{"--no-color=maybe"}, "--no-color"},
		{"url-invalid-utf8", []string{"--url", "postgres://u:" + secretArg + "@db\xff/connect"}, "--url is not valid UTF-8"},
		{"instrumentation-url-invalid-utf8", []string{"--instrumentation-url", "postgres://u:" + secretArg + "@h/c\x80"}, "--instrumentation-url is not valid UTF-8"},
		{"authority-invalid-utf8", []string{"--azure-authority-host", "https://login\xff.example"}, "--azure-authority-host is not valid UTF-8"},
		{"flag-needs-argument", []string{"--password-file"}, "flag needs an argument"},
	}
	for _, b := range commandBases {
		if b.name == "root" {
			continue
		}
		for _, g := range globals {
			if b.name == "encode-url" && strings.HasPrefix(g.name, "output-empty") {
				continue
			}
			add(badCase{name: "global/" + b.name + "/" + g.name, args: with(base(b.args), g.args...), code: 2, want: g.want})
		}
	}

	// Config files that cannot be a Connect config, for the commands that
	// read one (exit 2, naming the file; never quoting a secret in it).
	configs := []struct {
		name, path, want string
	}{
		{"missing", fx.missing, "missing"},
		{"directory", fx.dir, "is a directory"},
		{"fifo", fx.fifo, "not a regular file"},
		{"dev-zero", "/dev/zero", "not a regular file"},
		{"binary", fx.garbage, "garbage"},
		{"huge-line", fx.huge, "huge-line"},
		{"password-file-as-config", fx.cfgSecretLine, "secret-line.gcfg:1"},
		{"bad-section", fx.cfgBadSection, "bad-section.gcfg"},
		{"unterminated-quote", fx.cfgUnterminated, "unterminated.gcfg"},
	}
	configCommands := []struct {
		name string
		args []string
	}{
		{"check", []string{"check", "--offline"}},
		{"show-locks", []string{"show-locks"}},
		{"release-locks", []string{"release-locks", "--lock-id", "42"}},
		{"size-pool", []string{"size-pool", "--nodes", "2", "--max-connections", "100"}},
		{"size-pool-live", []string{"size-pool", "--nodes", "2"}},
	}
	// /dev/null is an empty config (the documented way to run without one):
	// it holds no URL.
	devNull := map[string]struct {
		code int
		want string
	}{
		"check": {1, ""}, "size-pool": {0, ""},
		"show-locks": {2, "no PostgreSQL URL"}, "release-locks": {2, "no PostgreSQL URL"}, "size-pool-live": {2, "no PostgreSQL URL"},
	}
	for _, c := range configCommands {
		d := devNull[c.name]
		add(badCase{name: "config/" + c.name + "/dev-null", args: with(c.args, "--config", "/dev/null"), code: d.code, want: d.want})
		for _, cfg := range configs {
			add(badCase{name: "config/" + c.name + "/" + cfg.name, args: with(c.args, "--config", cfg.path), code: 2, want: cfg.want})
		}
		add(badCase{name: "config/" + c.name + "/env-directory", args: c.args, env: []string{"CONNECTDB_CONFIG=" + fx.dir}, code: 2, want: "is a directory"})
		add(badCase{name: "config/" + c.name + "/stdin-binary", args: with(c.args, "--config", "-"), stdin: fx.garbage, code: 2})
		add(badCase{name: "config/" + c.name + "/stdin-password", args: with(c.args, "--config", "-"), stdin: fx.cfgSecretLine, code: 2})
	}

	// --password-file that cannot hold a password.
	pwCommands := []struct {
		name string
		args []string
	}{
		{"check", []string{"check", "--url", "postgres://connect@127.0.0.1:1/connect"}},
		{"show-locks", []string{"show-locks", "--url", "postgres://connect@127.0.0.1:1/connect"}},
		{"release-locks", []string{"release-locks", "--lock-id", "42", "--url", "postgres://connect@127.0.0.1:1/connect"}},
		{"size-pool", []string{"size-pool", "--nodes", "2", "--url", "postgres://connect@127.0.0.1:1/connect"}},
	}
	for _, c := range pwCommands {
		for _, pw := range []struct{ name, path, want string }{
			{"missing", fx.missing, "not found"},
			{"directory", fx.dir, "a-directory"},
			{"empty", fx.empty, "is empty"},
		} {
			add(badCase{name: "password-file/" + c.name + "/" + pw.name, args: with(c.args, "--password-file", pw.path), code: 2, want: pw.want})
		}
		// A readable password for a server that refuses connections: exit 3,
		// and the password is not shown.
		add(badCase{name: "password-file/" + c.name + "/unreachable", args: with(c.args, "--password-file", fx.pwFile), code: 3})
		add(badCase{name: "password-env/" + c.name + "/unreachable", args: c.args, env: []string{"CONNECTDB_POSTGRES_PASSWORD=" + secretEnv}, code: 3})
	}

	// URLs that are not PostgreSQL URLs or cannot be parsed: every command
	// refuses them before connecting (exit 2), naming the problem and
	// showing the URL only with its password hidden.
	badURLs := []struct{ name, url string }{
		{"no-scheme", "connect:" + secretURL + "@db.example.com/connect"},
		{"http-scheme", "http://connect:" + secretURL + "@db.example.com/connect"},
		{"upper-scheme", "POSTGRES://connect:" + secretURL + "@db.example.com/connect"},
		{"raw-hash-in-password", "postgres://connect:" + secretURL + "#x@db.example.com/connect"},
		{"raw-at-in-password", "postgres://connect:" + secretURL + "@x@/connect"},
		{"port-not-number", "postgres://connect:" + secretURL + "@db.example.com:port/connect"},
		{"port-too-big", "postgres://connect:" + secretURL + "@db.example.com:99999/connect"},
		{"empty-host", "postgres://connect:" + secretURL + "@/connect"},
		{"bad-escape", "postgres://connect:" + secretURL + "%zz@db.example.com/connect"},
		{"nul-escape", "postgres://connect:" + secretURL + "%00@db.example.com/connect"},
		{"space-in-host", "postgres://connect:" + secretURL + "@db example.com/connect"},
	}
	for _, u := range badURLs {
		add(badCase{name: "url/show-locks/" + u.name, args: []string{"show-locks", "--url", u.url}, code: 2})
		add(badCase{name: "url/check/" + u.name, args: []string{"check", "--url", u.url}, code: 2})
		add(badCase{name: "url/check-env/" + u.name, args: []string{"check"}, env: []string{"CONNECTDB_URL=" + u.url}, code: 2})
	}
	for _, c := range []string{"show-locks", "size-pool"} {
		args := []string{c}
		if c == "size-pool" {
			args = append(args, "--nodes", "2")
		}
		add(badCase{name: "url/" + c + "/env-invalid-utf8", args: args, env: []string{"CONNECTDB_URL=postgres://u:" + secretURL + "@h\xff/c"}, code: 2, want: "CONNECTDB_URL is not valid UTF-8"})
		add(badCase{name: "url/" + c + "/huge", args: with(args, "--url", "postgres://connect:"+secretURL+"@db.example.com/connect?application_name="+strings.Repeat("a", 100<<10)), code: 3})
	}

	// encode-url: build flags and --check inputs.
	eu := []string{"encode-url", "--user", "connect", "--host", "db.example.com", "--database", "connect"}
	for _, c := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string
	}{
		{"host-invalid-utf8", []string{"encode-url", "--user", "u", "--host", "db\xff", "--no-password"}, "", 2, "--host is not valid UTF-8"},
		{"user-invalid-utf8", []string{"encode-url", "--user", "u\xc3", "--host", "h", "--no-password"}, "", 2, "--user is not valid UTF-8"},
		{"database-invalid-utf8", []string{"encode-url", "--user", "u", "--host", "h", "--database", "\xfe", "--no-password"}, "", 2, "--database is not valid UTF-8"},
		{"param-invalid-utf8", with(eu, "--no-password", "--param", "application_name=\xff"), "", 2, "--param is not valid UTF-8"},
		{"port-too-big", with(eu, "--no-password", "--port", "65536"), "", 2, "--port must be at most 65535"},
		{"port-negative", with(eu, "--no-password", "--port", "-1"), "", 2, "--port must not be negative"},
		{"port-not-number", with(eu, "--no-password", "--port", "pg"), "", 2, `for "--port"`},
		{"password-and-stdin", with(eu, "--password", secretArg, "--password-stdin"), "", 2, "at most one"},
		{"password-stdin-empty", with(eu, "--password-stdin"), fx.empty, 0, ""},
		{"password-stdin-binary", with(eu, "--password-stdin", "--gcfg", "--secret-key", fx.keyGarbage), fx.pwFile, 2, ""},
		{"secret-key-missing", with(eu, "--password-stdin", "--gcfg", "--secret-key", fx.missing), fx.pwFile, 2, ""},
		{"secret-key-directory", with(eu, "--password-stdin", "--gcfg", "--secret-key", fx.dir), fx.pwFile, 2, ""},
		{"secret-key-short", with(eu, "--password-stdin", "--gcfg", "--secret-key", fx.keyShort), fx.pwFile, 2, ""},
		{"secret-key-empty", with(eu, "--password-stdin", "--gcfg", "--secret-key", fx.empty), fx.pwFile, 2, ""},
		{"fips-without-gcfg", with(eu, "--no-password", "--fips"), "", 2, "--fips applies only to --gcfg"},
		{"check-with-build-flag", []string{"encode-url", "--check", "postgres://h/db", "--user", "u"}, "", 2, "cannot be combined"},
		{"check-empty", []string{"encode-url", "--check", " "}, "", 2, "--check needs the URL"},
		{"check-stdin-empty", []string{"encode-url", "--check", "-"}, fx.empty, 2, "stdin holds no URL"},
		{"check-stdin-binary", []string{"encode-url", "--check", "-"}, fx.garbage, 2, ""},
		{"check-stdin-huge-line", []string{"encode-url", "--check", "-"}, fx.huge, 2, ""},
		{"check-stdin-big-url", []string{"encode-url", "--check", "-"}, fx.bigURLFile, 0, ""},
		{"check-many-problems", []string{"encode-url", "--check", "-"}, fx.manyProblemsFile, 2, "cannot be repaired"},
		{"check-many-problems-json", []string{"encode-url", "--check", "-", "-o", "json"}, fx.manyProblemsFile, 2, "cannot be repaired"},
		{"check-not-postgres", []string{"encode-url", "--check", "-"}, writeTemp("mysql://u:" + secretURL + "@h/db\n"), 2, "postgres://"},
		{"check-invalid-utf8", []string{"encode-url", "--check", "postgres://u:" + secretArg + "@h\xff/db"}, "", 2, "--check is not valid UTF-8"},
		{"check-unrepairable", []string{"encode-url", "--check", "-"}, writeTemp("postgres://u:" + secretURL + "@/db\n"), 2, "cannot be repaired"},
		// On the command line, a URL with a password draws a warning (ps
		// shows it) before the verdict.
		{"check-argv-password", []string{"encode-url", "--check", "postgres://u:" + secretArg + "@/db"}, "", 2, "cannot be repaired"},
		{"check-repairable", []string{"encode-url", "--check", "-"}, writeTemp("postgres://u:" + secretURL + "#x@db.example.com/connect\n"), 1, ""},
		{"output-gcfg", with(eu, "--no-password", "-o", "gcfg"), "", 2, ""},
	} {
		add(badCase{name: "encode-url/" + c.name, args: c.args, stdin: c.stdin, code: c.code, want: c.want,
			twoLines: c.name == "check-argv-password" || c.name == "password-stdin-empty"})
	}
	// A password pasted where a URL belongs is hidden whole, not echoed in
	// the report's target header.
	add(badCase{name: "check/url-is-a-bare-password", args: []string{"check", "--url", secretArg}, code: 2})
	add(badCase{name: "show-locks/url-is-a-bare-password", args: []string{"show-locks", "--url", secretArg}, code: 2})

	// size-pool numbers: out of range, overflowing, not numbers.
	sp := []string{"size-pool", "--config", fx.cfgOK}
	for _, flag := range []struct {
		name string
		min  int
	}{{"nodes", 1}, {"max-connections", 1}, {"superuser-reserved", 0}, {"reserved-connections", 0}, {"reserve", 0}, {"target-open", 0}, {"max-open", 0}, {"max-idle", 0}} {
		rest := []string{"--nodes", "2", "--max-connections", "100"}
		switch flag.name {
		case "nodes":
			rest = []string{"--max-connections", "100"}
		case "max-connections":
			rest = []string{"--nodes", "2"}
		}
		for _, v := range []struct{ name, val, want string }{
			{"below", fmt.Sprint(flag.min - 1), "--" + flag.name + " must"},
			{"int64-max", "9223372036854775807", "--" + flag.name + " must be at most 262143"},
			{"int64-min", "-9223372036854775808", "--" + flag.name + " must"},
			{"above-max-backends", "262144", "--" + flag.name + " must be at most 262143"},
			{"beyond-int64", "99999999999999999999", `for "--` + flag.name + `"`},
			{"not-a-number", "many", `for "--` + flag.name + `"`},
			{"fraction", "1.5", `for "--` + flag.name + `"`},
		} {
			add(badCase{name: "size-pool/" + flag.name + "/" + v.name, args: with(with(sp, rest...), "--"+flag.name, v.val), code: 2, want: v.want})
		}
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"nodes-missing", []string{"--max-connections", "100"}, "--nodes is required"},
		{"sweep-too-many", []string{"--nodes", "100000", "--max-connections", "100", "--sweep"}, "--sweep handles at most"},
		{"pooler-unknown", []string{"--nodes", "2", "--max-connections", "100", "--pooler", "pgcat"}, "--pooler"},
		{"instrumentation-unknown", []string{"--nodes", "2", "--max-connections", "100", "--instrumentation", "elsewhere"}, "--instrumentation"},
		{"lifetime-bad", []string{"--nodes", "2", "--max-connections", "100", "--max-lifetime", "forever"}, "--max-lifetime"},
		{"superuser-reserved-live", []string{"--nodes", "2", "--superuser-reserved", "3"}, "applies only offline"},
		{"sweep-gcfg", []string{"--nodes", "2", "--max-connections", "100", "--sweep", "-o", "gcfg"}, "--sweep prints a table"},
	} {
		add(badCase{name: "size-pool/" + c.name, args: with(sp, c.args...), code: 2, want: c.want})
	}
	// Overflowing combinations that are each in range: the arithmetic must
	// hold (a verdict, not a wrapped negative number).
	add(badCase{name: "size-pool/max-everything", args: with(sp, "--nodes", "262143", "--max-connections", "262143", "--reserve", "262143", "--superuser-reserved", "262143", "--reserved-connections", "262143", "--target-open", "262143", "--max-open", "262143", "--max-idle", "262143"), code: 1})
	add(badCase{name: "size-pool/fits", args: with(sp, "--nodes", "2", "--max-connections", "100"), code: 0})

	// Other commands' flags.
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"check/nodes-zero", []string{"check", "--url", refused, "--nodes", "0"}, 2, "--nodes must be at least 1"},
		{"check/nodes-overflow", []string{"check", "--url", refused, "--nodes", "9223372036854775807"}, 2, "--nodes must be at most 262143"},
		{"check/only-unknown", []string{"check", "--url", refused, "--only", "no.such-check"}, 2, "unknown check ID"},
		{"check/only-invalid-utf8", []string{"check", "--url", refused, "--only", "pg.\xff"}, 2, "--only is not valid UTF-8"},
		{"check/pooler-unknown", []string{"check", "--url", refused, "--pooler", "pgcat"}, 2, "--pooler"},
		{"check/lock-id-bad", []string{"check", "--url", refused, "--lock-id", "not-a-lock"}, 2, ""},
		{"check/lock-id-env-bad", []string{"check", "--url", refused}, 2, ""},
		{"check/list-extra-arg", []string{"check", "--list", secretArg}, 2, "(hidden argument)"},
		{"check/unreachable", []string{"check", "--url", refused}, 3, "no database could be reached"},
		{"check/offline-no-config", []string{"check", "--offline", "--config", fx.missing}, 2, ""},
		{"show-locks/watch-too-short", []string{"show-locks", "--url", refused, "--watch=10ms"}, 2, "--watch must be at least 100ms"},
		{"show-locks/watch-negative", []string{"show-locks", "--url", refused, "--watch=-1s"}, 2, "--watch"},
		{"show-locks/lock-id-bad", []string{"show-locks", "--url", refused, "--lock-id", "1,2,3"}, 2, ""},
		{"show-locks/lock-id-overflow", []string{"show-locks", "--url", refused, "--lock-id", "99999999999999999999"}, 2, ""},
		{"show-locks/connect-user-invalid-utf8", []string{"show-locks", "--url", refused, "--connect-user", "c\xff"}, 2, "--connect-user is not valid UTF-8"},
		{"release-locks/idle-for-negative", []string{"release-locks", "--url", refused, "--idle-for", "-1s"}, 2, "--idle-for must be positive"},
		{"release-locks/grace-negative", []string{"release-locks", "--url", refused, "--lock-id", "42", "--grace", "-1s"}, 2, "--grace must be between"},
		{"release-locks/wait-negative", []string{"release-locks", "--url", refused, "--lock-id", "42", "--wait", "-1s"}, 2, "--wait must be between"},
		{"release-locks/grace-huge", []string{"release-locks", "--url", refused, "--lock-id", "42", "--grace", "100000h"}, 2, "--grace must be between"},
		{"show-locks/stuck-after-negative", []string{"show-locks", "--url", refused, "--stuck-after", "-1s"}, 2, "--stuck-after must be between"},
		{"show-locks/stuck-after-zero", []string{"show-locks", "--url", refused, "--stuck-after", "0s"}, 2, "--stuck-after must be between"},
		{"release-locks/nothing-chosen", []string{"release-locks", "--url", refused}, 2, "choose what to release"},
		{"release-locks/pid-not-number", []string{"release-locks", "--url", refused, "--pid", secretArg}, 2, ""},
		{"release-locks/lock-id-bad", []string{"release-locks", "--url", refused, "--lock-id", "x,y"}, 2, ""},
		{"release-locks/unreachable", []string{"release-locks", "--url", refused, "--lock-id", "42"}, 3, ""},
		{"release-locks/connect-lock-without-id", []string{"release-locks", "--url", refused, "--connect-lock"}, 2, "needs Connect's lock ID"},
		{"migrate/lock-timeout-zero", []string{"migrate", "--url", refused, "--sqlite", fx.missing, "--lock-timeout", "0s"}, 2, "--lock-timeout must be positive"},
		{"migrate/lock-timeout-huge", []string{"migrate", "--url", refused, "--sqlite", fx.missing, "--lock-timeout", "100h"}, 2, "--lock-timeout must be at most 24h"},
		{"migrate/sqlite-missing", []string{"migrate", "--url", refused, "--sqlite", fx.missing}, 2, "no SQLite database"},
		{"migrate/no-sqlite", []string{"migrate", "--url", refused, "--config", fx.cfgOK}, 2, ""},
		{"version/json-extra", []string{"version", "-o", "json", secretArg}, 2, "(hidden argument)"},
	} {
		bc := badCase{name: c.name, args: c.args, code: c.code, want: c.want}
		if c.name == "check/lock-id-env-bad" {
			bc.env = []string{"CONNECTDB_LOCK_ID=1,2,3"}
		}
		add(bc)
	}

	// Environment values.
	for _, c := range []struct {
		name string
		args []string
		env  string
		code int
		want string
	}{
		{"connectdb-config-missing", []string{"check", "--offline"}, "CONNECTDB_CONFIG=" + fx.missing, 2, ""},
		{"connectdb-config-fifo", []string{"check", "--offline"}, "CONNECTDB_CONFIG=" + fx.fifo, 2, "not a regular file"},
		{"connectdb-secret-key-dir", []string{"check", "--offline", "--config", fx.cfgEncrypted}, "CONNECTDB_SECRET_KEY=" + fx.dir, 2, "is a directory"},
		{"connectdb-secret-key-garbage", []string{"check", "--offline", "--config", fx.cfgEncrypted}, "CONNECTDB_SECRET_KEY=" + fx.keyGarbage, 2, "neither hex nor base64"},
		{"connectdb-url-not-url", []string{"show-locks"}, "CONNECTDB_URL=" + secretURL, 2, ""},
		{"no-color-set", []string{"version", "--output", "yaml"}, "NO_COLOR=1", 2, "--output"},
		{"postgres-password-env", []string{"show-locks", "--url", "postgres://connect@127.0.0.1:1/connect"}, "CONNECTDB_POSTGRES_PASSWORD=" + secretEnv, 3, ""},
		{"connect-postgres-password-env", []string{"show-locks", "--url", "postgres://connect@127.0.0.1:1/connect"}, "CONNECT_POSTGRES_PASSWORD=" + secretEnv, 3, ""},
		{"azure-authority-not-url", []string{"check", "--config", fx.cfgAzure}, "AZURE_AUTHORITY_HOST=not a url", 2, "the Azure authority host is not a URL"},
		{"timeout-env-ignored", []string{"version"}, "CONNECTDB_TIMEOUT=" + secretArg, 0, ""},
	} {
		add(badCase{name: "env/" + c.name, args: c.args, env: []string{c.env}, code: c.code, want: c.want})
	}
	return cs
}

var tempMu sync.Mutex
var tempN int

// writeTemp writes content to a new fixture file and returns its path.
func writeTemp(content string) string {
	tempMu.Lock()
	defer tempMu.Unlock()
	tempN++
	p := filepath.Join(filepath.Dir(fx.empty), fmt.Sprintf("input-%d", tempN))
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		panic(err)
	}
	return p
}

// childEnv is a clean environment: no PG* variables or pgpass to fill in
// what a case leaves out, no terminal.
func childEnv(extra []string) []string {
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + filepath.Dir(fx.empty), "PGPASSFILE=" + fx.missing, "LANG=C.UTF-8"}
	return append(env, extra...)
}

// outcome is what one run of the binary produced.
type outcome struct {
	code         int
	stdout       string
	stderr       string
	cpu          time.Duration
	maxRSSKiB    int64
	killedByHang bool
}

func runBinary(ctx context.Context, c badCase, started func(*os.Process)) (outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, hangGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, c.args...)
	cmd.Env = childEnv(c.env)
	if c.stdin != "" {
		f, err := os.Open(c.stdin)
		if err != nil {
			return outcome{}, err
		}
		defer f.Close()
		cmd.Stdin = f
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		return outcome{}, err
	}
	if started != nil {
		started(cmd.Process)
	}
	err := cmd.Wait()
	o := outcome{stdout: out.String(), stderr: errOut.String(), killedByHang: ctx.Err() != nil}
	if cmd.ProcessState == nil {
		return o, err
	}
	o.code = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		o.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		o.maxRSSKiB = ru.Maxrss // kilobytes on Linux
	}
	return o, nil
}

// check asserts everything every case promises.
func (o outcome) check(t *testing.T, c badCase) {
	t.Helper()
	if o.killedByHang {
		t.Fatalf("still running after %v: killed (stderr %q)", hangGuard, clip(o.stderr))
	}
	if o.code != c.code {
		t.Errorf("exit code %d, want %d; stderr %q", o.code, c.code, clip(o.stderr))
	}
	all := o.stdout + o.stderr
	for _, bad := range []string{"goroutine ", "panic:", "runtime error", "SIGSEGV", "[signal "} {
		if strings.Contains(all, bad) {
			t.Errorf("output contains %q: a panic or stack trace\n%s", bad, clip(all))
		}
	}
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("output shows the sentinel secret %q:\nstdout %q\nstderr %q", s, clip(o.stdout), clip(o.stderr))
		}
	}
	lines := strings.Split(strings.TrimSuffix(o.stderr, "\n"), "\n")
	maxLines := 1
	if c.twoLines {
		maxLines = 2
	}
	switch {
	case o.stderr == "" && c.code >= 2:
		t.Errorf("exit %d without a message on stderr", c.code)
	case o.stderr != "" && len(lines) > maxLines:
		t.Errorf("stderr has %d lines, want %d:\n%s", len(lines), maxLines, clip(o.stderr))
	case c.code >= 2 && !strings.HasPrefix(lines[len(lines)-1], "connectdb: "):
		t.Errorf("the error line does not start with \"connectdb: \": %q", clip(o.stderr))
	}
	if !utf8.ValidString(o.stderr) || strings.ContainsAny(strings.TrimSuffix(o.stderr, "\n"), "\x00\x1b\r") {
		t.Errorf("stderr is not plain UTF-8 text: %q", clip(o.stderr))
	}
	if c.want != "" && !strings.Contains(o.stderr, c.want) {
		t.Errorf("stderr %q does not contain %q", clip(o.stderr), c.want)
	}
	if o.cpu > maxCPU {
		t.Errorf("used %v of CPU (user+system), over %v", o.cpu, maxCPU)
	}
	if o.maxRSSKiB > maxRSSKiB {
		t.Errorf("peak memory %d MiB, over %d MiB", o.maxRSSKiB/1024, maxRSSKiB/1024)
	}
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + fmt.Sprintf("…(%d bytes)", len(s))
	}
	return s
}

func TestBadInputCorpus(t *testing.T) {
	cs := corpus()
	if len(cs) < 250 {
		t.Fatalf("the corpus has %d cases; issue 16 asks for at least 250", len(cs))
	}
	// The heaviest case, reported with -v for the record.
	var mu sync.Mutex
	var worstCPU time.Duration
	var worstRSS int64
	var worstCPUName, worstRSSName string
	t.Cleanup(func() {
		t.Logf("%d cases; most CPU %v (%s), most memory %d MiB (%s)", len(cs), worstCPU, worstCPUName, worstRSS/1024, worstRSSName)
	})
	seen := map[string]bool{}
	for _, c := range cs {
		if seen[c.name] {
			t.Fatalf("duplicate case name %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o, err := runBinary(context.Background(), c, nil)
			if err != nil {
				t.Fatalf("running connectdb: %v", err)
			}
			o.check(t, c)
			mu.Lock()
			defer mu.Unlock()
			if o.cpu > worstCPU {
				worstCPU, worstCPUName = o.cpu, c.name
			}
			if o.maxRSSKiB > worstRSS {
				worstRSS, worstRSSName = o.maxRSSKiB, c.name
			}
		})
	}
}

// TestSignalsDuringCheck interrupts commands that wait on a server that
// accepted the connection and never answers. The signal is sent once the
// server has the connection (a condition, not a delay): SIGTERM is exit 143
// and SIGINT 130, each with one "interrupted by" line, for every command
// that connects.
func TestSignalsDuringCheck(t *testing.T) {
	commands := [][]string{
		{"check", "--timeout", "10m"},
		{"show-locks", "--timeout", "10m"},
		{"release-locks", "--lock-id", "42", "--timeout", "10m"},
		{"size-pool", "--nodes", "2", "--timeout", "10m"},
	}
	for _, args := range commands {
		for _, tt := range []struct {
			sig  syscall.Signal
			code int
			want string
		}{
			{syscall.SIGTERM, 143, "connectdb: interrupted by SIGTERM"},
			{syscall.SIGINT, 130, "connectdb: interrupted by SIGINT"},
		} {
			t.Run(args[0]+"/"+tt.sig.String(), func(t *testing.T) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				accepted := make(chan net.Conn, 1)
				go func() {
					if c, err := ln.Accept(); err == nil {
						accepted <- c
					}
				}()
				url := "postgres://connect:" + secretURL + "@" + ln.Addr().String() + "/connect?sslmode=disable"
				c := badCase{name: "signal", args: with(args, "--url", url), code: tt.code, want: tt.want}
				// The server keeps the connection open until connectdb has
				// exited, so that only the signal can end the command.
				held := make(chan net.Conn, 1)
				o, err := runBinary(context.Background(), c, func(p *os.Process) {
					go func() {
						select {
						case conn := <-accepted:
							held <- conn
							p.Signal(tt.sig)
						case <-time.After(hangGuard):
						}
					}()
				})
				select {
				case conn := <-held:
					conn.Close()
				default:
				}
				if err != nil {
					t.Fatal(err)
				}
				o.check(t, c)
			})
		}
	}
}
