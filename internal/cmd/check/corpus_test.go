package check

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	engine "github.com/connectdb/connectdb/internal/check"
	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/config"
	"github.com/connectdb/connectdb/internal/golden"
	"github.com/connectdb/connectdb/internal/secrets"
)

// testKeyFile is a Connect key file (the shared test vectors' key).
const testKeyFile = "../../secrets/testdata/connect.key"

// encryptedToken marks a value to encrypt with the test key: ENC:plaintext.
var encryptedToken = regexp.MustCompile(`ENC:(\S+)`)

// host is a directory laid out like a Connect host from a corpus case.
type host struct {
	root    string
	env     map[string]string
	envFile string // host path of --env-file, "" when none
	secrets []string
}

// layOut builds the host of corpus case dir:
//
//	rstudio-connect.gcfg            -> /etc/rstudio-connect/rstudio-connect.gcfg (ENC:x is encrypted with the test key)
//	rstudio-connect-migration.gcfg  -> beside it
//	environ                         -> connectdb's process environment (KEYFILE stands for the key's text)
//	env-file                        -> /etc/default/rstudio-connect, passed as --env-file
//	key                             -> "PATH MODE": the test key installed at PATH with MODE
func layOut(t *testing.T, dir string) *host {
	t.Helper()
	h := &host{root: t.TempDir(), env: map[string]string{}}
	keyText, err := os.ReadFile(testKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := secrets.LoadKey(testKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	h.secrets = append(h.secrets, strings.TrimSpace(string(keyText)))
	install := func(src, dst string, mode os.FileMode) {
		data, err := os.ReadFile(filepath.Join(dir, src))
		if os.IsNotExist(err) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		text := encryptedToken.ReplaceAllStringFunc(string(data), func(m string) string {
			plain := strings.TrimPrefix(m, "ENC:")
			h.secrets = append(h.secrets, plain)
			for range 200 {
				enc, err := key.Encrypt(plain, false)
				if err != nil {
					t.Fatal(err)
				}
				if secrets.CiphertextShape(enc) == secrets.ShapeCiphertext {
					return enc
				}
			}
			t.Fatal("no ciphertext with a +, / or =")
			return ""
		})
		p := filepath.Join(h.root, dst)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	install("rstudio-connect.gcfg", config.DefaultPath, 0o600)
	install("rstudio-connect-migration.gcfg", "/etc/rstudio-connect/rstudio-connect-migration.gcfg", 0o600)
	if _, err := os.Stat(filepath.Join(dir, "env-file")); err == nil {
		install("env-file", "/etc/default/rstudio-connect", 0o600)
		h.envFile = filepath.Join(h.root, "etc/default/rstudio-connect")
		ef, err := config.LoadEnvFile(h.envFile)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range ef.Vars {
			h.secrets = append(h.secrets, v.Value)
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, "environ")); err == nil {
		for _, v := range config.ParseEnvFile("environ", data).Vars {
			val := strings.ReplaceAll(v.Value, "KEYFILE", string(keyText))
			h.env[v.Name] = val
			h.secrets = append(h.secrets, val)
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, "key")); err == nil {
		f := strings.Fields(string(data))
		mode, err := strconv.ParseUint(f[1], 8, 32)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(h.root, f[0])
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, keyText, os.FileMode(mode)); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, os.FileMode(mode)); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// TestCorpus runs check --offline on real-world config shapes, each laid
// out like the Connect host it comes from, with no key flag: connectdb
// must find what Connect finds. Each report is a golden file whose verdict
// is what Connect would do (see testdata/corpus/README.md).
func TestCorpus(t *testing.T) {
	dirs, err := filepath.Glob("testdata/corpus/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, dir := range dirs {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			h := layOut(t, dir)
			opts, out := newOpts(t, cmdutil.Globals{ConfigPath: config.DefaultPath, EnvFile: h.envFile}, h.env)
			opts.F.Root = h.root
			opts.Offline = true
			// Only the offline checks, so that a new live check does not
			// change every golden file.
			for _, c := range engine.Registry() {
				if c.Kind == engine.Live {
					opts.Skip = append(opts.Skip, c.ID)
				}
			}
			err := runCheck(context.Background(), opts)
			code := cmdutil.ExitCode(err)
			got := strings.ReplaceAll(out.String(), h.root, "")
			report := fmt.Sprintf("$ connectdb check --offline --skip <every live check>%s\nexit %d\n\n%s", envFlag(h), code, got)
			if err != nil && code != cmdutil.ExitFindings {
				report += "stderr: " + strings.ReplaceAll(err.Error(), h.root, "") + "\n"
			}
			golden.Assert(t, filepath.Join(dir, "check.golden"), report)
			for _, s := range h.secrets {
				if len(s) >= 4 && strings.Contains(report, s) {
					t.Errorf("the report shows a secret %.6q…", s)
				}
			}
		})
	}
	if n < 12 {
		t.Errorf("the corpus has %d cases; it needs at least 12", n)
	}
}

func envFlag(h *host) string {
	if h.envFile == "" {
		return ""
	}
	return " --env-file /etc/default/rstudio-connect"
}
