package encodeurl

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/dsn"
	"github.com/connectdb/connectdb/internal/golden"
)

// mode is one way of running encode-url, used by the golden and the
// sentinel tests.
type mode struct {
	name  string
	opts  EncodeURLOptions
	stdin string // the password, or the URL for --check -
	key   bool   // pass a secret key file
	// passwordOK: the user asked to see the password (the encoded URL itself).
	passwordOK bool
}

// connectOpts are the usual parts of Connect's URL.
func connectOpts() EncodeURLOptions {
	return EncodeURLOptions{User: "connect", Host: "db.example.com", Port: 5432, Database: "connect",
		SSLMode: "require", Schema: "connect_schema", PasswordStdin: true}
}

// modes lists every mode of encode-url, with pw as the password.
func modes(pw string) []mode {
	with := func(f func(*EncodeURLOptions)) EncodeURLOptions {
		o := connectOpts()
		f(&o)
		return o
	}
	encodedURL := "postgres://connect:" + dsn.EncodePassword(pw) + "@db.example.com:5432/connect?sslmode=require"
	rawURL := "postgres://connect:" + pw + "@db.example.com/connect"
	return []mode{
		{name: "build", opts: connectOpts(), stdin: pw + "\n", passwordOK: true},
		{name: "build-cert", opts: with(func(o *EncodeURLOptions) {
			o.PasswordStdin, o.NoPassword, o.SSLMode, o.Schema = false, true, "verify-full", ""
			o.SSLCert, o.SSLKey, o.SSLRoot = "/etc/ssl/pg/client.crt", "/etc/ssl/pg/client.key", "/etc/ssl/pg/root.crt"
			o.Params = []string{"connect_timeout=10", "application_name=Posit Connect"}
		})},
		{name: "build-warnings", opts: with(func(o *EncodeURLOptions) {
			o.Database, o.SSLMode, o.Schema, o.SSLCert, o.Port = "", "prefer", "My Schema", "client.crt", 0
		}), stdin: pw + "\n", passwordOK: true},
		{name: "gcfg-placeholder", opts: with(func(o *EncodeURLOptions) { o.GCfg = true }), stdin: pw + "\n"},
		{name: "gcfg-key", opts: with(func(o *EncodeURLOptions) { o.GCfg = true }), stdin: pw + "\n", key: true},
		{name: "gcfg-fips", opts: with(func(o *EncodeURLOptions) { o.GCfg, o.FIPS = true, true }), stdin: pw + "\n", key: true},
		{name: "gcfg-instrumentation", opts: with(func(o *EncodeURLOptions) {
			o.GCfg, o.Instrumentation, o.Database = true, true, "connect_instrumentation"
		}), stdin: pw + "\n", key: true},
		{name: "gcfg-inline", opts: with(func(o *EncodeURLOptions) { o.GCfg, o.InlinePassword = true, true }), stdin: pw + "\n", key: true, passwordOK: true},
		{name: "gcfg-nopassword", opts: with(func(o *EncodeURLOptions) { o.GCfg, o.PasswordStdin, o.NoPassword = true, false, true })},
		{name: "check-clean", opts: EncodeURLOptions{Check: "-", CheckSet: true}, stdin: "postgres://connect@db.example.com/connect?options=-csearch_path=connect_schema\n"},
		{name: "check-clean-password", opts: EncodeURLOptions{Check: "-", CheckSet: true}, stdin: encodedURL + "\n"},
		{name: "check-repairable", opts: EncodeURLOptions{Check: "-", CheckSet: true}, stdin: rawURL + "\n"},
		{name: "check-show-password", opts: EncodeURLOptions{Check: "-", CheckSet: true, ShowPassword: true}, stdin: rawURL + "\n", passwordOK: true},
		{name: "check-warnings", opts: EncodeURLOptions{Check: "-", CheckSet: true}, stdin: "postgres://conn!ect:pass$word@db.example.com/connect?sslmode=require&\n"},
		{name: "check-unrepairable", opts: EncodeURLOptions{Check: "-", CheckSet: true}, stdin: "postgres://connect:" + pw + "@/connect?x=%zz\n"},
	}
}

// goldenPassword has the characters the guide names, so the golden files
// show their encoding.
const goldenPassword = "p@ss#w!$%/?:word é"

func runMode(t *testing.T, m mode, output string) (result, string) {
	t.Helper()
	keyPath := ""
	if m.key {
		keyPath, _ = writeKey(t)
	}
	r := runOpts(t, m.opts, m.stdin, func(f *cmdutil.Factory) {
		f.Globals.Output = output
		f.Globals.SecretKey = keyPath
	})
	return r, keyPath
}

// TestGolden renders every mode as text and JSON and compares the output
// (stdout, stderr and exit code) with testdata/golden.
func TestGolden(t *testing.T) {
	for _, m := range modes(goldenPassword) {
		for _, output := range []string{"text", "json"} {
			t.Run(m.name+"-"+output, func(t *testing.T) {
				r, keyPath := runMode(t, m, output)
				if output == "json" && r.out != "" && !json.Valid([]byte(r.out)) {
					t.Fatalf("invalid JSON:\n%s", r.out)
				}
				errLine := ""
				if r.err != nil && r.err.Error() != "" {
					errLine = "connectdb: " + r.err.Error() + "\n"
				}
				if !m.opts.CheckSet && !m.opts.GCfg && output == "text" {
					// Every built URL is accepted by dsn.Parse, and by pgx
					// unless it names certificate files (pgx reads them).
					u := strings.TrimSpace(r.out)
					if !strings.Contains(u, "sslcert=") && !strings.Contains(u, "sslrootcert=") {
						pgxParse(t, u)
					}
					if _, err := dsn.Parse(u); err != nil {
						t.Errorf("dsn.Parse: %v", err)
					}
				}
				got := fmt.Sprintf("--- stdout ---\n%s--- stderr ---\n%s%s--- exit %d\n", r.out, r.errOut, errLine, r.code)
				golden.Assert(t, filepath.Join("testdata", "golden", m.name+"."+output), normalise(got, keyPath))
			})
		}
	}
}

// TestCheckExitCodes: 0 when the URL works (warnings allowed), 1 when it
// would not work but can be repaired, 2 when it cannot be repaired.
func TestCheckExitCodes(t *testing.T) {
	for _, m := range modes(goldenPassword) {
		if !m.opts.CheckSet {
			continue
		}
		want := map[string]int{"check-clean": 0, "check-clean-password": 0, "check-warnings": 0,
			"check-repairable": 1, "check-show-password": 1, "check-unrepairable": 2}[m.name]
		r, _ := runMode(t, m, "text")
		if r.code != want {
			t.Errorf("%s: exit %d, want %d (err %v)", m.name, r.code, want, r.err)
		}
	}
}

// TestSentinelPasswordNeverPrinted runs every mode, as text and JSON, with a
// sentinel password and checks that it shows up (raw or percent-encoded)
// only where the user asked for the URL with its password: plain build
// mode, --inline-password and --show-password; and never on stderr.
func TestSentinelPasswordNeverPrinted(t *testing.T) {
	const sentinel = "Sentinel-7q@Z#x"
	forms := []string{sentinel, "Sentinel-7q%40Z%23x", "Sentinel-7q", "7q@Z", "7q%40Z"}
	leaks := func(s string) string {
		for _, f := range forms {
			if strings.Contains(s, f) {
				return f
			}
		}
		return ""
	}
	all := modes(sentinel)
	// Error paths that have the password in hand when they fail.
	bad := func(name string, f func(*EncodeURLOptions)) mode {
		o := connectOpts()
		f(&o)
		return mode{name: name, opts: o, stdin: sentinel + "\n"}
	}
	all = append(all,
		bad("bad-param", func(o *EncodeURLOptions) { o.Params = []string{"nokeyvalue"} }),
		bad("bad-fips", func(o *EncodeURLOptions) { o.GCfg, o.FIPS = true, true }),
		bad("bad-host", func(o *EncodeURLOptions) { o.Host = "postgres://connect:" + sentinel + "@h/db" }),
		mode{name: "check-argv", opts: EncodeURLOptions{Check: "postgres://connect:" + sentinel + "@db.example.com/connect", CheckSet: true}},
		mode{name: "check-bad-scheme", opts: EncodeURLOptions{Check: "mysql://connect:" + sentinel + "@db.example.com/connect", CheckSet: true}},
		mode{name: "check-no-scheme", opts: EncodeURLOptions{Check: "connect:" + sentinel + "@db.example.com/connect", CheckSet: true}},
		mode{name: "check-bad-port", opts: EncodeURLOptions{Check: "postgres://connect:" + sentinel + "/connect", CheckSet: true}},
	)
	for _, m := range all {
		for _, output := range []string{"text", "json"} {
			t.Run(m.name+"-"+output, func(t *testing.T) {
				r, _ := runMode(t, m, output)
				if f := leaks(r.errOut); f != "" {
					t.Errorf("stderr shows the password (%q):\n%s", f, r.errOut)
				}
				if f := leaks(fmt.Sprint(r.err)); f != "" {
					t.Errorf("the error shows the password (%q): %v", f, r.err)
				}
				f := leaks(r.out)
				switch {
				case m.passwordOK && f == "":
					t.Errorf("the user asked for the URL with its password, but stdout lacks it:\n%s", r.out)
				case !m.passwordOK && f != "":
					t.Errorf("stdout shows the password (%q):\n%s", f, r.out)
				}
			})
		}
	}

	// The prompt path, with a terminal on stdin and stdout.
	r := runOpts(t, EncodeURLOptions{User: "connect", Host: "db.example.com", Database: "connect", GCfg: true,
		ReadSecret: func(string) (string, error) { return sentinel, nil }}, "", func(f *cmdutil.Factory) {
		f.IO.SetTTY(true, true, true)
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if f := leaks(r.out + r.errOut); f != "" {
		t.Errorf("prompt + --gcfg shows the password (%q):\n%s%s", f, r.out, r.errOut)
	}
}
