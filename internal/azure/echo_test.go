package azure

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/connectdb/connectdb/internal/azure/azuretest"
	"github.com/connectdb/connectdb/internal/secrets"
)

// TestEchoedSecretIsRedacted runs against authorities that quote the token
// request back (a misbehaving proxy or authority): no string that came back
// from the network may show the client secret, in any encoding.
func TestEchoedSecretIsRedacted(t *testing.T) {
	// Characters that form encoding changes, so that the echo holds the
	// secret in more than one form.
	const secret = "Ech0+Secret/Value=x&y~z%41 end"
	for _, tc := range []struct {
		name string
		echo azuretest.Echo
	}{
		{"json error", azuretest.EchoJSON},
		{"text 502", azuretest.EchoText},
		{"text 200", azuretest.EchoOKText},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := azuretest.Start(t, azuretest.Options{Tenant: testTenant, ClientID: testClient, Secret: secret, Echo: tc.echo})
			c := Credentials{TenantID: testTenant, ClientID: testClient, ClientSecret: secrets.NewSecret(secret), AuthorityHost: a.URL()}
			_, err := NewTokenSource(c, WithRootCAs(a.CertPool())).Token(context.Background())
			if err == nil {
				t.Fatal("Token succeeded against an echoing authority")
			}
			if r := a.Requests(); len(r) != 1 || !r[0].SecretMatched {
				t.Fatalf("the authority did not get the secret: %+v", r)
			}
			summary, remedy, ok := Classify(fmt.Errorf("wrapped: %w", err))
			if !ok {
				t.Fatalf("Classify(%v) not ok", err)
			}
			texts := []string{err.Error(), summary, remedy, fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)}
			forms := []string{secret, url.QueryEscape(secret), url.PathEscape(secret), "Ech0+Secret", "Ech0%2BSecret"}
			for _, s := range texts {
				for _, f := range forms {
					if strings.Contains(s, f) {
						t.Errorf("output shows the secret as %q: %s", f, s)
					}
				}
			}
			if !strings.Contains(err.Error()+summary, "xxxxx") && tc.echo == azuretest.EchoJSON {
				t.Errorf("the echoed secret is not marked as redacted: %s / %s", err, summary)
			}
		})
	}
}
