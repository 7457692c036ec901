package check

import (
	"time"

	"github.com/connectdb/connectdb/internal/config"
)

// Input is everything the offline checks look at: config values and URL
// strings, independent of where they came from, so tests and the command
// can build one directly.
type Input struct {
	// ConfigPath names the config file the values came from; empty when
	// connectdb runs from --url alone.
	ConfigPath string
	// Where returns "FILE:LINE" for a setting such as
	// "Database.MaxIdleConnections", or "" when unknown. May be nil.
	Where func(key string) string
	// IsSet reports whether the file sets a key. May be nil (nothing set).
	IsSet func(key string) bool

	Provider              string // "postgres" or "sqlite"; "" means postgres (flags only)
	MaxIdleConnections    int
	MaxOpenConnections    int
	ConnectionMaxLifetime string // as written; "" when unset

	Primary         *URLInput
	Instrumentation *URLInput // nil when metrics share the primary database

	AzureTenantID     string
	AzureClientID     string
	AzureClientSecret string // as written (usually encrypted)

	// Decrypt decrypts an encrypted setting value with Connect's secret
	// key; nil when no key was found.
	Decrypt func(setting, value string) (string, error)
	// KeyFrom says where the key was found, e.g.
	// "/var/lib/rstudio-connect/db/secret.key ({Server.DataDir}/db/secret.key)".
	KeyFrom string
	// KeyPlaces lists where connectdb looked for the key, for messages.
	KeyPlaces string
	// KeyWarnings are the secret key loader's findings (permissions).
	KeyWarnings []string
	// KeyError is why the secret key could not be loaded; "" when it
	// loaded or was not found.
	KeyError string
	// KeyBlocks is true when KeyError stops Connect too (both
	// EncryptionKeyFile and EncryptionKey set, a bad EncryptionKey), not
	// only connectdb (a wrong --secret-key, a key only root may read).
	KeyBlocks bool
	// KeyUsage is true when KeyError is about --secret-key itself.
	KeyUsage bool

	// CutValues are unquoted values a # or ; cut short.
	CutValues []config.CutValue
	// MigrationFile is the rstudio-connect-migration.gcfg beside the
	// config when it holds settings; "" otherwise.
	MigrationFile string
	// Overrides lists the environment overrides in effect, such as
	// "Postgres.Password from CONNECT_POSTGRES_PASSWORD".
	Overrides []string
	// EnvWarnings are the lines of --env-file that were ignored.
	EnvWarnings []string

	// Pooler is the --pooler declaration: "", "none", "session" or "transaction".
	Pooler string
	// Nodes is how many Connect nodes share the database (--nodes).
	Nodes int
	// Offline is true with --offline: nothing will connect, so a secret
	// that cannot be checked is a warning, not a failure.
	Offline bool
	// Now is the clock for certificate expiry.
	Now time.Time
}

// URLInput is one connection URL with the settings that go with it.
type URLInput struct {
	Scope  Scope
	Source string // where the URL came from, e.g. "Postgres.URL (rstudio-connect.gcfg:12)" or "--url"
	// Key is the config setting that holds the URL ("Postgres.URL" or
	// "Postgres.InstrumentationURL"), used in remedies.
	Key string
	URL string // raw, may contain a password: never print it
	// PasswordKey is the setting of the separate password ("Postgres.Password").
	PasswordKey string
	Password    string // the separate password as written (often encrypted); "" when unset
	// PasswordElsewhere is true when --password-file or a password
	// environment variable supplies the password.
	PasswordElsewhere bool

	in *Input
}

func (in *Input) where(key string) string {
	if in.Where == nil {
		return ""
	}
	return in.Where(key)
}

func (in *Input) isSet(key string) bool {
	return in.IsSet != nil && in.IsSet(key)
}

// from returns " (from ORIGIN)" for a key that is set, or "".
func (in *Input) from(key string) string {
	if in.isSet(key) {
		if w := in.where(key); w != "" {
			return " (from " + w + ")"
		}
	}
	return ""
}

// at returns " (FILE:LINE)" for key, or "".
func (in *Input) at(key string) string {
	if w := in.where(key); w != "" {
		return " (" + w + ")"
	}
	return ""
}

// urls returns the URL inputs present, primary first.
func (in *Input) urls() []*URLInput {
	var out []*URLInput
	for _, u := range []*URLInput{in.Primary, in.Instrumentation} {
		if u != nil {
			u.in = in
			if u.Scope == "" {
				u.Scope = ScopePrimary
			}
			if u.Key == "" {
				u.Key, u.PasswordKey = "Postgres.URL", "Postgres.Password"
				if u.Scope == ScopeInstrumentation {
					u.Key, u.PasswordKey = "Postgres.InstrumentationURL", "Postgres.InstrumentationPassword"
				}
			}
			out = append(out, u)
		}
	}
	return out
}
