// Package config loads the parts of a Posit Connect configuration file
// (rstudio-connect.gcfg) that connectdb needs: the [Server], [Database],
// [Postgres] and [SQLite] sections, with Connect's environment overrides.
//
// The file uses git-config ("gcfg") syntax and is decoded with
// gopkg.in/gcfg.v1, following Connect's rules: section and variable
// names are case-insensitive, a section may appear several times and its
// variables add up, and when a single-valued variable is given more than
// once the last value wins. Sections and variables that connectdb does not
// read are ignored, so a complete production file loads as is.
//
// Like Connect, LoadOptions.Load lets environment variables
// CONNECT_<SECTION>_<PROPERTY> override the file, read from the process or
// from an --env-file written in systemd EnvironmentFile syntax.
//
// Besides the values, a Config remembers where each value came from (a
// line of the file, an environment variable, a line of the --env-file), so
// that callers can point the user at the exact place to fix.
package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
)

// DefaultPath is where Connect reads its configuration from.
const DefaultPath = "/etc/rstudio-connect/rstudio-connect.gcfg"

// Default values Connect uses when a setting is absent.
const (
	DefaultDataDir            = "/var/lib/rstudio-connect"
	DefaultProvider           = ProviderSQLite
	DefaultMaxIdleConnections = 5
	DefaultMaxOpenConnections = 10
)

// Database.Provider values Connect accepts.
const (
	ProviderSQLite   = "sqlite"
	ProviderPostgres = "postgres"
)

// stdinName is how standard input is named in messages.
const stdinName = "<stdin>"

// Config holds the settings connectdb reads from a Connect config file.
type Config struct {
	// Path is the file name used in messages; "<stdin>" for standard input
	// and "" for a Config made by Default.
	Path string

	Server   Server
	Database Database
	Postgres Postgres
	SQLite   SQLite

	// Root is LoadOptions.Root: where Connect's files are on this machine.
	Root string

	// CutValues lists unquoted values that a # or ; cut short.
	CutValues []CutValue

	// keys maps a normalized key (see normKey) to where it was last set.
	keys map[string]int
	// origins maps the normalized keys of the settings connectdb reads to
	// where their effective values came from.
	origins     map[string]Origin
	envWarnings []string
}

// Server holds the [Server] settings connectdb uses.
type Server struct {
	// DataDir is Connect's data directory.
	DataDir string
	// EncryptionKeyFile is the path of Connect's secret key file when it
	// is not at {DataDir}/db/secret.key.
	EncryptionKeyFile string
	// EncryptionKey is the secret key itself: never print it.
	EncryptionKey string
}

// Database holds the [Database] settings.
type Database struct {
	// Provider is "sqlite" or "postgres", lower-cased.
	Provider string
	// MaxIdleConnections is the size of the idle pool; ≤ 0 disables it.
	MaxIdleConnections int
	// MaxOpenConnections caps open connections per pool.
	MaxOpenConnections int
	// ConnectionMaxLifetime is 0 when unset.
	ConnectionMaxLifetime time.Duration
	// ConnectionMaxLifetimeRaw is the value as written in the file.
	ConnectionMaxLifetimeRaw string
}

// Postgres holds the [Postgres] settings. Password, InstrumentationPassword
// and AzureClientSecret are usually encrypted; see package secrets.
type Postgres struct {
	URL                     string
	Password                string
	InstrumentationURL      string
	InstrumentationPassword string
	AzureTenantId           string
	AzureClientId           string
	AzureClientSecret       string
}

// SQLite holds the [SQLite] settings.
type SQLite struct {
	// Dir is the directory of the SQLite database files.
	Dir string
}

// Default returns the configuration Connect uses when its file sets nothing.
func Default() *Config {
	return &Config{
		Server: Server{DataDir: DefaultDataDir},
		Database: Database{
			Provider:           DefaultProvider,
			MaxIdleConnections: DefaultMaxIdleConnections,
			MaxOpenConnections: DefaultMaxOpenConnections,
		},
		SQLite:  SQLite{Dir: filepath.Join(DefaultDataDir, "db")},
		keys:    map[string]int{},
		origins: map[string]Origin{},
	}
}

// Load reads the config file at path without environment overrides; see
// LoadOptions.Load. A path of "-" reads stdin, and messages then name the
// file "<stdin>".
func Load(path string, stdin io.Reader) (*Config, error) {
	return LoadOptions{Path: path, Stdin: stdin}.Load()
}

func openError(path, flag, what string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if flag == "--config" {
			return fmt.Errorf("config file %s not found; pass --config PATH or --url URL: %w", path, err)
		}
		return fmt.Errorf("%s %s not found; check the path passed with %s: %w", what, path, flag, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("permission denied reading %s %s; run connectdb as root (for example with sudo) or as a user who can read it: %w", what, path, err)
	default:
		return fmt.Errorf("cannot open %s %s; check the path passed with %s: %w", what, path, flag, err)
	}
}

// Parse decodes a config file read from r. The name is used in messages;
// "-" stands for standard input.
func Parse(name string, r io.Reader) (*Config, error) {
	if name == "-" {
		name = stdinName
	}
	src, err := readCapped(r, name, "config file")
	if err != nil {
		return nil, err
	}
	return parse(name, src, envSource{})
}

// IsSet reports whether key, such as "Database.MaxIdleConnections", was
// written in the file or set by an environment override. Section and
// variable names are case-insensitive; a subsection is written between
// them: `LDAP.corp ldap.ServerAddress`.
func (c *Config) IsSet(key string) bool {
	_, ok := c.keys[normKey(key)]
	return ok || c.Origin(key).IsEnv()
}

// Line returns the line where key was last set, or 0 when it was not set.
// A key naming only a section, such as "Postgres", gives the line of that
// section's first header.
func (c *Config) Line(key string) int {
	return c.keys[normKey(key)]
}

// Where returns where key's value came from: "FILE:LINE" when the file
// set it, the environment variable ("CONNECT_POSTGRES_PASSWORD") or
// "--env-file PATH:LINE" when an override did, or just the file name
// otherwise; handy for messages that tell the user what to edit.
func (c *Config) Where(key string) string {
	if o := c.Origin(key); o.Kind != FromDefault {
		return o.String()
	}
	return c.displayPath()
}

func (c *Config) displayPath() string {
	if c.Path == "" {
		return DefaultPath
	}
	return c.Path
}

// normKey lower-cases the section and variable parts of key and keeps a
// subsection (between the first and last dot) as is, the way gcfg compares
// them.
func normKey(key string) string {
	first := strings.IndexByte(key, '.')
	if first < 0 {
		return strings.ToLower(key)
	}
	last := strings.LastIndexByte(key, '.')
	sect, name := strings.ToLower(key[:first]), strings.ToLower(key[last+1:])
	if first == last {
		return sect + "." + name
	}
	return sect + "." + key[first+1:last] + "." + name
}

// Error is a problem found in a config file. Its message is a complete
// sentence that says how to fix the file.
type Error struct {
	Path string // file name as shown to the user
	Line int    // 1-based; 0 when unknown
	Key  string // setting such as "Database.MaxIdleConnections"; may be empty
	Msg  string // what is wrong and how to fix it, without the location
	Err  error  // underlying error, if any
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return e.Path + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }
