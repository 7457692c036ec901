package check

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/connectdb/connectdb/internal/azure"
	"github.com/connectdb/connectdb/internal/azure/azuretest"
	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/secrets"
)

const (
	azTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	azClient = "0e3a5f4c-1b2d-4c6e-8f9a-0b1c2d3e4f5a"
	azSecret = "Az~S3ntinel.client_secret-value"
)

// TestAzureServicePrincipal runs check end to end with a local Entra ID
// token endpoint whose tokens are the password of a real role.
func TestAzureServicePrincipal(t *testing.T) {
	keyPath, err := filepath.Abs("../../secrets/testdata/connect.key")
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := secrets.LoadKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	token := azuretest.RandomTokenN(900)
	for _, tc := range []struct {
		name, configured string
		want             int
		out              string
	}{
		{"right secret", azSecret, 0, "PASS pg.privileges"},
		{"wrong secret", "not-the-secret", 3, "Entra ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := azuretest.Start(t, azuretest.Options{Tenant: azTenant, ClientID: azClient, Secret: azSecret, Tokens: []string{token, token, token}})
			role := srv.NewRole(t, token)
			db := srv.NewDatabase(t, role)
			enc, err := key.Encrypt(tc.configured, false)
			if err != nil {
				t.Fatal(err)
			}
			url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslrootcert=%s", role, srv.Host, srv.Port, db, srv.CACertFile)
			cfg := writeConfig(t, fmt.Sprintf("[Database]\nProvider = postgres\n[Postgres]\nURL = %q\nAzureTenantId = %s\nAzureClientId = %s\nAzureClientSecret = %s\n",
				url, azTenant, azClient, enc))
			opts, out := newOpts(t, cmdutil.Globals{ConfigPath: cfg, ConfigExplicit: true, SecretKey: keyPath},
				map[string]string{azure.EnvAuthorityHost: a.URL()})
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, a.Client())
			err = runCheck(ctx, opts)
			if got := cmdutil.ExitCode(err); got != tc.want || !strings.Contains(out.String(), tc.out) {
				t.Fatalf("exit %d (%v), want %d with %q\n%s", got, err, tc.want, tc.out, out)
			}
			if strings.Contains(out.String(), azSecret) || strings.Contains(out.String(), token) {
				t.Fatal("a secret or token appears in the output")
			}
		})
	}
}
