package target

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/connectdb/connectdb/internal/azure"
	"github.com/connectdb/connectdb/internal/azure/azuretest"
	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/pgtest"
)

// The end-to-end path of an Azure service principal login, without any
// cloud: Connect config with an encrypted AzureClientSecret → decrypted
// with the test key → client-credentials request to a local HTTPS token
// endpoint → the issued token is the password of a real PostgreSQL role.

const (
	azTenant       = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	azClient       = "0e3a5f4c-1b2d-4c6e-8f9a-0b1c2d3e4f5a"
	azureSentinel  = "Az~S3ntinel.client_secret-value"
	azureTokenWait = 1100 * time.Millisecond
)

type azureEnv struct {
	auth   *azuretest.Authority
	f      *cmdutil.Factory
	ctx    context.Context // carries the HTTP client that trusts the authority's CA
	role   string
	db     string
	tokens []string
}

type azureOpts struct {
	authority     azuretest.Options // Tenant, ClientID and Secret default to the az* constants
	instrumentDB  bool              // add an InstrumentationURL on a second database, same role
	authorityFlag bool              // pass the authority with --azure-authority-host instead of the env
}

func setupAzure(t *testing.T, o azureOpts) *azureEnv {
	t.Helper()
	keyPath, key := testKey(t)
	ao := o.authority
	if ao.Tenant == "" {
		ao.Tenant = azTenant
	}
	if ao.ClientID == "" {
		ao.ClientID = azClient
	}
	if ao.Secret == "" {
		ao.Secret = azureSentinel
	}
	if ao.Tokens == nil {
		for range 4 {
			ao.Tokens = append(ao.Tokens, azuretest.RandomTokenN(900)) // PostgreSQL 13 stores passwords < 1 KiB
		}
	}
	a := azuretest.Start(t, ao)
	role := srv.NewRole(t, ao.Tokens[0])
	db := srv.NewDatabase(t, role)
	enc, err := key.Encrypt(azureSentinel, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("[Database]\nProvider = postgres\n[Postgres]\nURL = %q\nAzureTenantId = %s\nAzureClientId = %s\nAzureClientSecret = %s\n",
		noPasswordURL(role, db, "sslrootcert="+srv.CACertFile), azTenant, azClient, enc)
	if o.instrumentDB {
		cfg += fmt.Sprintf("InstrumentationURL = %q\n", noPasswordURL(role, srv.NewDatabase(t, role), "sslrootcert="+srv.CACertFile))
	}
	env := map[string]string{}
	f := factory(t, cfg, env)
	if o.authorityFlag {
		f.Globals.AzureAuthorityHost = a.URL()
	} else {
		env[azure.EnvAuthorityHost] = a.URL()
	}
	f.Globals.SecretKey = keyPath
	return &azureEnv{auth: a, f: f, ctx: context.WithValue(context.Background(), oauth2.HTTPClient, a.Client()), role: role, db: db, tokens: ao.Tokens}
}

func (e *azureEnv) resolve(t *testing.T) *Set {
	t.Helper()
	set, err := Resolve(e.ctx, e.f)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// noSecrets fails when the client secret or any issued token shows in texts.
func (e *azureEnv) noSecrets(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, azureSentinel) {
			t.Errorf("the client secret appears in %q", s)
		}
		for _, tok := range e.tokens {
			if strings.Contains(s, tok) {
				t.Errorf("an access token appears in %.200q", s)
			}
		}
	}
}

func TestAzureLoginEndToEnd(t *testing.T) {
	for _, flag := range []bool{false, true} {
		t.Run(fmt.Sprintf("authority from flag=%v", flag), func(t *testing.T) {
			e := setupAzure(t, azureOpts{instrumentDB: true, authorityFlag: flag})
			set := e.resolve(t)
			if set.Instrumentation == nil {
				t.Fatal("no instrumentation target")
			}
			for _, tg := range set.Targets() {
				if tg.Token == nil || !strings.Contains(tg.PasswordSource, "Azure service principal "+azClient) {
					t.Fatalf("%s: Token not set (password source %q)", tg.Kind, tg.PasswordSource)
				}
				connectOK(t, tg) // TLS, application_name, and the token as password
			}
			if n := e.auth.Issued(); n != 1 {
				t.Errorf("issued %d tokens for two connections within the token's lifetime, want 1 (cached)", n)
			}
			reqs := e.auth.Requests()
			if len(reqs) == 0 {
				t.Fatal("no token request")
			}
			r := reqs[0]
			if r.Tenant != azTenant || r.GrantType != "client_credentials" || r.ClientID != azClient || r.Scope != azure.Scope {
				t.Errorf("token request: tenant %q grant_type %q client_id %q scope %q", r.Tenant, r.GrantType, r.ClientID, r.Scope)
			}
			if !r.SecretPresent || !r.SecretMatched {
				t.Errorf("the decrypted client secret did not arrive (present %v, matched %v)", r.SecretPresent, r.SecretMatched)
			}
			js, _ := json.Marshal(set.Config)
			e.noSecrets(t, fmt.Sprintf("%v %+v", set.Config, set.Config.Postgres), string(js))
			for _, tg := range set.Targets() {
				e.noSecrets(t, tg.Redacted, tg.Source, tg.PasswordSource, strings.Join(tg.Warnings, "\n"))
			}
		})
	}
}

// TestAzureTokenRefresh opens a second connection after the first token
// expired; the role's password has moved on to the next token, so only a
// refreshed token logs in.
func TestAzureTokenRefresh(t *testing.T) {
	e := setupAzure(t, azureOpts{authority: azuretest.Options{TTL: time.Second}})
	set := e.resolve(t)
	connectOK(t, set.Primary)

	time.Sleep(azureTokenWait)
	srv.MustExec(t, "postgres", "ALTER ROLE "+pgtest.QuoteIdent(e.role)+" PASSWORD "+pgtest.QuoteLiteral(e.tokens[1]))
	// The old token no longer works, so a cached one would fail.
	old := set.Primary.Config.Copy()
	old.Password = e.tokens[0]
	if c, err := pgx.ConnectConfig(context.Background(), old); err == nil {
		c.Close(context.Background())
		t.Fatal("the expired token still logs in; the test proves nothing")
	}
	connectOK(t, set.Primary)
	if n := e.auth.Issued(); n != 2 {
		t.Errorf("issued %d tokens, want 2 (one refresh after expiry)", n)
	}
}

func TestAzureWrongSecret(t *testing.T) {
	e := setupAzure(t, azureOpts{authority: azuretest.Options{Secret: "a-different-secret"}})
	set := e.resolve(t)
	_, err := set.Primary.Connect(e.ctx, 10*time.Second)
	if err == nil {
		t.Fatal("connected with a wrong client secret")
	}
	summary, remedy, ok := azure.Classify(err)
	if !ok || !strings.Contains(summary, "rejected the client secret") || !strings.Contains(summary, "AADSTS7000215") {
		t.Errorf("Classify(%v) = %q, %q, %v", err, summary, remedy, ok)
	}
	if reqs := e.auth.Requests(); len(reqs) != 1 || !reqs[0].SecretPresent || reqs[0].SecretMatched || e.auth.Issued() != 0 {
		t.Errorf("requests %+v, issued %d", reqs, e.auth.Issued())
	}
	e.noSecrets(t, err.Error(), summary, remedy)
}

func TestAzureAuthorityDown(t *testing.T) {
	e := setupAzure(t, azureOpts{})
	e.auth.Server.Close()
	e.f.Globals.Timeout = 2 * time.Second
	set := e.resolve(t)
	start := time.Now()
	_, err := set.Primary.Connect(e.ctx, 10*time.Second)
	if err == nil {
		t.Fatal("connected without an authority")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v, longer than --timeout", d)
	}
	summary, remedy, ok := azure.Classify(err)
	if !ok || !strings.Contains(summary, "could not be reached") {
		t.Errorf("Classify(%v) = %q, %q, %v", err, summary, remedy, ok)
	}
	e.noSecrets(t, err.Error(), summary, remedy)
}

func TestAzureSilentAuthorityBoundedByTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held <- c // never answered
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		close(held)
		for c := range held {
			c.Close()
		}
	})
	e := setupAzure(t, azureOpts{})
	e.f.Globals.AzureAuthorityHost = "https://" + ln.Addr().String()
	e.f.Globals.Timeout = 500 * time.Millisecond
	set := e.resolve(t)
	start := time.Now()
	_, err = set.Primary.Connect(e.ctx, 30*time.Second)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v with --timeout 500ms", d)
	}
	summary, _, ok := azure.Classify(err)
	if !ok || !strings.Contains(summary, "did not answer within 500ms") {
		t.Errorf("Classify(%v) = %q, %v", err, summary, ok)
	}
}

// TestAzureRoleNotMapped: Entra ID issues a token, but the database role
// does not accept it (in Azure: the role is not mapped to the principal).
func TestAzureRoleNotMapped(t *testing.T) {
	e := setupAzure(t, azureOpts{})
	srv.MustExec(t, "postgres", "ALTER ROLE "+pgtest.QuoteIdent(e.role)+" PASSWORD 'not-the-token'")
	set := e.resolve(t)
	_, err := set.Primary.Connect(e.ctx, 10*time.Second)
	if err == nil {
		t.Fatal("connected with a token the role does not accept")
	}
	if e.auth.Issued() != 1 {
		t.Fatalf("issued %d tokens, want 1", e.auth.Issued())
	}
	summary, remedy, ok := azure.Classify(err)
	if !ok || !strings.Contains(summary, "Entra ID issued a token, but PostgreSQL refused it for \""+e.role+"\"") ||
		!strings.Contains(remedy, "pgaadauth_create_principal_with_oid('"+e.role+"'") {
		t.Errorf("Classify(%v) = %q, %q, %v", err, summary, remedy, ok)
	}
	e.noSecrets(t, err.Error(), summary, remedy)
}

func TestAzureConfigErrors(t *testing.T) {
	keyPath, key := testKey(t)
	enc, _ := key.Encrypt(azureSentinel, false)
	url := noPasswordURL("u", "db")
	cases := []struct {
		name, cfg string
		noKey     bool
		want      string
	}{
		{"incomplete", fmt.Sprintf("[Postgres]\nURL = %q\nAzureTenantId = %s\nAzureClientSecret = %s\n", url, azTenant, enc), false, "Postgres.AzureClientId not set"},
		{"no key", fmt.Sprintf("[Postgres]\nURL = %q\nAzureTenantId = %s\nAzureClientId = %s\nAzureClientSecret = %s\n", url, azTenant, azClient, enc), true, "--secret-key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := factory(t, c.cfg, map[string]string{})
			if !c.noKey {
				f.Globals.SecretKey = keyPath
			}
			_, err := Resolve(context.Background(), f)
			if err == nil || cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v (exit %d), want a usage error containing %q", err, cmdutil.ExitCode(err), c.want)
			}
			if strings.Contains(err.Error(), azureSentinel) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error leaks the secret or spans lines: %q", err)
			}
		})
	}
	// An http authority is refused: the secret must not travel in clear.
	f := factory(t, cases[1].cfg, map[string]string{azure.EnvAuthorityHost: "http://login.example.com"})
	f.Globals.SecretKey = keyPath
	if _, err := Resolve(context.Background(), f); err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("http authority: %v", err)
	}
}

// TestAzurePasswordFileWins: an admin may try a token fetched by hand.
func TestAzurePasswordFileWins(t *testing.T) {
	e := setupAzure(t, azureOpts{})
	pw := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(pw, []byte(e.tokens[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.f.Globals.PasswordFile = pw
	set := e.resolve(t)
	if set.Primary.Token != nil || !strings.HasPrefix(set.Primary.PasswordSource, "--password-file") {
		t.Fatalf("Token set or source %q; want --password-file to win", set.Primary.PasswordSource)
	}
	if !strings.Contains(strings.Join(set.Primary.Warnings, "\n"), "--password-file overrides the Azure service principal") {
		t.Errorf("warnings %q", set.Primary.Warnings)
	}
	connectOK(t, set.Primary)
	if e.auth.Issued() != 0 {
		t.Error("a token was requested although --password-file was given")
	}
}
