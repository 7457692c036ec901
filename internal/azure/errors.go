package azure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5/pgconn"
)

// Entra ID error codes (AADSTS numbers) that Classify explains.
const (
	CodeInvalidSecret   = 7000215 // invalid client secret provided
	CodeExpiredSecret   = 7000222 // the client secret has expired
	CodeTenantNotFound  = 90002   // tenant not found
	CodeTenantInvalid   = 900023  // tenant identifier is neither a GUID nor a domain
	CodeAppNotFound     = 700016  // application not found in the directory
	CodeResourceUnknown = 500011  // resource principal (the scope) not found in the tenant
)

// TokenError is Entra ID's refusal of a token request, parsed from its
// JSON error body ({"error", "error_description", "error_codes", ...}).
type TokenError struct {
	Authority     string // authority host asked
	Status        int    // HTTP status, 0 when unknown
	Code          string // OAuth error, such as "invalid_client"
	Codes         []int  // AADSTS numbers, such as 7000215
	Description   string // first line of error_description
	TraceID       string
	CorrelationID string
}

func (e *TokenError) Error() string {
	var b strings.Builder
	b.WriteString("Entra ID refused the token request")
	var parts []string
	if e.Status != 0 {
		parts = append(parts, "HTTP "+strconv.Itoa(e.Status))
	}
	if e.Code != "" {
		parts = append(parts, e.Code)
	}
	if len(e.Codes) > 0 && !strings.HasPrefix(e.Description, fmt.Sprintf("AADSTS%d", e.Codes[0])) {
		parts = append(parts, fmt.Sprintf("AADSTS%d", e.Codes[0]))
	}
	if len(parts) > 0 {
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	return b.String()
}

// Has reports whether Entra ID returned the AADSTS code.
func (e *TokenError) Has(code int) bool {
	for _, c := range e.Codes {
		if c == code {
			return true
		}
	}
	return strings.HasPrefix(e.Description, fmt.Sprintf("AADSTS%d:", code))
}

// AuthorityError means the token request got no answer: the authority
// host could not be resolved, reached or verified, or did not answer in
// time.
type AuthorityError struct {
	Authority string
	Timeout   time.Duration
	Err       error
}

func (e *AuthorityError) Error() string {
	return fmt.Sprintf("could not get a token from the Entra ID authority %s: %v", e.Authority, e.Err)
}

func (e *AuthorityError) Unwrap() error { return e.Err }

// entraError is the JSON body of an Entra ID token error.
type entraError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
}

var aadstsRE = regexp.MustCompile(`\bAADSTS(\d+)\b`)

// parseEntraError reads an Entra ID error body. Bodies that are not JSON
// give a TokenError with only what could be found.
func parseEntraError(body []byte) *TokenError {
	var ee entraError
	te := &TokenError{}
	if json.Unmarshal(body, &ee) == nil {
		te.Code, te.Codes = firstLine(ee.Error), ee.ErrorCodes
		te.Description = firstLine(ee.ErrorDescription)
		te.TraceID, te.CorrelationID = ee.TraceID, ee.CorrelationID
	}
	if len(te.Codes) == 0 {
		for _, m := range aadstsRE.FindAllStringSubmatch(te.Description, -1) {
			if n, err := strconv.Atoi(m[1]); err == nil {
				te.Codes = append(te.Codes, n)
			}
		}
	}
	return te
}

// firstLine returns s up to its first line break, trimmed. Entra ID adds
// trace and correlation IDs and a timestamp on further lines.
// Other control characters become spaces.
func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}

// Classify explains a failure of a target that logs in with an Azure
// service principal: the token request (an error from TokenSource.Token,
// however wrapped) or, after a token was issued, the PostgreSQL login
// (SQLSTATE 28P01 or 28000). Call it only for such targets, before any
// generic classification: for them an authentication failure means the
// database did not accept the principal. ok is false when err is none of
// these. summary and remedy are single sentences without secrets.
func Classify(err error) (summary, remedy string, ok bool) {
	if err == nil {
		return "", "", false
	}
	var te *TokenError
	if errors.As(err, &te) {
		s, r := classifyToken(te)
		return s, r, true
	}
	var ae *AuthorityError
	if errors.As(err, &ae) {
		s, r := classifyAuthority(ae)
		return s, r, true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000") {
		s, r := classifyLogin(pe)
		return s, r, true
	}
	return "", "", false
}

const portalHint = "in the Azure portal under Microsoft Entra ID > App registrations"

func classifyToken(te *TokenError) (string, string) {
	code := ""
	if len(te.Codes) > 0 {
		code = fmt.Sprintf(" (AADSTS%d)", te.Codes[0])
	}
	switch {
	case te.Has(CodeInvalidSecret):
		return "Entra ID rejected the client secret in " + SettingClientSecret + code + ": it is wrong, or it is the secret's ID instead of its value.",
			"Create a new client secret " + portalHint + " > Certificates & secrets, copy its Value (not its Secret ID), encrypt it with 'rscadmin encrypt-config-value' and put the result in " + SettingClientSecret + "."
	case te.Has(CodeExpiredSecret):
		return "The client secret in " + SettingClientSecret + " has expired" + code + ".",
			"Create a new client secret " + portalHint + " > Certificates & secrets, encrypt its Value with 'rscadmin encrypt-config-value', put it in " + SettingClientSecret + " and restart Connect."
	case te.Has(CodeTenantNotFound) || te.Has(CodeTenantInvalid):
		return "Entra ID does not know the tenant in " + SettingTenantID + code + ".",
			"Set " + SettingTenantID + " to the Directory (tenant) ID shown " + portalHint + " > Overview; for a sovereign cloud also set --azure-authority-host (or " + EnvAuthorityHost + ") to that cloud's authority."
	case te.Has(CodeAppNotFound):
		return "Entra ID does not know the application in " + SettingClientID + " in this tenant" + code + ".",
			"Set " + SettingClientID + " to the Application (client) ID shown " + portalHint + " > Overview (not the object ID), and check that " + SettingTenantID + " is the tenant the app is registered in."
	case te.Has(CodeResourceUnknown) || te.Code == "invalid_scope":
		return "Entra ID refused the Azure Database for PostgreSQL scope " + ScopeFor(te.Authority) + code + ".",
			"Make sure --azure-authority-host (or " + EnvAuthorityHost + ") is the authority of the cloud the database runs in, such as https://login.microsoftonline.us for Azure Government."
	case te.Code == "invalid_client" || te.Status == 401:
		return "Entra ID did not accept the service principal's credentials" + detail(code, te.Description),
			"Check " + SettingClientID + " and " + SettingClientSecret + " against the app registration " + portalHint + "."
	}
	if te.Description == "" && te.Status != 0 {
		return "Entra ID refused the token request" + code + " with HTTP status " + strconv.Itoa(te.Status) + ".",
			"Check that --azure-authority-host (or " + EnvAuthorityHost + ") points at Entra ID and that no proxy answers in its place."
	}
	return "Entra ID refused the token request" + detail(code, te.Description),
		"Look the error code up in Microsoft's AADSTS error reference and fix the app registration or the Azure settings in [Postgres]."
}

// detail formats " (AADSTSn): description", leaving out the code when the
// description starts with it.
func detail(code, desc string) string {
	if desc == "" {
		return code + "."
	}
	if strings.HasPrefix(desc, "AADSTS") {
		code = ""
	}
	if !strings.HasSuffix(desc, ".") {
		desc += "."
	}
	return code + ": " + desc
}

func classifyAuthority(ae *AuthorityError) (string, string) {
	host := ae.Authority
	var certErr *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(ae.Err, &certErr) || errors.As(ae.Err, &unknown) || errors.As(ae.Err, &hostErr) {
		return "The TLS certificate of the Entra ID authority " + host + " could not be verified.",
			"If a TLS-inspecting proxy sits between this machine and " + host + ", add its CA to the system trust store (or SSL_CERT_FILE); otherwise check --azure-authority-host (or " + EnvAuthorityHost + ")."
	}
	var dnsErr *net.DNSError
	if errors.As(ae.Err, &dnsErr) {
		return "The name of the Entra ID authority " + host + " does not resolve.",
			"Check the DNS of this machine and the value of --azure-authority-host (or " + EnvAuthorityHost + ")."
	}
	var netErr net.Error
	if errors.Is(ae.Err, context.DeadlineExceeded) || errors.Is(ae.Err, os.ErrDeadlineExceeded) ||
		errors.As(ae.Err, &netErr) && netErr.Timeout() {
		within := ""
		if ae.Timeout > 0 {
			within = " within " + ae.Timeout.String()
		}
		return "The Entra ID authority " + host + " did not answer" + within + ".",
			"Allow outbound HTTPS from this machine to " + host + " (set HTTPS_PROXY if a proxy is required), or raise --timeout."
	}
	return "The Entra ID authority " + host + " could not be reached to get a token.",
		"Allow outbound HTTPS from this machine to " + host + " (set HTTPS_PROXY if a proxy is required) and check --azure-authority-host (or " + EnvAuthorityHost + ")."
}

var userRE = regexp.MustCompile(`(?:for user|role) "([^"]+)"`)

func classifyLogin(pe *pgconn.PgError) (string, string) {
	user := "the user in Postgres.URL"
	name := "<role>"
	if m := userRE.FindStringSubmatch(pe.Message); m != nil {
		user, name = `"`+m[1]+`"`, m[1]
	}
	create := "SELECT * FROM pgaadauth_create_principal_with_oid('" + name + "', '<object ID of the service principal>', 'service', false, false);"
	if pe.Code == "28000" && strings.Contains(pe.Message, "does not exist") {
		return "Entra ID issued a token, but the database has no role " + user + " for the service principal.",
			"As the server's Entra administrator, create it with " + create + " and make the user in Postgres.URL that role's name."
	}
	return "Entra ID issued a token, but PostgreSQL refused it for " + user + ": the role is not mapped to this service principal or Entra authentication is off.",
		"Enable Microsoft Entra authentication on the server and, as its Entra administrator, map the role with " + create + " (the user in Postgres.URL must be that role)."
}
