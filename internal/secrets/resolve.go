package secrets

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/connectdb/connectdb/internal/config"
)

// Environment variables the Resolver reads.
const (
	EnvPassword                = "CONNECTDB_POSTGRES_PASSWORD"
	EnvInstrumentationPassword = "CONNECTDB_INSTRUMENTATION_PASSWORD"
	EnvSecretKey               = "CONNECTDB_SECRET_KEY"
	EnvPGPassword              = "PGPASSWORD"
	EnvPGPassFile              = "PGPASSFILE"
)

// Target says which of Connect's databases a password is for.
type Target string

const (
	Primary         Target = "primary"         // Postgres.URL
	Instrumentation Target = "instrumentation" // Postgres.InstrumentationURL
)

// setting returns the config setting holding the target's password.
func (t Target) setting() string {
	if t == Instrumentation {
		return "Postgres.InstrumentationPassword"
	}
	return "Postgres.Password"
}

func (t Target) env() string {
	if t == Instrumentation {
		return EnvInstrumentationPassword
	}
	return EnvPassword
}

// Origin is the kind of place a password came from.
type Origin int

const (
	OriginNone   Origin = iota
	OriginFile          // --password-file
	OriginEnv           // CONNECTDB_POSTGRES_PASSWORD or CONNECTDB_INSTRUMENTATION_PASSWORD
	OriginConfig        // Postgres.Password or Postgres.InstrumentationPassword
	OriginPGEnv         // PGPASSWORD
	OriginPgpass        // ~/.pgpass or PGPASSFILE
)

// Resolved is a password and where it came from.
type Resolved struct {
	Secret Secret
	// Source names the origin for messages, to be read after "from": e.g.
	// "--password-file /run/pw", "CONNECTDB_POSTGRES_PASSWORD",
	// "rstudio-connect.gcfg:12 (decrypted)", "PGPASSWORD" or
	// "~/.pgpass:3". It is empty when no password was found.
	Source string
	Origin Origin `json:"-"`
}

// Found reports whether a password was found.
func (r Resolved) Found() bool { return r.Source != "" }

// Fallback reports whether the password came from PGPASSWORD or a pgpass
// file: like libpq, callers let a password written in the URL win over these.
func (r Resolved) Fallback() bool {
	return r.Origin == OriginPGEnv || r.Origin == OriginPgpass
}

// Resolver finds passwords. The zero value reads the real environment and
// home directory.
type Resolver struct {
	// PasswordFile is the --password-file flag; its first line is the
	// password for every target.
	PasswordFile string
	// KeyPath is Connect's secret key file (--secret-key); when empty,
	// CONNECTDB_SECRET_KEY is used.
	KeyPath string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// HomeDir holds .pgpass; empty means $HOME, then the user's home
	// directory.
	HomeDir string
	// Config is Connect's configuration: where its key is (see FindKey)
	// and where each setting's value came from. May be nil.
	Config *config.Config

	key    *FoundKey // found by findKey, once
	keyErr error
	looked bool
}

func (r *Resolver) getenv(name string) string {
	if r.Getenv == nil {
		return os.Getenv(name)
	}
	return r.Getenv(name)
}

// findKey finds Connect's secret key once (see FindKey).
func (r *Resolver) findKey() (*FoundKey, error) {
	if !r.looked {
		path := r.KeyPath
		if path == "" {
			path = r.getenv(EnvSecretKey)
		}
		r.key, r.keyErr = FindKey(KeySearch{Path: path, Config: r.Config})
		r.looked = true
	}
	return r.key, r.keyErr
}

// from returns " (from ORIGIN)" for a setting of r.Config, or "".
func (r *Resolver) from(setting string) string {
	if r.Config == nil {
		return ""
	}
	if o := r.Config.Origin(setting); o.Kind != config.FromDefault {
		return " (from " + o.String() + ")"
	}
	return ""
}

// Password finds the password for target t. The sources, in order:
// PasswordFile; env CONNECTDB_POSTGRES_PASSWORD (or
// CONNECTDB_INSTRUMENTATION_PASSWORD); configValue, the value of
// Postgres.Password (or Postgres.InstrumentationPassword), decrypted when
// it looks encrypted; PGPASSWORD; the pgpass file, matched against host,
// port, database and user. It returns a zero Resolved and no error when no
// source has a password.
//
// A config value that looks encrypted is never used as a password: without
// a key, or when decryption fails, Password returns an error that says
// how to supply the key or the plaintext.
func (r *Resolver) Password(t Target, configValue, host, port, database, user string) (Resolved, []string, error) {
	if r.PasswordFile != "" {
		s, warnings, err := readPasswordFile(r.PasswordFile)
		if err != nil {
			return Resolved{}, warnings, err
		}
		return Resolved{Secret: s, Source: "--password-file " + r.PasswordFile, Origin: OriginFile}, warnings, nil
	}
	if v := r.getenv(t.env()); v != "" {
		return Resolved{Secret: NewSecret(v), Source: t.env(), Origin: OriginEnv}, nil, nil
	}
	if configValue != "" {
		s, decrypted, warnings, err := r.decrypt(t.setting(), configValue, t.env())
		if err != nil {
			return Resolved{}, warnings, err
		}
		src := r.where(t.setting()) + " (plain text)"
		if decrypted {
			src = r.where(t.setting()) + " (decrypted)"
		}
		return Resolved{Secret: s, Source: src, Origin: OriginConfig}, warnings, nil
	}
	if v := r.getenv(EnvPGPassword); v != "" {
		return Resolved{Secret: NewSecret(v), Source: EnvPGPassword, Origin: OriginPGEnv}, nil, nil
	}
	return r.pgpass(host, port, database, user)
}

// where names where setting was set, for Source.
// where names where setting's value came from, as a password source:
// "rstudio-connect.gcfg:12", "CONNECT_POSTGRES_PASSWORD",
// "--env-file /etc/default/rstudio-connect:3", or the setting's name when
// no config tells.
func (r *Resolver) where(setting string) string {
	if r.Config != nil {
		if o := r.Config.Origin(setting); o.Kind != config.FromDefault {
			return o.String()
		}
	}
	return setting
}

// Decrypt decrypts the value of an encrypted setting such as
// Postgres.AzureClientSecret. Connect expects such settings encrypted; a
// value that does not look encrypted is passed through with a warning. An
// empty value gives a zero Secret.
func (r *Resolver) Decrypt(settingName, value string) (Secret, []string, error) {
	if value == "" {
		return Secret{}, nil, nil
	}
	s, _, warnings, err := r.decrypt(settingName, value, "")
	return s, warnings, err
}

// decrypt turns a config value into the secret Connect would use. With a
// key (see FindKey), a value that decrypts is ciphertext and any other is
// plain text. Without one, only a value with the exact structure of
// Connect's ciphertext (CiphertextShape) counts as encrypted, and that is
// an error that says how to supply the key; a long letters-and-digits
// value is used as plain text with a warning. plainEnv, when set, names
// the environment variable that can carry the plaintext.
func (r *Resolver) decrypt(setting, value, plainEnv string) (s Secret, decrypted bool, warnings []string, err error) {
	plainHint := ""
	if plainEnv != "" {
		plainHint = fmt.Sprintf(", or give the plaintext password with %s or --password-file", plainEnv)
	}
	named := setting + r.from(setting)
	shape := CiphertextShape(value)
	if shape == ShapePlain {
		if r.Config == nil || !r.Config.Origin(setting).IsEnv() {
			warnings = append(warnings, fmt.Sprintf("%s is plain text, not an encrypted value; Connect accepts it, but anyone who can read the config file can read it: encrypt it with rscadmin encrypt-config-value", named))
		}
		return NewSecret(value), false, warnings, nil
	}
	var fk *FoundKey
	var kerr error
	if r.Config != nil || r.KeyPath != "" || r.getenv(EnvSecretKey) != "" {
		fk, kerr = r.findKey()
	}
	if fk != nil {
		warnings = append(warnings, fk.Warnings...)
		if p, err := fk.Key.Decrypt(value); err == nil {
			return NewSecret(p), true, warnings, nil
		}
		if shape == ShapeCiphertext {
			return Secret{}, false, warnings, fmt.Errorf("%s has the structure of an encrypted value but does not decrypt with the secret key from %s (%w): either it was encrypted with another key (pass this server's key with --secret-key, or encrypt it again with rscadmin encrypt-config-value) or it is a plain-text password shaped like ciphertext%s",
				named, fk.From, ErrDecrypt, plainHint)
		}
		warnings = append(warnings, fmt.Sprintf("%s does not decrypt with the secret key from %s, so connectdb uses it as plain text; if it is an encrypted value, it was made with another key: encrypt it again with rscadmin encrypt-config-value on this server", named, fk.From))
		return NewSecret(value), false, warnings, nil
	}
	if shape == ShapeCiphertext {
		if kerr != nil {
			return Secret{}, false, warnings, fmt.Errorf("%s is encrypted, but Connect's secret key could not be read: %w%s", named, kerr, plainHint)
		}
		return Secret{}, false, warnings, fmt.Errorf("%s is encrypted, but no secret key was found (looked at %s); pass Connect's key file with --secret-key PATH or %s%s", named, KeySearch{Config: r.Config}.Places(), EnvSecretKey, plainHint)
	}
	why := "no secret key was found"
	if kerr != nil {
		why = "Connect's secret key could not be read (" + kerr.Error() + ")"
	}
	warnings = append(warnings, fmt.Sprintf("%s could be a long plain-text password or an encrypted value, and %s, so connectdb uses it as plain text; if Connect decrypts it, pass the key with --secret-key", named, why))
	return NewSecret(value), false, warnings, nil
}

// readPasswordFile returns the first line of path without its line ending.
func readPasswordFile(path string) (Secret, []string, error) {
	var warnings []string
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o077 != 0 {
		warnings = append(warnings, fmt.Sprintf("password file %s is readable by group or others (mode %04o); run chmod 600 %s", path, st.Mode().Perm(), path))
	}
	f, err := os.Open(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return Secret{}, warnings, fmt.Errorf("password file %s not found; check the path given to --password-file: %w", path, err)
		case errors.Is(err, fs.ErrPermission):
			return Secret{}, warnings, fmt.Errorf("permission denied reading password file %s; make it readable by the user running connectdb: %w", path, err)
		}
		return Secret{}, warnings, fmt.Errorf("cannot read password file %s: %w", path, err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		if errors.Is(err, io.EOF) {
			return Secret{}, warnings, fmt.Errorf("password file %s is empty; write the password on its first line", path)
		}
		return Secret{}, warnings, fmt.Errorf("cannot read password file %s: %w", path, err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	return NewSecret(line), warnings, nil
}

// home returns the home directory: HomeDir, $HOME, or the account's.
func (r *Resolver) home() string {
	if r.HomeDir != "" {
		return r.HomeDir
	}
	if h := r.getenv("HOME"); h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

// PgpassPath returns the libpq password file to read: PGPASSFILE, or
// .pgpass in the home directory; "" when there is no home directory.
func (r *Resolver) PgpassPath() string {
	if p := r.getenv(EnvPGPassFile); p != "" {
		return p
	}
	if h := r.home(); h != "" {
		return filepath.Join(h, ".pgpass")
	}
	return ""
}

// tilde shortens a path inside the home directory to ~/..., as people
// write it.
func (r *Resolver) tilde(path string) string {
	h := r.home()
	if h != "" && h != "/" {
		if rel, err := filepath.Rel(h, path); err == nil && !strings.HasPrefix(rel, "..") && rel != "." {
			return "~/" + rel
		}
	}
	return path
}

// pgpass looks the connection up in the libpq password file. Like libpq, it
// never uses a file that group or others may read, and says so.
func (r *Resolver) pgpass(host, port, database, user string) (Resolved, []string, error) {
	path := r.PgpassPath()
	if path == "" {
		return Resolved{}, nil, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return Resolved{}, nil, nil // like libpq: no file, no password
	}
	if !st.Mode().IsRegular() {
		return Resolved{}, []string{fmt.Sprintf("ignoring password file %s: it is not a plain file", path)}, nil
	}
	if st.Mode().Perm()&0o077 != 0 {
		return Resolved{}, []string{fmt.Sprintf("ignoring password file %s: it is readable by group or others (mode %04o), so no command uses it (libpq and psql refuse it too); run chmod 600 %s", path, st.Mode().Perm(), path)}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return Resolved{}, []string{fmt.Sprintf("ignoring password file %s: %v", path, err)}, nil
	}
	defer f.Close()
	e, ok, err := LookupPgpass(f, host, port, database, user)
	if !ok {
		if err != nil {
			return Resolved{}, []string{fmt.Sprintf("could not read all of password file %s: %v", path, err)}, nil
		}
		return Resolved{}, nil, nil
	}
	return Resolved{Secret: e.Password, Source: fmt.Sprintf("%s:%d", r.tilde(path), e.Line), Origin: OriginPgpass}, nil, nil
}
