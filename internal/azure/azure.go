// Package azure logs connectdb in to Azure Database for PostgreSQL with a
// Microsoft Entra ID service principal, the way Posit Connect does when
// Postgres.AzureTenantId, AzureClientId and AzureClientSecret are set.
//
// Credentials are read from the Connect config (the client secret is
// decrypted with Connect's secret key). A TokenSource obtains access tokens
// for the Azure Database for PostgreSQL scope with the OAuth 2.0
// client-credentials flow and caches each until shortly before it expires;
// its Token method is used as the password of every new connection.
//
// Validate checks the settings offline; Classify turns a live failure (from
// Entra ID or from PostgreSQL after a token was issued) into a plain cause
// and remedy.
package azure

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/connectdb/connectdb/internal/config"
	"github.com/connectdb/connectdb/internal/secrets"
)

// Scope is the OAuth 2.0 scope of Azure Database for PostgreSQL (and
// MySQL) in the Azure public cloud.
const Scope = "https://ossrdbms-aad.database.windows.net/.default"

// Scopes of the sovereign clouds, chosen by ScopeFor from the authority.
const (
	ScopeUSGovernment = "https://ossrdbms-aad.database.usgovcloudapi.net/.default"
	ScopeChina        = "https://ossrdbms-aad.database.chinacloudapi.cn/.default"
)

// ScopeFor returns the database scope of the cloud whose Entra ID
// authority is authorityHost: the US Government and China clouds have
// their own; every other authority (including test ones) gets Scope.
func ScopeFor(authorityHost string) string {
	u, err := url.Parse(authorityHost)
	if err != nil {
		return Scope
	}
	switch strings.ToLower(u.Hostname()) {
	case "login.microsoftonline.us":
		return ScopeUSGovernment
	case "login.chinacloudapi.cn", "login.partner.microsoftonline.cn":
		return ScopeChina
	}
	return Scope
}

// DefaultAuthorityHost is the Entra ID authority of the Azure public cloud.
const DefaultAuthorityHost = "https://login.microsoftonline.com"

// EnvAuthorityHost names the environment variable that changes the
// authority host, as in the Azure SDKs (for sovereign clouds).
const EnvAuthorityHost = "AZURE_AUTHORITY_HOST"

// The config settings this package reads.
const (
	SettingTenantID     = "Postgres.AzureTenantId"
	SettingClientID     = "Postgres.AzureClientId"
	SettingClientSecret = "Postgres.AzureClientSecret"
)

// Credentials identify a service principal. ClientSecret is a
// secrets.Secret, so printing or JSON-encoding Credentials never shows it.
type Credentials struct {
	TenantID     string
	ClientID     string
	ClientSecret secrets.Secret
	// AuthorityHost is the Entra ID authority, such as
	// https://login.microsoftonline.us; empty means DefaultAuthorityHost.
	AuthorityHost string
}

// Configured reports whether any of the three Azure settings is present.
// Validate says what is wrong when only some are.
func Configured(p config.Postgres) bool {
	return p.AzureTenantId != "" || p.AzureClientId != "" || p.AzureClientSecret != ""
}

// Complete reports whether all three Azure settings are present.
func Complete(p config.Postgres) bool {
	return p.AzureTenantId != "" && p.AzureClientId != "" && p.AzureClientSecret != ""
}

// AuthorityHost picks the authority: the flag value when set, else the
// AZURE_AUTHORITY_HOST environment variable, else DefaultAuthorityHost.
// getenv may be nil.
func AuthorityHost(flag string, getenv func(string) string) string {
	if flag != "" {
		return flag
	}
	if getenv != nil {
		if v := getenv(EnvAuthorityHost); v != "" {
			return v
		}
	}
	return DefaultAuthorityHost
}

// ErrIncomplete means some but not all of the three Azure settings are set.
var ErrIncomplete = errors.New("incomplete Azure settings")

// Load reads the service principal from the [Postgres] settings and
// decrypts the client secret with r. authorityHost is the value of
// --azure-authority-host (or "" for AZURE_AUTHORITY_HOST or the default,
// read with r.Getenv). The warnings come from decryption, such as a secret
// stored in plain text. Errors never contain the secret.
func Load(p config.Postgres, r *secrets.Resolver, authorityHost string) (Credentials, []string, error) {
	if !Complete(p) {
		var missing []string
		for _, s := range []struct{ name, v string }{
			{SettingTenantID, p.AzureTenantId}, {SettingClientID, p.AzureClientId}, {SettingClientSecret, p.AzureClientSecret},
		} {
			if s.v == "" {
				missing = append(missing, s.name)
			}
		}
		return Credentials{}, nil, fmt.Errorf("%w: %s not set; Connect needs all three Azure settings to log in with a service principal, so set them or remove the others", ErrIncomplete, strings.Join(missing, " and "))
	}
	getenv := r.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	host, err := NormalizeAuthority(AuthorityHost(authorityHost, getenv))
	if err != nil {
		return Credentials{}, nil, err
	}
	secret, warnings, err := r.Decrypt(SettingClientSecret, p.AzureClientSecret)
	if err != nil {
		return Credentials{}, warnings, err
	}
	return Credentials{
		TenantID:      strings.TrimSpace(p.AzureTenantId),
		ClientID:      strings.TrimSpace(p.AzureClientId),
		ClientSecret:  secret,
		AuthorityHost: host,
	}, warnings, nil
}

// NormalizeAuthority checks an authority host and returns it as
// "https://host[:port][/path]" without a trailing slash. A bare host name
// gets https:// added. Plain http is refused: the client secret would
// travel in clear.
func NormalizeAuthority(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return DefaultAuthorityHost, nil
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("the Azure authority host is not a URL; use a value such as %s (--azure-authority-host or %s)", DefaultAuthorityHost, EnvAuthorityHost)
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("the Azure authority host %s does not use https, and the client secret must not travel in clear; use https://%s", u.Redacted(), u.Host)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("the Azure authority host %s must be a plain https URL without user, query or fragment, such as %s", u.Redacted(), DefaultAuthorityHost)
	}
	return "https://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// Scope returns the scope tokens are requested for (see ScopeFor).
func (c Credentials) Scope() string { return ScopeFor(c.AuthorityHost) }

// TokenURL returns the OAuth 2.0 v2 token endpoint of the tenant:
// {authority}/{tenant}/oauth2/v2.0/token.
func (c Credentials) TokenURL() string {
	host := c.AuthorityHost
	if host == "" {
		host = DefaultAuthorityHost
	}
	return strings.TrimRight(host, "/") + "/" + url.PathEscape(c.TenantID) + "/oauth2/v2.0/token"
}
