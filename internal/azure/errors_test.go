package azure

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestParseEntraError(t *testing.T) {
	cases := []struct {
		name, body string
		code       string
		codes      []int
		desc       string
	}{
		{"full", `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: 2026-01-01 00:00:00Z","error_codes":[7000215],"trace_id":"t","correlation_id":"c"}`,
			"invalid_client", []int{7000215}, "AADSTS7000215: Invalid client secret provided."},
		{"codes from description", `{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found.\nmore"}`,
			"invalid_request", []int{90002}, "AADSTS90002: Tenant 'x' not found."},
		{"several codes", `{"error":"invalid_client","error_codes":[7000222,50000]}`, "invalid_client", []int{7000222, 50000}, ""},
		{"not json", `<html>gateway</html>`, "", nil, ""},
		{"empty", ``, "", nil, ""},
		{"wrong types", `{"error":1,"error_codes":"x"}`, "", nil, ""},
	}
	for _, c := range cases {
		te := parseEntraError([]byte(c.body))
		if te.Code != c.code || fmt.Sprint(te.Codes) != fmt.Sprint(c.codes) || te.Description != c.desc {
			t.Errorf("%s: got %q %v %q", c.name, te.Code, te.Codes, te.Description)
		}
	}
}

func FuzzParseEntraError(f *testing.F) {
	f.Add([]byte(`{"error":"invalid_client","error_description":"AADSTS7000215: x\r\ny","error_codes":[7000215]}`))
	f.Add([]byte(`{"error_description":"AADSTS1 AADSTS99999999999999999999"}`))
	f.Add([]byte(`nope`))
	f.Fuzz(func(t *testing.T, body []byte) {
		te := parseEntraError(body)
		te.Status = 400
		if strings.ContainsAny(te.Error(), "\r\n") {
			t.Fatalf("multi-line error %q", te.Error())
		}
		s, r, ok := Classify(te)
		if !ok || s == "" || r == "" {
			t.Fatalf("TokenError not classified: %q %q %v", s, r, ok)
		}
	})
}

func TestTokenErrorText(t *testing.T) {
	te := &TokenError{Status: 401, Code: "invalid_client", Codes: []int{7000215}, Description: "AADSTS7000215: Invalid client secret provided."}
	if got, want := te.Error(), "Entra ID refused the token request (HTTP 401, invalid_client): AADSTS7000215: Invalid client secret provided."; got != want {
		t.Errorf("Error() = %q\nwant      %q", got, want)
	}
	te = &TokenError{Codes: []int{50000}}
	if got := te.Error(); got != "Entra ID refused the token request (AADSTS50000)" {
		t.Errorf("Error() = %q", got)
	}
}

func TestClassify(t *testing.T) {
	wrap := func(err error) error {
		return fmt.Errorf("connecting to the primary database postgres://app@h:5432/connect: %w", err)
	}
	cases := []struct {
		name    string
		err     error
		ok      bool
		summary string
		remedy  string
	}{
		{"nil", nil, false, "", ""},
		{"unrelated", errors.New("boom"), false, "", ""},
		{"plain network error is not ours", wrap(&net.OpError{Op: "dial", Err: errors.New("connection refused")}), false, "", ""},
		{"other pg error", wrap(&pgconn.PgError{Code: "3D000", Message: `database "x" does not exist`}), false, "", ""},
		{"invalid secret", wrap(&TokenError{Codes: []int{7000215}}), true, "rejected the client secret", "Certificates & secrets"},
		{"invalid secret by description", &TokenError{Description: "AADSTS7000215: Invalid client secret provided."}, true, "rejected the client secret", "rscadmin encrypt-config-value"},
		{"expired secret", &TokenError{Codes: []int{7000222}}, true, "has expired", "restart Connect"},
		{"unknown tenant", &TokenError{Codes: []int{90002}}, true, "does not know the tenant", "Directory (tenant) ID"},
		{"malformed tenant", &TokenError{Codes: []int{900023}}, true, "does not know the tenant", EnvAuthorityHost},
		{"unknown client", &TokenError{Codes: []int{700016}}, true, "does not know the application", "Application (client) ID"},
		{"other invalid_client", &TokenError{Status: 401, Code: "invalid_client", Codes: []int{7000218}, Description: "AADSTS7000218: The request body must contain client_assertion or client_secret."}, true, "did not accept the service principal", SettingClientSecret},
		{"wrong cloud", &TokenError{Authority: "https://login.microsoftonline.us", Codes: []int{500011}}, true, "ossrdbms-aad.database.usgovcloudapi.net", "Azure Government"},
		{"unknown code", &TokenError{Status: 400, Code: "invalid_request", Codes: []int{50059}, Description: "AADSTS50059: No tenant-identifying information found."}, true, "AADSTS50059", "AADSTS error reference"},
		{"authority refused", wrap(&AuthorityError{Authority: "https://login.microsoftonline.com", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}), true, "could not be reached", "HTTPS_PROXY"},
		{"authority timeout", &AuthorityError{Authority: "https://a", Timeout: 10e9, Err: context.DeadlineExceeded}, true, "did not answer within 10s", "--timeout"},
		{"authority dns", &AuthorityError{Authority: "https://a", Err: &net.DNSError{Err: "no such host", Name: "a"}}, true, "does not resolve", "DNS"},
		{"role not mapped", wrap(&pgconn.PgError{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "connect-app"`}), true,
			`PostgreSQL refused it for "connect-app"`, "pgaadauth_create_principal_with_oid('connect-app'"},
		{"role missing", wrap(&pgconn.PgError{Severity: "FATAL", Code: "28000", Message: `role "connect-app" does not exist`}), true,
			`has no role "connect-app"`, "Entra administrator"},
		{"28000 without user", &pgconn.PgError{Code: "28000", Message: "Entra ID authentication failed"}, true, "the user in Postgres.URL", "pgaadauth"},
	}
	for _, c := range cases {
		s, r, ok := Classify(c.err)
		if ok != c.ok || !strings.Contains(s, c.summary) || !strings.Contains(r, c.remedy) {
			t.Errorf("%s: Classify = %q, %q, %v\nwant summary ~ %q, remedy ~ %q, ok %v", c.name, s, r, ok, c.summary, c.remedy, c.ok)
		}
		if ok && (strings.ContainsAny(s+r, "\r\n") || !strings.HasSuffix(r, ".")) {
			t.Errorf("%s: not single sentences: %q / %q", c.name, s, r)
		}
	}
}
