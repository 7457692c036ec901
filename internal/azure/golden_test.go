package azure

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/connectdb/connectdb/internal/config"
	"github.com/connectdb/connectdb/internal/golden"
)

// TestClassifyGolden renders how every failure is reported; docs/azure.md
// quotes these texts.
func TestClassifyGolden(t *testing.T) {
	auth := "https://login.microsoftonline.com"
	cases := []struct {
		name string
		err  error
	}{
		{"wrong secret (AADSTS7000215)", &TokenError{Status: 401, Code: "invalid_client", Codes: []int{7000215}}},
		{"expired secret (AADSTS7000222)", &TokenError{Status: 401, Code: "invalid_client", Codes: []int{7000222}}},
		{"unknown tenant (AADSTS90002)", &TokenError{Status: 400, Code: "invalid_request", Codes: []int{90002}}},
		{"unknown client (AADSTS700016)", &TokenError{Status: 400, Code: "unauthorized_client", Codes: []int{700016}}},
		{"scope unknown in the tenant (AADSTS500011)", &TokenError{Authority: auth, Status: 400, Code: "invalid_resource", Codes: []int{500011}}},
		{"other Entra error", &TokenError{Status: 400, Code: "invalid_request", Codes: []int{50059}, Description: "AADSTS50059: No tenant-identifying information found in either the request or implied by any provided credentials."}},
		{"authority refused the connection", &AuthorityError{Authority: auth, Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}}},
		{"authority silent", &AuthorityError{Authority: auth, Timeout: 10 * time.Second, Err: context.DeadlineExceeded}},
		{"authority name does not resolve", &AuthorityError{Authority: auth, Err: &net.DNSError{Err: "no such host", Name: "login.microsoftonline.com"}}},
		{"token issued, role refuses it (28P01)", &pgconn.PgError{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "connect-app"`}},
		{"token issued, role missing (28000)", &pgconn.PgError{Severity: "FATAL", Code: "28000", Message: `role "connect-app" does not exist`}},
	}
	var b strings.Builder
	for _, c := range cases {
		s, r, ok := Classify(c.err)
		if !ok {
			t.Fatalf("%s: not classified", c.name)
		}
		fmt.Fprintf(&b, "## %s\nsummary: %s\nremedy:  %s\n\n", c.name, s, r)
	}
	golden.Assert(t, "testdata/classify.golden", b.String())
}

// TestValidateGolden renders the problems of a config with every mistake.
func TestValidateGolden(t *testing.T) {
	p := config.Postgres{
		URL:                     "postgres://connect-app:" + sentinel + "@example.postgres.database.azure.com/connect?sslmode=disable",
		Password:                encSecret,
		InstrumentationURL:      "postgres://metrics@example.postgres.database.azure.com/metrics?sslmode=require",
		InstrumentationPassword: encSecret,
		AzureTenantId:           "our-tenant-id",
		AzureClientId:           "example",
		AzureClientSecret:       "9b2f5e1c-3d4a-4b6c-8e7f-1a2b3c4d5e6f",
	}
	var b strings.Builder
	for _, pr := range Validate(p) {
		fmt.Fprintf(&b, "%-7s %s\n  %s\n  fix: %s\n", pr.Severity, pr.Setting, pr.Message, pr.Remedy)
	}
	noLeak(t, "validate output", b.String())
	golden.Assert(t, "testdata/validate.golden", b.String())
}
