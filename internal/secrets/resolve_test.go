package secrets

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPasswordPrecedence(t *testing.T) {
	dir := t.TempDir()
	keyData, _ := os.ReadFile("testdata/connect.key")
	keyPath := writeFile(t, filepath.Join(dir, "secret.key"), string(keyData), 0o600)
	k, _, _ := LoadKey(keyPath)
	enc := encryptShaped(t, k, "from-config", false)
	encFIPS := encryptShaped(t, k, "from-config-fips", true)
	pwFile := writeFile(t, filepath.Join(dir, "pw"), "from-file\r\nsecond line\n", 0o600)
	home := filepath.Join(dir, "home")
	os.Mkdir(home, 0o700)
	writeFile(t, filepath.Join(home, ".pgpass"), "other:5432:*:*:nope\ndb.example.com:*:connect:connect:from-pgpass\n", 0o600)
	altPgpass := writeFile(t, filepath.Join(dir, "alt.pgpass"), "*:*:*:*:from-alt\n", 0o600)
	openPgpass := writeFile(t, filepath.Join(dir, "open.pgpass"), "*:*:*:*:from-open\n", 0o644)

	const alnum64 = "Q7hLk2PzX9aVbN4mR8sT1uW6yC3dE5fG0jH2kL4nP6qS8tV0xZ2bD4fH6jK8mN0p"
	tests := []struct {
		name     string
		file     string
		keyPath  string
		env      map[string]string
		target   Target
		config   string
		want     string
		source   string
		warning  string
		errorHas string
	}{
		{name: "password file first", file: pwFile, env: map[string]string{EnvPassword: "e", EnvPGPassword: "p"}, config: enc,
			want: "from-file", source: "--password-file " + pwFile},
		{name: "env primary", env: map[string]string{EnvPassword: "from-env", EnvInstrumentationPassword: "i", EnvPGPassword: "p"}, config: enc,
			want: "from-env", source: EnvPassword},
		{name: "env instrumentation", target: Instrumentation, env: map[string]string{EnvPassword: "x", EnvInstrumentationPassword: "from-ienv"}, config: enc,
			want: "from-ienv", source: EnvInstrumentationPassword},
		{name: "config decrypted with flag key", keyPath: keyPath, env: map[string]string{EnvPGPassword: "p"}, config: enc,
			want: "from-config", source: "Postgres.Password (decrypted)"},
		{name: "config decrypted with env key", env: map[string]string{EnvSecretKey: keyPath}, config: encFIPS,
			want: "from-config-fips", source: "Postgres.Password (decrypted)"},
		{name: "instrumentation config", target: Instrumentation, keyPath: keyPath, config: enc,
			want: "from-config", source: "Postgres.InstrumentationPassword (decrypted)"},
		{name: "config plain text", config: "hunter2", env: map[string]string{EnvPGPassword: "p"},
			want: "hunter2", source: "Postgres.Password (plain text)", warning: "is plain text, not an encrypted value; Connect accepts it"},
		{name: "encrypted but no key", config: enc, env: map[string]string{EnvPGPassword: "p"},
			errorHas: "Postgres.Password is encrypted, but no secret key was found"},
		{name: "wrong key", keyPath: writeFile(t, filepath.Join(dir, "wrong.key"), strings.Repeat("ab", 512), 0o600), config: enc,
			errorHas: "Postgres.Password has the structure of an encrypted value but does not decrypt with the secret key from --secret-key " + filepath.Join(dir, "wrong.key") + " (wrong key or corrupt value)"},
		{name: "long alphanumeric plain password, no key", config: alnum64, want: alnum64, source: "Postgres.Password (plain text)",
			warning: "could be a long plain-text password or an encrypted value, and no secret key was found, so connectdb uses it as plain text"},
		{name: "long alphanumeric plain password, key", keyPath: keyPath, config: alnum64, want: alnum64, source: "Postgres.Password (plain text)",
			warning: "does not decrypt with the secret key from --secret-key " + keyPath + ", so connectdb uses it as plain text"},
		{name: "missing key file", keyPath: filepath.Join(dir, "nokey"), config: enc, errorHas: "not found"},
		{name: "PGPASSWORD", env: map[string]string{EnvPGPassword: "from-pg"}, want: "from-pg", source: "PGPASSWORD"},
		{name: "pgpass in home", want: "from-pgpass", source: "~/.pgpass:2"},
		{name: "PGPASSFILE", env: map[string]string{EnvPGPassFile: altPgpass}, want: "from-alt", source: altPgpass + ":1"},
		{name: "open pgpass ignored", env: map[string]string{EnvPGPassFile: openPgpass}, warning: "readable by group or others"},
		{name: "nothing", env: map[string]string{EnvPGPassFile: filepath.Join(dir, "none")}},
		{name: "missing password file", file: filepath.Join(dir, "nofile"), errorHas: "password file " + filepath.Join(dir, "nofile") + " not found"},
		{name: "empty password file", file: writeFile(t, filepath.Join(dir, "empty"), "", 0o600), errorHas: "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Resolver{PasswordFile: tt.file, KeyPath: tt.keyPath, HomeDir: home,
				Getenv: func(k string) string { return tt.env[k] }}
			target := tt.target
			if target == "" {
				target = Primary
			}
			got, warnings, err := r.Password(target, tt.config, "db.example.com", "5432", "connect", "connect")
			if tt.errorHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errorHas) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.errorHas)
				}
				if got.Found() {
					t.Errorf("password found along with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Secret.Reveal() != tt.want || got.Source != tt.source {
				t.Errorf("got %q from %q, want %q from %q", got.Secret.Reveal(), got.Source, tt.want, tt.source)
			}
			wantFallback := tt.source == EnvPGPassword || strings.Contains(tt.source, "pgpass")
			if got.Fallback() != wantFallback {
				t.Errorf("Fallback() = %v for source %q, want %v", got.Fallback(), got.Source, wantFallback)
			}
			if tt.warning == "" && len(warnings) > 0 || tt.warning != "" && !strings.Contains(strings.Join(warnings, "\n"), tt.warning) {
				t.Errorf("warnings = %q, want %q", warnings, tt.warning)
			}
		})
	}
}

func TestResolverDecrypt(t *testing.T) {
	_, vs := loadVectors(t)
	r := &Resolver{KeyPath: "testdata/connect.key", Getenv: func(string) string { return "" }}
	s, _, err := r.Decrypt("Postgres.AzureClientSecret", vs[1].Ciphertext)
	if err != nil || s.Reveal() != vs[1].Plaintext {
		t.Errorf("Decrypt = %v", err)
	}
	s, warnings, err := r.Decrypt("Postgres.AzureClientSecret", "plain-secret")
	if err != nil || s.Reveal() != "plain-secret" || len(warnings) != 1 {
		t.Errorf("plain: %v %v", warnings, err)
	}
	if s, _, err := r.Decrypt("Postgres.AzureClientSecret", ""); err != nil || !s.IsZero() {
		t.Errorf("empty: %v", err)
	}
	r.KeyPath = ""
	if _, _, err := r.Decrypt("Postgres.AzureClientSecret", vs[1].Ciphertext); err == nil ||
		!strings.Contains(err.Error(), "Postgres.AzureClientSecret is encrypted, but no secret key was found") {
		t.Errorf("no key: %v", err)
	}
}

func TestPgpassParse(t *testing.T) {
	tests := []struct {
		name                       string
		file                       string
		host, port, database, user string
		want                       string
		line                       int
	}{
		{"exact", "h:5432:db:u:pw\n", "h", "5432", "db", "u", "pw", 1},
		{"first match wins", "*:*:*:*:first\nh:5432:db:u:second\n", "h", "5432", "db", "u", "first", 1},
		{"wildcards", "# comment\n\nh:*:*:u:pw\n", "h", "6543", "any", "u", "pw", 3},
		{"no match", "h:5432:db:u:pw\n", "h", "5432", "db", "other", "", 0},
		{"escaped colon in host", `h\:1:5432:db:u:pw` + "\n", "h:1", "5432", "db", "u", "pw", 1},
		{"escaped backslash", `h:5432:d\\b:u:pw` + "\n", "h", "5432", `d\b`, "u", "pw", 1},
		{"password with colon and escapes", `h:5432:db:u:p:w\:x\\y` + "\n", "h", "5432", "db", "u", `p:w:x\y`, 1},
		{"CRLF", "h:5432:db:u:pw\r\n", "h", "5432", "db", "u", "pw", 1},
		{"short line skipped", "h:5432:db\nh:5432:db:u:pw\n", "h", "5432", "db", "u", "pw", 2},
		{"localhost for empty host", "localhost:5432:db:u:pw\n", "", "", "db", "u", "pw", 1},
		{"localhost for socket", "localhost:5432:db:u:pw\n", "/var/run/postgresql", "5432", "db", "u", "pw", 1},
		{"escaped star is literal", `\*:5432:db:u:pw` + "\n", "h", "5432", "db", "u", "", 0},
		{"empty password", "h:5432:db:u:\n", "h", "5432", "db", "u", "", 1},
		{"no trailing newline", "h:5432:db:u:pw", "h", "5432", "db", "u", "pw", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok, err := LookupPgpass(strings.NewReader(tt.file), tt.host, tt.port, tt.database, tt.user)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tt.line != 0) || e.Password.Reveal() != tt.want || e.Line != tt.line {
				t.Errorf("got %q line %d ok=%v, want %q line %d", e.Password.Reveal(), e.Line, ok, tt.want, tt.line)
			}
		})
	}
}

// TestPgpassEscapeProperty escapes random fields, writes a line and checks
// they come back unchanged.
func TestPgpassEscapeProperty(t *testing.T) {
	esc := func(s string) string { return strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(s) }
	alphabet := []rune(`ab:\*é #`)
	rngState := uint64(99)
	rnd := func(n int) int {
		rngState = rngState*6364136223846793005 + 1442695040888963407
		return int(rngState>>33) % n
	}
	word := func() string {
		var b strings.Builder
		for i := rnd(8); i > 0; i-- {
			b.WriteRune(alphabet[rnd(len(alphabet))])
		}
		return b.String()
	}
	for i := 0; i < 1000; i++ {
		f := [5]string{word(), word(), word(), word(), word()}
		if f[0] == "" && f[1] == "" && f[2] == "" && f[3] == "" && strings.HasPrefix(f[4], "#") {
			continue
		}
		line := esc(f[0]) + ":" + esc(f[1]) + ":" + esc(f[2]) + ":" + esc(f[3]) + ":" + esc(f[4])
		if strings.HasPrefix(line, "#") {
			continue
		}
		entries, err := ParsePgpass(strings.NewReader(line + "\n"))
		if err != nil || len(entries) != 1 {
			t.Fatalf("%q: %v %d entries", line, err, len(entries))
		}
		e := entries[0]
		if e.Host != f[0] || e.Port != f[1] || e.Database != f[2] || e.User != f[3] || e.Password.Reveal() != f[4] {
			t.Fatalf("%q: got %+v", line, []string{e.Host, e.Port, e.Database, e.User, e.Password.Reveal()})
		}
		if !e.Matches(f[0], f[1], f[2], f[3]) && f[0] != "" && f[1] != "" {
			t.Fatalf("%q: does not match its own fields", line)
		}
	}
}

func FuzzPgpass(f *testing.F) {
	f.Add("h:5432:db:u:pw\n", "h", "5432", "db", "u")
	f.Add(`*:*:*:*:p\:w\\`+"\n# c\n\n", "", "", "", "")
	f.Add(`h\:1:\\::::`, "h:1", `\`, "", "")
	f.Fuzz(func(t *testing.T, file, host, port, database, user string) {
		entries, err := ParsePgpass(strings.NewReader(file))
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Line < 1 {
				t.Fatalf("bad line %d", e.Line)
			}
		}
		e, ok, _ := LookupPgpass(strings.NewReader(file), host, port, database, user)
		if ok && !e.Matches(host, port, database, user) {
			t.Fatal("lookup returned a non-matching entry")
		}
	})
}

// TestSecretsNeverPrinted formats every type that holds a secret, and
// every error, in every common way and checks the plaintext is absent.
func TestSecretsNeverPrinted(t *testing.T) {
	const sentinel = "S3ntinel-Pa55word"
	dir := t.TempDir()
	k, _, err := LoadKey("testdata/connect.key")
	if err != nil {
		t.Fatal(err)
	}
	enc := encryptShaped(t, k, sentinel, false)
	wrong := writeFile(t, filepath.Join(dir, "wrong.key"), strings.Repeat("cd", 512), 0o600)
	pgpass := writeFile(t, filepath.Join(dir, "pgpass"), "*:*:*:*:"+sentinel+"\n", 0o600)
	entries, _ := ParsePgpass(strings.NewReader("*:*:*:*:" + sentinel + "\n"))

	s := NewSecret(sentinel)
	res := Resolved{Secret: s, Source: "test"}
	things := []any{s, &s, res, &res, entries, entries[0], k, *k}

	// Errors from every failure path that sees the secret.
	env := func(k string) string { return map[string]string{EnvPGPassFile: pgpass}[k] }
	for _, r := range []*Resolver{{Getenv: env}, {KeyPath: wrong, Getenv: env}} {
		_, _, err := r.Password(Primary, enc, "h", "5432", "d", "u")
		if err == nil {
			t.Fatal("expected an error")
		}
		things = append(things, err)
		_, _, err = r.Decrypt("Postgres.AzureClientSecret", enc)
		things = append(things, err)
	}
	_, err = otherKey(t, 1).Decrypt(enc)
	things = append(things, err, errors.Unwrap(err))
	// Successful resolutions from each source.
	for _, r := range []*Resolver{
		{KeyPath: "testdata/connect.key", Getenv: env},
		{Getenv: func(k string) string { return map[string]string{EnvPassword: sentinel}[k] }},
		{Getenv: env},
	} {
		cv := enc
		if r.KeyPath == "" {
			cv = ""
		}
		got, _, err := r.Password(Primary, cv, "h", "5432", "d", "u")
		if err != nil || got.Secret.Reveal() != sentinel {
			t.Fatalf("resolve: %v", err)
		}
		things = append(things, got)
	}

	for i, v := range things {
		outs := []string{
			fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v),
			fmt.Sprintf("%s", v), fmt.Sprintf("%q", v), fmt.Sprint(v), fmt.Sprintf("%x", v),
		}
		if j, err := json.Marshal(v); err == nil {
			outs = append(outs, string(j))
		}
		var b strings.Builder
		slog.New(slog.NewTextHandler(&b, nil)).Info("x", "v", v)
		slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "v", v)
		outs = append(outs, b.String())
		for _, o := range outs {
			if strings.Contains(o, sentinel) || strings.Contains(o, fmt.Sprintf("%x", sentinel)) {
				t.Errorf("thing %d (%T) leaks the secret: %s", i, v, o)
			}
		}
	}
	for _, v := range []any{k, *k} {
		want := "secrets.Key(testdata/connect.key)"
		for _, got := range []string{fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v), fmt.Sprintf("%x", v), fmt.Sprintf("%d", v)} {
			if got != want {
				t.Errorf("%T formats as %q, want %q", v, got, want)
			}
		}
	}
	if got := fmt.Sprintf("%v|%s|%#v", s, s, s); got != "xxxxx|xxxxx|xxxxx" {
		t.Errorf("Secret formats as %q", got)
	}
	if j, _ := json.Marshal(res); string(j) != `{"Secret":"xxxxx","Source":"test"}` {
		t.Errorf("Resolved JSON = %s", j)
	}
}
