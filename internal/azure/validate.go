package azure

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/connectdb/connectdb/internal/config"
	"github.com/connectdb/connectdb/internal/secrets"
)

// Severity says how bad a Problem is.
type Severity string

const (
	// SeverityError: Connect will not log in (or not as intended) with these settings.
	SeverityError Severity = "error"
	// SeverityWarning: Connect may work, but the settings are risky or unusual.
	SeverityWarning Severity = "warning"
)

// Problem is one thing wrong with the Azure settings. Message and Remedy
// are complete sentences; neither ever contains the client secret.
type Problem struct {
	Setting  string   `json:"setting"` // such as "Postgres.AzureTenantId"
	Message  string   `json:"message"`
	Remedy   string   `json:"remedy"`
	Severity Severity `json:"severity"`
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// domainRE matches a DNS name with at least two labels, such as
// contoso.onmicrosoft.com.
var domainRE = regexp.MustCompile(`^(?i)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

// IsGUID reports whether s has the 8-4-4-4-12 hex shape of an Entra ID.
func IsGUID(s string) bool { return guidRE.MatchString(s) }

// IsTenant reports whether s can name a tenant for the client-credentials
// flow: a GUID or a verified domain such as contoso.onmicrosoft.com.
func IsTenant(s string) bool { return IsGUID(s) || len(s) <= 253 && domainRE.MatchString(s) }

// Validate checks the Azure settings of [Postgres] offline. It returns nil
// when none of the three Azure settings is present. It looks at: all
// three settings or none; the shape of the tenant and client IDs; the
// client secret stored encrypted; no password (Password, a password in
// the URL) next to the service principal; and the instrumentation
// database using the same principal (no InstrumentationPassword, no
// password in InstrumentationURL, the same user).
func Validate(p config.Postgres) []Problem {
	if !Configured(p) {
		return nil
	}
	var out []Problem
	add := func(sev Severity, setting, msg, remedy string) {
		out = append(out, Problem{Setting: setting, Message: msg, Remedy: remedy, Severity: sev})
	}
	tenant, client := strings.TrimSpace(p.AzureTenantId), strings.TrimSpace(p.AzureClientId)

	// All three or none.
	settings := []struct{ name, value, what string }{
		{SettingTenantID, tenant, "the Directory (tenant) ID of the app registration"},
		{SettingClientID, client, "the Application (client) ID of the app registration"},
		{SettingClientSecret, p.AzureClientSecret, "a client secret of the app registration, encrypted with 'rscadmin encrypt-config-value'"},
	}
	var set []string
	for _, s := range settings {
		if s.value != "" {
			set = append(set, s.name)
		}
	}
	for _, s := range settings {
		if s.value == "" {
			add(SeverityError, s.name,
				fmt.Sprintf("%s is not set, but %s is; Connect needs all three Azure settings to log in with a service principal.", s.name, strings.Join(set, " and ")),
				fmt.Sprintf("Set %s to %s, or remove the other Azure settings to log in with a password.", s.name, s.what))
		}
	}

	// Shapes.
	switch {
	case tenant == "":
	case isMultiTenantAlias(tenant):
		add(SeverityError, SettingTenantID,
			fmt.Sprintf("%s is %q, which names no single tenant, and a service principal can only get tokens from its own tenant.", SettingTenantID, tenant),
			"Set it to the Directory (tenant) ID (a GUID) shown in the Azure portal under Microsoft Entra ID > Overview.")
	case !IsTenant(tenant):
		add(SeverityError, SettingTenantID,
			fmt.Sprintf("%s %q is neither a GUID nor a domain such as contoso.onmicrosoft.com.", SettingTenantID, tenant),
			"Set it to the Directory (tenant) ID (a GUID) shown in the Azure portal under Microsoft Entra ID > Overview.")
	}
	if client != "" && !IsGUID(client) {
		add(SeverityError, SettingClientID,
			fmt.Sprintf("%s %q is not a GUID; Entra ID knows applications only by their Application (client) ID.", SettingClientID, client),
			"Set it to the Application (client) ID (a GUID) shown in the Azure portal under App registrations > your app > Overview.")
	}
	if tenant != "" && client != "" && strings.EqualFold(tenant, client) {
		add(SeverityError, SettingClientID,
			fmt.Sprintf("%s and %s hold the same ID, but a tenant and an application never share one.", SettingClientID, SettingTenantID),
			"Copy the Application (client) ID and the Directory (tenant) ID separately from the app registration's Overview page.")
	}
	if sec := strings.TrimSpace(p.AzureClientSecret); sec != "" && !secrets.LooksEncrypted(sec) {
		msg := SettingClientSecret + " is stored in plain text; Connect expects it encrypted with its secret key."
		if IsGUID(sec) {
			msg = SettingClientSecret + " is stored in plain text and has the shape of a GUID, so it is probably the secret's ID rather than its value."
		}
		add(SeverityWarning, SettingClientSecret, msg,
			"Copy the secret's Value from Certificates & secrets, encrypt it with 'rscadmin encrypt-config-value' and put the result in "+SettingClientSecret+".")
	}

	// No password next to the service principal.
	if p.Password != "" {
		add(SeverityError, "Postgres.Password",
			"Postgres.Password is set together with the Azure settings; with a service principal the password is an Entra access token, so this password is either ignored or a mistake.",
			"Remove Postgres.Password, or remove the three Azure settings to log in with the password.")
	}
	primary := parseURL(p.URL)
	if primary.password {
		add(SeverityError, "Postgres.URL",
			"Postgres.URL contains a password although the Azure settings are set; the login uses an Entra access token instead.",
			"Remove the password from Postgres.URL (keep the user, which must be the role mapped to the service principal).")
	}
	if p.URL != "" && primary.ok && primary.user == "" {
		add(SeverityWarning, "Postgres.URL",
			"Postgres.URL has no user, but an Entra login needs the name of the role mapped to the service principal.",
			"Put the role name in the URL, as in postgres://connect-app@example.postgres.database.azure.com/connect?sslmode=require.")
	}
	if primary.sslmode == "disable" {
		add(SeverityError, "Postgres.URL",
			"Postgres.URL sets sslmode=disable, so the Entra access token would travel in clear, and Azure Database for PostgreSQL requires SSL.",
			"Use sslmode=require (or verify-full) in Postgres.URL.")
	}

	// The instrumentation database must use the same principal.
	if p.InstrumentationPassword != "" {
		add(SeverityError, "Postgres.InstrumentationPassword",
			"Postgres.InstrumentationPassword is set together with the Azure settings, but the instrumentation database must log in with the same service principal as the main database.",
			"Remove Postgres.InstrumentationPassword; Connect uses the service principal's token for both databases.")
	}
	if p.InstrumentationURL != "" {
		inst := parseURL(p.InstrumentationURL)
		if inst.password {
			add(SeverityError, "Postgres.InstrumentationURL",
				"Postgres.InstrumentationURL contains a password, but the instrumentation database must log in with the same service principal as the main database.",
				"Remove the password from Postgres.InstrumentationURL.")
		}
		if inst.ok && primary.ok && inst.user != primary.user {
			add(SeverityWarning, "Postgres.InstrumentationURL",
				fmt.Sprintf("Postgres.InstrumentationURL logs in as %q but Postgres.URL as %q, while both use the same service principal.", inst.user, primary.user),
				"Use the role mapped to the service principal in both URLs (on each server the role must be created for that principal).")
		}
		if inst.sslmode == "disable" {
			add(SeverityError, "Postgres.InstrumentationURL",
				"Postgres.InstrumentationURL sets sslmode=disable, so the Entra access token would travel in clear.",
				"Use sslmode=require (or verify-full) in Postgres.InstrumentationURL.")
		}
	}
	return out
}

func isMultiTenantAlias(s string) bool {
	switch strings.ToLower(s) {
	case "common", "organizations", "consumers":
		return true
	}
	return false
}

// urlFacts is what Validate needs from a connection string.
type urlFacts struct {
	ok       bool // parsed
	user     string
	password bool
	sslmode  string
}

// parseURL reads user, password presence and sslmode from a postgres://
// URL or a keyword=value string. It never keeps the password.
func parseURL(raw string) urlFacts {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return urlFacts{}
	}
	if strings.HasPrefix(raw, "postgres://") || strings.HasPrefix(raw, "postgresql://") {
		u, err := url.Parse(raw)
		if err != nil {
			return urlFacts{}
		}
		f := urlFacts{ok: true, sslmode: u.Query().Get("sslmode")}
		if u.User != nil {
			f.user = u.User.Username()
			pw, has := u.User.Password()
			f.password = has && pw != ""
		}
		if q := u.Query(); q.Get("user") != "" {
			f.user = q.Get("user")
		}
		if u.Query().Get("password") != "" {
			f.password = true
		}
		return f
	}
	f := urlFacts{ok: true}
	for _, field := range strings.Fields(raw) {
		k, v, found := strings.Cut(field, "=")
		if !found {
			return urlFacts{}
		}
		v = strings.Trim(v, "'")
		switch k {
		case "user":
			f.user = v
		case "password":
			f.password = v != ""
		case "sslmode":
			f.sslmode = v
		}
	}
	return f
}
