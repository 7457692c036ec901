package check

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	engine "github.com/connectdb/connectdb/internal/check"
	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/config"
	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/secrets"
)

// connectHost lays out a Connect host in a temporary root: the config at
// Connect's default path and, when keyMode is not 0, Connect's key at
// {DataDir}/db/secret.key.
func connectHost(t *testing.T, gcfg string, keyMode os.FileMode) string {
	t.Helper()
	root := t.TempDir()
	write := func(p string, data []byte, mode os.FileMode) {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	write(config.DefaultPath, []byte(gcfg), 0o600)
	if keyMode != 0 {
		key, err := os.ReadFile(testKeyFile)
		if err != nil {
			t.Fatal(err)
		}
		write("/var/lib/rstudio-connect/db/secret.key", key, keyMode)
	}
	return root
}

// runHost runs check against a host root with env as connectdb's
// environment, in every output format, and returns the text and JSON
// outputs, stderr and the exit code of the text run. The JUnit and GitHub
// outputs go into stderr, so that the callers' secret checks see them too.
func runHost(t *testing.T, root string, g cmdutil.Globals, env map[string]string) (text, js, stderr string, code int) {
	t.Helper()
	var outs []string
	for _, output := range []string{"text", "json", "junit", "github"} {
		ios, _, out, errOut := iostreams.Test()
		g := g
		g.ConfigPath, g.Output = config.DefaultPath, output
		f := &cmdutil.Factory{IO: ios, Globals: &g, Getenv: func(k string) string { return env[k] }, Now: time.Now, Root: root}
		opts := &CheckOptions{F: f, Nodes: 1, Pooler: "none"}
		err := runCheck(context.Background(), opts)
		if output == "text" {
			code = cmdutil.ExitCode(err)
			if err != nil {
				stderr = err.Error()
			}
		}
		outs = append(outs, out.String()+errOut.String())
	}
	return outs[0], outs[1], stderr + "\n" + outs[2] + outs[3], code
}

// noSecret fails when any secret shows in any of texts.
func noSecret(t *testing.T, secrets []string, texts ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, text := range texts {
			if strings.Contains(text, s) {
				t.Errorf("a secret (%.4q…) appears in the output:\n%s", s, text)
			}
		}
	}
}

// TestConnectHostEnvOnlyPassword: the Helm chart and the operator give the
// password only as CONNECT_POSTGRES_PASSWORD, with a password-less URL in
// the file. check, run as Connect's own unprivileged role (the role owns
// its database and nothing else), connects with it and passes.
func TestConnectHostEnvOnlyPassword(t *testing.T) {
	const sentinel = "Env-S3ntinel#pw;x"
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)
	gcfg := "[Database]\nProvider = Postgres\n[Postgres]\nURL = " + srv.URL(role, "", db) + "\n"
	root := connectHost(t, gcfg, 0)

	for _, via := range []string{"environment", "env-file"} {
		t.Run(via, func(t *testing.T) {
			env := map[string]string{}
			var g cmdutil.Globals
			want := "CONNECT_POSTGRES_PASSWORD"
			if via == "environment" {
				env["CONNECT_POSTGRES_PASSWORD"] = sentinel
			} else {
				g.EnvFile = filepath.Join(t.TempDir(), "rstudio-connect")
				// systemd syntax: the quotes keep # and ; in the value.
				if err := os.WriteFile(g.EnvFile, []byte("# Connect's environment\nCONNECT_POSTGRES_PASSWORD=\""+sentinel+"\"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				want = "--env-file " + g.EnvFile + ":2"
			}
			text, js, stderr, code := runHost(t, root, g, env)
			if code != 0 {
				t.Fatalf("exit %d (%s)\n%s", code, stderr, text)
			}
			for _, w := range []string{"PASS pg.connect", "PASS pg.privileges", "password: from " + strings.TrimPrefix(want, "from ") + " (plain text)", "PASS secret.password"} {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
			var doc engine.JSONReport
			if err := json.Unmarshal([]byte(js), &doc); err != nil {
				t.Fatalf("%v\n%s", err, js)
			}
			if doc.ExitCode != 0 || len(doc.Targets) != 1 || !doc.Targets[0].Reached || !strings.Contains(doc.Targets[0].PasswordSource, strings.TrimPrefix(want, "from ")) {
				t.Errorf("json %+v", doc.Targets)
			}
			noSecret(t, []string{sentinel}, text, js, stderr)
		})
	}
}

// TestConnectHostDefaultKey: a host laid out like Connect's — config at
// the default path, key at /var/lib/rstudio-connect/db/secret.key, an
// encrypted Postgres.Password — passes check with no key flag, as
// Connect's own role.
func TestConnectHostDefaultKey(t *testing.T) {
	const sentinel = "Key-S3ntinel-password"
	key, _, err := secrets.LoadKey(testKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	var enc string
	for enc == "" || secrets.CiphertextShape(enc) != secrets.ShapeCiphertext {
		if enc, err = key.Encrypt(sentinel, false); err != nil {
			t.Fatal(err)
		}
	}
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)
	gcfg := "[Database]\nProvider = postgres\n[Postgres]\nURL = \"" + srv.URL(role, "", db) + "\"\nPassword = " + enc + "\n"
	keyText, _ := os.ReadFile(testKeyFile)
	secretsShown := []string{sentinel, strings.TrimSpace(string(keyText)), strings.TrimSpace(string(keyText))[:64]}

	t.Run("passes with no key flag", func(t *testing.T) {
		root := connectHost(t, gcfg, 0o600)
		text, js, stderr, code := runHost(t, root, cmdutil.Globals{}, nil)
		if code != 0 {
			t.Fatalf("exit %d (%s)\n%s", code, stderr, text)
		}
		for _, w := range []string{"PASS secret.key", "/var/lib/rstudio-connect/db/secret.key ({Server.DataDir}/db/secret.key)",
			"PASS secret.password", "PASS pg.connect", "PASS pg.privileges", "(decrypted)"} {
			if !strings.Contains(text, w) {
				t.Errorf("output lacks %q:\n%s", w, text)
			}
		}
		noSecret(t, secretsShown, text, js, stderr)
	})
	t.Run("key open to others warns, still passes", func(t *testing.T) {
		root := connectHost(t, gcfg, 0o644)
		text, js, stderr, code := runHost(t, root, cmdutil.Globals{}, nil)
		if code != 0 || !strings.Contains(text, "WARN secret.key") || !strings.Contains(text, "[hygiene]") {
			t.Fatalf("exit %d (%s)\n%s", code, stderr, text)
		}
		noSecret(t, secretsShown, text, js, stderr)
	})
	t.Run("no key anywhere is an input error", func(t *testing.T) {
		root := connectHost(t, gcfg, 0)
		text, js, stderr, code := runHost(t, root, cmdutil.Globals{}, nil)
		if code != cmdutil.ExitUsage || !strings.Contains(stderr, "/var/lib/rstudio-connect/db/secret.key") ||
			!strings.Contains(text, "could not use its input (exit 2)") {
			t.Fatalf("exit %d (%s)\n%s", code, stderr, text)
		}
		noSecret(t, secretsShown, text, js, stderr)
	})
	t.Run("key from CONNECT_SERVER_ENCRYPTIONKEY", func(t *testing.T) {
		root := connectHost(t, gcfg, 0)
		env := map[string]string{"CONNECT_SERVER_ENCRYPTIONKEY": string(keyText)}
		text, js, stderr, code := runHost(t, root, cmdutil.Globals{}, env)
		if code != 0 || !strings.Contains(text, "Server.EncryptionKey from CONNECT_SERVER_ENCRYPTIONKEY") {
			t.Fatalf("exit %d (%s)\n%s", code, stderr, text)
		}
		noSecret(t, secretsShown, text, js, stderr)
	})
}

// TestUsageErrorWins: a missing --password-file is exit 2 even when a
// check fails too (issue 16 item 11).
func TestUsageErrorWins(t *testing.T) {
	role := srv.NewRole(t, "pw")
	db := srv.NewDatabase(t, role)
	cfg := writeConfig(t, "[Server]\nDataDir = /srv/connect#data\n[Database]\nProvider = postgres\n[Postgres]\nURL = \""+srv.URL(role, "", db)+"\"\n")
	opts, out := newOpts(t, cmdutil.Globals{ConfigPath: cfg, ConfigExplicit: true, PasswordFile: filepath.Join(t.TempDir(), "missing")}, nil)
	err := runCheck(context.Background(), opts)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "password file") {
		t.Fatalf("exit %d (%v)\n%s", cmdutil.ExitCode(err), err, out)
	}
	if !strings.Contains(out.String(), "FAIL config.inline-comment") {
		t.Errorf("the report with the failing check is not shown:\n%s", out)
	}
}
