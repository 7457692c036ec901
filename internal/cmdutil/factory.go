package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/connectdb/connectdb/internal/config"
	"github.com/connectdb/connectdb/internal/iostreams"
)

// DefaultConfigPath is where Connect keeps its configuration.
const DefaultConfigPath = "/etc/rstudio-connect/rstudio-connect.gcfg"

// Globals are the flags every command accepts (see docs/global-flags.md).
type Globals struct {
	ConfigPath         string        // --config, CONNECTDB_CONFIG
	ConfigExplicit     bool          // --config or CONNECTDB_CONFIG was given
	Output             string        // --output
	NoColor            bool          // --no-color
	Timeout            time.Duration // --timeout: bounds every network operation
	URL                string        // --url, CONNECTDB_URL: overrides Postgres.URL
	URLSource          string        // where URL came from when not --url, e.g. "libpq environment (PGHOST)"
	InstrumentationURL string        // --instrumentation-url: overrides Postgres.InstrumentationURL
	SecretKey          string        // --secret-key, CONNECTDB_SECRET_KEY
	PasswordFile       string        // --password-file
	EnvFile            string        // --env-file: Connect's environment (CONNECT_* overrides), systemd EnvironmentFile syntax
	LockID             string        // --lock-id, CONNECTDB_LOCK_ID
	AzureAuthorityHost string        // --azure-authority-host, AZURE_AUTHORITY_HOST: Entra ID authority for Azure logins
}

// Factory carries what commands need from the outside world, so tests can
// replace each piece.
type Factory struct {
	IO      *iostreams.IOStreams
	Globals *Globals
	Getenv  func(string) string
	Now     func() time.Time
	// Root is where Connect's own files (its config at the default path,
	// its secret key) are on this machine: "" (the real root) except in
	// tests, which lay out a Connect host in a temporary directory.
	Root string
}

// ConfigOptions says how to load the Connect config at path ("" for
// none): with Connect's environment overrides from the process and
// --env-file, Root, and --timeout bounding a read from stdin.
func (f *Factory) ConfigOptions(path string) config.LoadOptions {
	return config.LoadOptions{Path: path, Stdin: f.IO.In, Getenv: f.Getenv, EnvFile: f.Globals.EnvFile, Root: f.Root, Timeout: f.Globals.Timeout}
}

// NewFactory returns a Factory for a real process run.
func NewFactory(io *iostreams.IOStreams) *Factory {
	return &Factory{
		IO:      io,
		Globals: &Globals{ConfigPath: DefaultConfigPath, Output: "text", Timeout: 10 * time.Second},
		Getenv:  os.Getenv,
		Now:     time.Now,
	}
}

// IsolatePGEnv removes every PG* variable (PGHOST, PGPORT, PGSSLMODE,
// PGSSLROOTCERT, PGSERVICE, ...) from the process environment and returns
// a getenv that still sees them as they were, for Factory.Getenv. The
// PostgreSQL driver (pgx) reads these variables itself, with os.Getenv, as
// defaults for whatever a URL leaves out; Connect, a service started
// without them, never does. Once they are gone from the process, a
// connection is built from its URL alone, and connectdb's own readers of
// libpq's environment (the target when no Connect config names one,
// PGPASSWORD, the password and service files) read them through Getenv.
// Call it first in main, before anything reads the environment or starts
// a goroutine.
func IsolatePGEnv() func(string) string {
	saved := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") {
			saved[k] = v
			_ = os.Unsetenv(k) // fails only for a name Windows cannot hold
		}
	}
	return func(k string) string {
		if strings.HasPrefix(k, "PG") {
			return saved[k]
		}
		return os.Getenv(k)
	}
}

// CheckOutput returns a usage error unless the --output value is one of allowed.
func (f *Factory) CheckOutput(allowed ...string) error {
	if slices.Contains(allowed, f.Globals.Output) {
		return nil
	}
	return Usagef("--output %q is not supported by this command; use one of: %s", f.Globals.Output, strings.Join(allowed, ", "))
}

// JSON reports whether --output json was asked for.
func (f *Factory) JSON() bool { return f.Globals.Output == "json" }

// WriteJSON writes v as indented JSON followed by a newline.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON output: %w", err)
	}
	return nil
}
