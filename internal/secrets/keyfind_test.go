package secrets

import (
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connectdb/connectdb/internal/config"
)

// encryptShaped encrypts plain until the ciphertext has a +, / or = in it
// (ShapeCiphertext): about one ciphertext in six is letters and digits
// only, which connectdb cannot tell from a password without a key.
func encryptShaped(t testing.TB, k *Key, plain string, fips bool) string {
	t.Helper()
	for range 200 {
		enc, err := k.Encrypt(plain, fips)
		if err != nil {
			t.Fatal(err)
		}
		if CiphertextShape(enc) == ShapeCiphertext {
			return enc
		}
	}
	t.Fatal("no ciphertext with a +, / or = in 200 tries")
	return ""
}

func alnum(rng *rand.Rand, n int) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[rng.Intn(len(chars))]
	}
	return string(b)
}

func TestCiphertextShape(t *testing.T) {
	_, vs := loadVectors(t)
	for _, v := range vs {
		if got := CiphertextShape(v.Ciphertext); got != ShapeCiphertext {
			t.Errorf("vector %s (%d chars) has shape %v", v.Mode, len(v.Ciphertext), got)
		}
	}
	rng := rand.New(rand.NewSource(1))
	// Long random alphanumeric passwords, as the Helm chart's users make:
	// never counted as encrypted.
	for _, n := range []int{56, 64, 88} {
		for range 50 {
			pw := alnum(rng, n)
			if got := CiphertextShape(pw); got == ShapeCiphertext {
				t.Errorf("%d-character alphanumeric password counted as ciphertext", n)
			}
		}
	}
	for _, tc := range []struct {
		v    string
		want Shape
	}{
		{"", ShapePlain},
		{"hunter2", ShapePlain},
		{"p@ss#word with spaces", ShapePlain},
		{strings.Repeat("A", 52), ShapePlain},                    // 39 bytes: too short for secretbox
		{strings.Repeat("A", 56), ShapeAmbiguous},                // 42 bytes
		{strings.Repeat("A", 53) + "AB=", ShapePlain},            // non-canonical padding bits
		{"Zm9vYmFy+/==", ShapePlain},                             // base64, but far too short
		{"YWJj" + strings.Repeat("+", 52), ShapeCiphertext},      // 42 bytes with a '+'
		{" " + strings.Repeat("a/", 28) + "\n", ShapeCiphertext}, // surrounding blanks are trimmed
	} {
		if got := CiphertextShape(tc.v); got != tc.want {
			t.Errorf("CiphertextShape(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// connectHost lays out a directory like a Connect host and returns the
// loaded config.
func connectHost(t *testing.T, gcfg string, env map[string]string) (root string, cfg *config.Config) {
	t.Helper()
	root = t.TempDir()
	p := filepath.Join(root, "etc/rstudio-connect/rstudio-connect.gcfg")
	os.MkdirAll(filepath.Dir(p), 0o755)
	writeFile(t, p, gcfg, 0o600)
	cfg, err := config.LoadOptions{Path: config.DefaultPath, Root: root, Getenv: func(k string) string { return env[k] }}.Load()
	if err != nil {
		t.Fatal(err)
	}
	return root, cfg
}

func installKey(t *testing.T, root, path string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile("testdata/connect.key")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, path)
	os.MkdirAll(filepath.Dir(p), 0o755)
	writeFile(t, p, string(data), mode)
}

func TestFindKeyOrder(t *testing.T) {
	keyData, _ := os.ReadFile("testdata/connect.key")
	flagKey := writeFile(t, filepath.Join(t.TempDir(), "flag.key"), string(keyData), 0o600)

	t.Run("default path under DataDir", func(t *testing.T) {
		root, cfg := connectHost(t, "[Database]\nProvider = postgres\n", nil)
		installKey(t, root, "var/lib/rstudio-connect/db/secret.key", 0o600)
		fk, err := FindKey(KeySearch{Config: cfg})
		if err != nil || fk == nil {
			t.Fatalf("FindKey = %v, %v", fk, err)
		}
		if fk.From != "/var/lib/rstudio-connect/db/secret.key ({Server.DataDir}/db/secret.key)" || len(fk.Warnings) != 0 || fk.Key.Path() != "/var/lib/rstudio-connect/db/secret.key" {
			t.Errorf("From %q, warnings %q, path %q", fk.From, fk.Warnings, fk.Key.Path())
		}
	})
	t.Run("DataDir from the Docker image", func(t *testing.T) {
		root, cfg := connectHost(t, "[Server]\nDataDir = /data\n", nil)
		installKey(t, root, "data/db/secret.key", 0o644)
		fk, err := FindKey(KeySearch{Config: cfg})
		if err != nil || fk == nil || !strings.HasPrefix(fk.From, "/data/db/secret.key") {
			t.Fatalf("FindKey = %+v, %v", fk, err)
		}
		if len(fk.Warnings) != 1 || !strings.Contains(fk.Warnings[0], "/data/db/secret.key is readable by group or others (mode 0644)") ||
			strings.Contains(fk.Warnings[0], root) {
			t.Errorf("warnings %q", fk.Warnings)
		}
	})
	t.Run("nothing found", func(t *testing.T) {
		_, cfg := connectHost(t, "[Server]\nDataDir = /data\n", nil)
		if fk, err := FindKey(KeySearch{Config: cfg}); fk != nil || err != nil {
			t.Fatalf("FindKey = %v, %v", fk, err)
		}
	})
	t.Run("EncryptionKeyFile beats the default", func(t *testing.T) {
		root, cfg := connectHost(t, "[Server]\nEncryptionKeyFile = /etc/rstudio-connect/key\n", nil)
		installKey(t, root, "etc/rstudio-connect/key", 0o600)
		writeFile(t, filepath.Join(root, "x"), "", 0o600)
		os.MkdirAll(filepath.Join(root, "var/lib/rstudio-connect/db"), 0o755)
		writeFile(t, filepath.Join(root, "var/lib/rstudio-connect/db/secret.key"), "garbage", 0o600)
		fk, err := FindKey(KeySearch{Config: cfg})
		if err != nil || fk.From != "Server.EncryptionKeyFile /etc/rstudio-connect/key (from /etc/rstudio-connect/rstudio-connect.gcfg:2)" {
			t.Fatalf("FindKey = %+v, %v", fk, err)
		}
	})
	t.Run("EncryptionKey from the environment", func(t *testing.T) {
		_, cfg := connectHost(t, "[Server]\nAddress = x\n", map[string]string{"CONNECT_SERVER_ENCRYPTIONKEY": string(keyData)})
		fk, err := FindKey(KeySearch{Config: cfg})
		if err != nil || fk.From != "Server.EncryptionKey from CONNECT_SERVER_ENCRYPTIONKEY" {
			t.Fatalf("FindKey = %+v, %v", fk, err)
		}
		_, vs := loadVectors(t)
		if p, err := fk.Key.Decrypt(vs[0].Ciphertext); err != nil || p != vs[0].Plaintext {
			t.Errorf("decrypt: %v", err)
		}
	})
	t.Run("flag beats everything", func(t *testing.T) {
		_, cfg := connectHost(t, "[Server]\nEncryptionKeyFile = /nope\nEncryptionKey = bad\n", nil)
		fk, err := FindKey(KeySearch{Path: flagKey, Config: cfg})
		if err != nil || fk.From != "--secret-key "+flagKey {
			t.Fatalf("FindKey = %+v, %v", fk, err)
		}
	})
	t.Run("both set fails as Connect does", func(t *testing.T) {
		_, cfg := connectHost(t, "[Server]\nEncryptionKeyFile = /k\n", map[string]string{"CONNECT_SERVER_ENCRYPTIONKEY": "S3ntinelKey"})
		_, err := FindKey(KeySearch{Config: cfg})
		if !errors.Is(err, ErrBothKeys) || !strings.Contains(err.Error(), "Connect refuses to start") ||
			!strings.Contains(err.Error(), "from CONNECT_SERVER_ENCRYPTIONKEY") || strings.Contains(err.Error(), "S3ntinelKey") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("bad inline key shows no key material", func(t *testing.T) {
		_, cfg := connectHost(t, "[Server]\nEncryptionKey = S3ntinelKey\n", nil)
		_, err := FindKey(KeySearch{Config: cfg})
		if err == nil || strings.Contains(err.Error(), "S3ntinelKey") || !strings.Contains(err.Error(), "rstudio-connect.gcfg:2") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestResolverUsesConnectsKey: on a host laid out like Connect's, an
// encrypted Postgres.Password decrypts with no key flag at all.
func TestResolverUsesConnectsKey(t *testing.T) {
	k, _, _ := LoadKey("testdata/connect.key")
	enc := encryptShaped(t, k, "the-password", false)
	root, cfg := connectHost(t, "[Postgres]\nURL = postgres://connect@db/connect\nPassword = "+enc+"\n", nil)
	none := func(string) string { return "" }
	r := &Resolver{Config: cfg, Getenv: none, HomeDir: root}
	if _, _, err := r.Password(Primary, cfg.Postgres.Password, "db", "5432", "connect", "connect"); err == nil ||
		!strings.Contains(err.Error(), "/var/lib/rstudio-connect/db/secret.key") {
		t.Fatalf("without the key: %v", err)
	}
	installKey(t, root, "var/lib/rstudio-connect/db/secret.key", 0o600)
	r = &Resolver{Config: cfg, Getenv: none, HomeDir: root}
	got, warnings, err := r.Password(Primary, cfg.Postgres.Password, "db", "5432", "connect", "connect")
	if err != nil || got.Secret.Reveal() != "the-password" || len(warnings) != 0 {
		t.Fatalf("got %q, %q, %v", got.Secret.Reveal(), warnings, err)
	}
	if got.Source != "/etc/rstudio-connect/rstudio-connect.gcfg:3 (decrypted)" {
		t.Errorf("source %q", got.Source)
	}
}

// TestLongAlphanumericPasswordsArePlain: 56-, 64- and 88-character
// alphanumeric passwords are used as plain text with a warning, with and
// without a key, and never fail.
func TestLongAlphanumericPasswordsArePlain(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, n := range []int{56, 64, 88} {
		pw := alnum(rng, n)
		for _, withKey := range []bool{false, true} {
			root, cfg := connectHost(t, "[Postgres]\nPassword = "+pw+"\n", nil)
			if withKey {
				installKey(t, root, "var/lib/rstudio-connect/db/secret.key", 0o600)
			}
			r := &Resolver{Config: cfg, Getenv: func(string) string { return "" }, HomeDir: root}
			got, warnings, err := r.Password(Primary, cfg.Postgres.Password, "db", "5432", "connect", "connect")
			if err != nil || got.Secret.Reveal() != pw || len(warnings) != 1 || strings.Contains(warnings[0], pw) {
				t.Errorf("%d chars, key %v: %v %q", n, withKey, err, warnings)
			}
		}
	}
}

func TestEnvPasswordIsNotNaggedAsPlainText(t *testing.T) {
	_, cfg := connectHost(t, "[Postgres]\nURL = postgres://c@h/d\n", map[string]string{"CONNECT_POSTGRES_PASSWORD": "helm-secret"})
	r := &Resolver{Config: cfg, Getenv: func(string) string { return "" }}
	got, warnings, err := r.Password(Primary, cfg.Postgres.Password, "h", "5432", "d", "c")
	if err != nil || got.Secret.Reveal() != "helm-secret" || len(warnings) != 0 ||
		got.Source != "CONNECT_POSTGRES_PASSWORD (plain text)" {
		t.Errorf("got %q from %q, %q, %v", got.Secret.Reveal(), got.Source, warnings, err)
	}
}

// FuzzCiphertextShape: a value of letters and digits only is never
// ShapeCiphertext (so a long random password never stops connectdb), and
// whatever Encrypt makes is never ShapePlain.
func FuzzCiphertextShape(f *testing.F) {
	k, _, err := LoadKey("testdata/connect.key")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("Q7hLk2PzX9aVbN4mR8sT1uW6yC3dE5fG0jH2kL4nP6qS8tV0xZ2bD4fH6jK8mN0p", false)
	f.Add("", true)
	f.Fuzz(func(t *testing.T, s string, fips bool) {
		shape := CiphertextShape(s)
		if strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == "" && shape == ShapeCiphertext {
			t.Fatalf("alphanumeric %q counted as ciphertext", s)
		}
		enc, err := k.Encrypt(s, fips)
		if err != nil {
			t.Fatal(err)
		}
		if CiphertextShape(enc) == ShapePlain {
			t.Fatalf("Encrypt(%q, %v) = %q has shape plain", s, fips, enc)
		}
		if p, err := k.Decrypt(enc); err != nil || p != s {
			t.Fatalf("round trip: %v", err)
		}
	})
}
