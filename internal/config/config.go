// Package config loads the parts of a Posit Connect configuration file
// (rstudio-connect.gcfg) that connectdb needs: the [Server], [Database],
// [Postgres] and [SQLite] sections.
//
// The file uses git-config ("gcfg") syntax and is decoded with
// gopkg.in/gcfg.v1, following Connect's rules: section and variable
// names are case-insensitive, a section may appear several times and its
// variables add up, and when a single-valued variable is given more than
// once the last value wins. Sections and variables that connectdb does not
// read are ignored, so a complete production file loads as is.
//
// Besides the values, a Config remembers on which line each variable was
// set, so that callers can point the user at the exact place to fix.
package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
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

	// keys maps a normalized key (see normKey) to where it was last set.
	keys map[string]int
}

// Server holds the [Server] settings connectdb uses.
type Server struct {
	// DataDir is Connect's data directory.
	DataDir string
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
		SQLite: SQLite{Dir: filepath.Join(DefaultDataDir, "db")},
		keys:   map[string]int{},
	}
}

// Load reads the config file at path. A path of "-" reads stdin instead,
// and messages then name the file "<stdin>".
func Load(path string, stdin io.Reader) (*Config, error) {
	if path == "-" {
		if stdin == nil {
			return nil, errors.New("no standard input to read the config from; pass --config PATH")
		}
		return Parse(path, stdin)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, openError(path, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("config path %s is a directory; pass --config with the path of rstudio-connect.gcfg", path)
	}
	return Parse(path, f)
}

func openError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("config file %s not found; pass --config PATH or --url URL: %w", path, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("permission denied reading config file %s; run connectdb as root (for example with sudo) or as a user who can read it: %w", path, err)
	default:
		return fmt.Errorf("cannot open config file %s; check the path passed with --config: %w", path, err)
	}
}

// Parse decodes a config file read from r. The name is used in messages;
// "-" stands for standard input.
func Parse(name string, r io.Reader) (*Config, error) {
	if name == "-" {
		name = stdinName
	}
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("cannot read config file %s: %w", name, err)
	}
	return parse(name, src)
}

// IsSet reports whether key, such as "Database.MaxIdleConnections", was
// written in the file. Section and variable names are case-insensitive;
// a subsection is written between them: `LDAP.corp ldap.ServerAddress`.
func (c *Config) IsSet(key string) bool {
	_, ok := c.keys[normKey(key)]
	return ok
}

// Line returns the line where key was last set, or 0 when it was not set.
// A key naming only a section, such as "Postgres", gives the line of that
// section's first header.
func (c *Config) Line(key string) int {
	return c.keys[normKey(key)]
}

// Where returns "FILE:LINE" for key when it was set, or just the file name
// otherwise; handy for messages that tell the user what to edit.
func (c *Config) Where(key string) string {
	name := c.Path
	if name == "" {
		name = DefaultPath
	}
	if l := c.Line(key); l > 0 {
		return fmt.Sprintf("%s:%d", name, l)
	}
	return name
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
