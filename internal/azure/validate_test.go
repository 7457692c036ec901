package azure

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/connectdb/connectdb/internal/config"
)

// encSecret has the shape of an encrypted value (base64 of 48 bytes).
const encSecret = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJCrze8SNFZ4kKvN7xI0VniQ"

func TestValidate(t *testing.T) {
	good := config.Postgres{
		URL:           "postgres://connect-app@example.postgres.database.azure.com/connect?sslmode=require",
		AzureTenantId: testTenant, AzureClientId: testClient, AzureClientSecret: encSecret,
	}
	with := func(f func(p *config.Postgres)) config.Postgres { p := good; f(&p); return p }
	type want struct {
		setting  string
		severity Severity
		contains string
	}
	cases := []struct {
		name string
		p    config.Postgres
		want []want // exactly these problems, in order
	}{
		{"no azure settings", config.Postgres{URL: "postgres://u:p@h/db", Password: "x", InstrumentationPassword: "y"}, nil},
		{"complete and clean", good, nil},
		{"verified domain tenant", with(func(p *config.Postgres) { p.AzureTenantId = "contoso.onmicrosoft.com" }), nil},
		{"upper-case GUIDs", with(func(p *config.Postgres) { p.AzureClientId = strings.ToUpper(testClient) }), nil},
		{"keyword/value URL", with(func(p *config.Postgres) {
			p.URL = "host=x.postgres.database.azure.com user=connect-app dbname=connect sslmode=require"
		}), nil},
		{"same principal for instrumentation", with(func(p *config.Postgres) {
			p.InstrumentationURL = "postgres://connect-app@example.postgres.database.azure.com/metrics?sslmode=require"
		}), nil},
		{"only tenant", config.Postgres{URL: good.URL, AzureTenantId: testTenant}, []want{
			{SettingClientID, SeverityError, "is not set, but Postgres.AzureTenantId is"},
			{SettingClientSecret, SeverityError, "is not set"},
		}},
		{"secret missing", with(func(p *config.Postgres) { p.AzureClientSecret = "" }), []want{
			{SettingClientSecret, SeverityError, "Postgres.AzureTenantId and Postgres.AzureClientId is"},
		}},
		{"tenant not a GUID", with(func(p *config.Postgres) { p.AzureTenantId = "our-tenant-id" }), []want{
			{SettingTenantID, SeverityError, "neither a GUID nor a domain"},
		}},
		{"tenant common", with(func(p *config.Postgres) { p.AzureTenantId = "common" }), []want{
			{SettingTenantID, SeverityError, "names no single tenant"},
		}},
		{"client not a GUID", with(func(p *config.Postgres) { p.AzureClientId = "example" }), []want{
			{SettingClientID, SeverityError, "is not a GUID"},
		}},
		{"client GUID with braces", with(func(p *config.Postgres) { p.AzureClientId = "{" + testClient + "}" }), []want{
			{SettingClientID, SeverityError, "is not a GUID"},
		}},
		{"tenant equals client", with(func(p *config.Postgres) { p.AzureClientId = testTenant }), []want{
			{SettingClientID, SeverityError, "the same ID"},
		}},
		{"plain secret", with(func(p *config.Postgres) { p.AzureClientSecret = sentinel }), []want{
			{SettingClientSecret, SeverityWarning, "plain text"},
		}},
		{"secret ID instead of value", with(func(p *config.Postgres) { p.AzureClientSecret = "9b2f5e1c-3d4a-4b6c-8e7f-1a2b3c4d5e6f" }), []want{
			{SettingClientSecret, SeverityWarning, "secret's ID"},
		}},
		{"password too", with(func(p *config.Postgres) { p.Password = encSecret }), []want{
			{"Postgres.Password", SeverityError, "together with the Azure settings"},
		}},
		{"password in URL", with(func(p *config.Postgres) { p.URL = "postgres://connect-app:" + sentinel + "@h/connect" }), []want{
			{"Postgres.URL", SeverityError, "contains a password"},
		}},
		{"password in keyword URL", with(func(p *config.Postgres) { p.URL = "host=h user=connect-app password=" + sentinel }), []want{
			{"Postgres.URL", SeverityError, "contains a password"},
		}},
		{"no user", with(func(p *config.Postgres) { p.URL = "postgres://h/connect?sslmode=require" }), []want{
			{"Postgres.URL", SeverityWarning, "has no user"},
		}},
		{"sslmode disable", with(func(p *config.Postgres) { p.URL = "postgres://connect-app@h/connect?sslmode=disable" }), []want{
			{"Postgres.URL", SeverityError, "in clear"},
		}},
		{"instrumentation password", with(func(p *config.Postgres) { p.InstrumentationPassword = encSecret }), []want{
			{"Postgres.InstrumentationPassword", SeverityError, "same service principal"},
		}},
		{"instrumentation URL password and other user", with(func(p *config.Postgres) {
			p.InstrumentationURL = "postgres://metrics:" + sentinel + "@h/metrics?sslmode=disable"
		}), []want{
			{"Postgres.InstrumentationURL", SeverityError, "contains a password"},
			{"Postgres.InstrumentationURL", SeverityWarning, `logs in as "metrics" but Postgres.URL as "connect-app"`},
			{"Postgres.InstrumentationURL", SeverityError, "in clear"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Validate(tc.p)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tc.want), dump(got))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Setting != w.setting || g.Severity != w.severity || !strings.Contains(g.Message, w.contains) {
					t.Errorf("problem %d = %s; want %s %s containing %q", i, dump(got[i:i+1]), w.severity, w.setting, w.contains)
				}
				if g.Remedy == "" || !strings.HasSuffix(g.Message, ".") || !strings.HasSuffix(g.Remedy, ".") {
					t.Errorf("problem %d is not complete sentences with a remedy: %s", i, dump(got[i:i+1]))
				}
				noLeak(t, "problem", g.Message, g.Remedy)
			}
		})
	}
}

func dump(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %s %s: %s / %s\n", p.Severity, p.Setting, p.Message, p.Remedy)
	}
	return b.String()
}

func TestIsGUIDAndTenant(t *testing.T) {
	for _, s := range []string{testTenant, strings.ToUpper(testTenant), "00000000-0000-0000-0000-000000000000"} {
		if !IsGUID(s) || !IsTenant(s) {
			t.Errorf("%q should be a GUID and a tenant", s)
		}
	}
	for _, s := range []string{"contoso.onmicrosoft.com", "example.com", "sub.example.co.uk"} {
		if IsGUID(s) || !IsTenant(s) {
			t.Errorf("%q should be a tenant domain, not a GUID", s)
		}
	}
	for _, s := range []string{"", "tenant", "72f988bf86f141af91ab2d7cd011db47", "72f988bf-86f1-41af-91ab-2d7cd011db4", "g2f988bf-86f1-41af-91ab-2d7cd011db47",
		"-bad.com", "a..com", "contoso.onmicrosoft.com/", "con toso.com", "localhost"} {
		if IsTenant(s) {
			t.Errorf("%q should not be a tenant", s)
		}
	}
}

// FuzzValidate: Validate never panics, never leaks the secret, and finds
// nothing exactly when no Azure setting is present and nothing else is odd.
func FuzzValidate(f *testing.F) {
	f.Add(testTenant, testClient, encSecret, "postgres://u@h/db", "", "", "")
	f.Add("common", "x", sentinel, "host=h password=p", "p", "postgres://u:p@h", "ip")
	f.Add("", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, tenant, client, secret, u, pw, iu, ipw string) {
		p := config.Postgres{AzureTenantId: tenant, AzureClientId: client, AzureClientSecret: secret, URL: u, Password: pw, InstrumentationURL: iu, InstrumentationPassword: ipw}
		got := Validate(p)
		if !Configured(p) && got != nil {
			t.Fatalf("problems without Azure settings: %v", got)
		}
		for _, pr := range got {
			if pr.Setting == "" || pr.Message == "" || pr.Remedy == "" || !slices.Contains([]Severity{SeverityError, SeverityWarning}, pr.Severity) {
				t.Fatalf("incomplete problem %+v", pr)
			}
			if len(secret) >= 8 && strings.Contains(pr.Message+pr.Remedy, secret) && !strings.Contains(tenant+client+u+iu, secret) {
				t.Fatalf("problem shows the secret: %+v", pr)
			}
		}
	})
}
