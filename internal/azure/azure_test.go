package azure

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connectdb/connectdb/internal/config"
	"github.com/connectdb/connectdb/internal/secrets"
)

// keyFile copies the shared test key to a private (mode 0600) file.
func keyFile(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile("../secrets/testdata/connect.key")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "connect.key")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func encrypt(t *testing.T, plain string, fips bool) string {
	t.Helper()
	k, _, err := secrets.LoadKey(keyFile(t))
	if err != nil {
		t.Fatal(err)
	}
	v, err := k.Encrypt(plain, fips)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDecryptsSecret(t *testing.T) {
	for _, fips := range []bool{false, true} {
		p := config.Postgres{AzureTenantId: " " + testTenant + " ", AzureClientId: testClient, AzureClientSecret: encrypt(t, sentinel, fips)}
		r := &secrets.Resolver{KeyPath: keyFile(t), Getenv: env(nil)}
		c, warnings, err := Load(p, r, "")
		if err != nil {
			t.Fatal(err)
		}
		if c.ClientSecret.Reveal() != sentinel || c.TenantID != testTenant || c.ClientID != testClient {
			t.Errorf("fips=%v: credentials not loaded (tenant %q client %q)", fips, c.TenantID, c.ClientID)
		}
		if c.AuthorityHost != DefaultAuthorityHost || len(warnings) != 0 {
			t.Errorf("authority %q, warnings %v", c.AuthorityHost, warnings)
		}
	}
}

func TestLoadAuthorityPrecedence(t *testing.T) {
	p := config.Postgres{AzureTenantId: testTenant, AzureClientId: testClient, AzureClientSecret: encrypt(t, "x", false)}
	r := &secrets.Resolver{KeyPath: keyFile(t), Getenv: env(map[string]string{EnvAuthorityHost: "https://login.microsoftonline.us/"})}
	c, _, err := Load(p, r, "")
	if err != nil || c.AuthorityHost != "https://login.microsoftonline.us" {
		t.Errorf("env: %q, %v", c.AuthorityHost, err)
	}
	c, _, err = Load(p, r, "login.partner.microsoftonline.cn")
	if err != nil || c.AuthorityHost != "https://login.partner.microsoftonline.cn" {
		t.Errorf("flag: %q, %v", c.AuthorityHost, err)
	}
	if _, _, err := Load(p, r, "http://login.example.com"); err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("http authority accepted: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	enc := encrypt(t, sentinel, false)
	full := config.Postgres{AzureTenantId: testTenant, AzureClientId: testClient, AzureClientSecret: enc}

	partial := full
	partial.AzureClientId = ""
	_, _, err := Load(partial, &secrets.Resolver{KeyPath: keyFile(t), Getenv: env(nil)}, "")
	if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), SettingClientID) {
		t.Errorf("incomplete: %v", err)
	}

	_, _, err = Load(full, &secrets.Resolver{Getenv: env(nil)}, "")
	if err == nil || !strings.Contains(err.Error(), "--secret-key") {
		t.Errorf("no key: %v", err)
	}

	other := t.TempDir() + "/other.key"
	os.WriteFile(other, []byte(strings.Repeat("ab", secrets.KeySize)), 0o600)
	_, _, err = Load(full, &secrets.Resolver{KeyPath: other, Getenv: env(nil)}, "")
	if !errors.Is(err, secrets.ErrDecrypt) {
		t.Errorf("wrong key: %v", err)
	}

	plain := full
	plain.AzureClientSecret = sentinel
	c, warnings, err := Load(plain, &secrets.Resolver{Getenv: env(nil)}, "")
	if err != nil || c.ClientSecret.Reveal() != sentinel || len(warnings) != 1 {
		t.Errorf("plain secret: %v, warnings %v", err, warnings)
	}
	for _, w := range warnings {
		noLeak(t, "warning", w)
	}
}

func TestNormalizeAuthority(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", DefaultAuthorityHost},
		{"https://login.microsoftonline.com", "https://login.microsoftonline.com"},
		{"https://login.microsoftonline.com/", "https://login.microsoftonline.com"},
		{"login.microsoftonline.us", "https://login.microsoftonline.us"},
		{"https://127.0.0.1:8443", "https://127.0.0.1:8443"},
		{"https://login.example.com/prefix/", "https://login.example.com/prefix"},
		{"  https://login.chinacloudapi.cn  ", "https://login.chinacloudapi.cn"},
	}
	for _, c := range cases {
		got, err := NormalizeAuthority(c.in)
		if err != nil || got != c.want {
			t.Errorf("NormalizeAuthority(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"http://login.microsoftonline.com", "https://", "https://u:p@login.example.com", "https://login.example.com/?x=1", "ftp://x", "http://u:p@login.example.com", "https://u:p@[::1"} {
		if got, err := NormalizeAuthority(bad); err == nil {
			t.Errorf("NormalizeAuthority(%q) = %q, want an error", bad, got)
		} else if strings.Contains(err.Error(), "u:p@") {
			t.Errorf("error shows URL credentials: %v", err)
		}
	}
}

func TestAuthorityHostAndTokenURL(t *testing.T) {
	if got := AuthorityHost("", nil); got != DefaultAuthorityHost {
		t.Errorf("default: %q", got)
	}
	e := env(map[string]string{EnvAuthorityHost: "https://env"})
	if got := AuthorityHost("", e); got != "https://env" {
		t.Errorf("env: %q", got)
	}
	if got := AuthorityHost("https://flag", e); got != "https://flag" {
		t.Errorf("flag: %q", got)
	}
	c := Credentials{TenantID: "contoso.onmicrosoft.com"}
	if got := c.TokenURL(); got != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" {
		t.Errorf("TokenURL = %q", got)
	}
	c = Credentials{TenantID: "a/b?c", AuthorityHost: "https://h/"}
	if got := c.TokenURL(); got != "https://h/a%2Fb%3Fc/oauth2/v2.0/token" {
		t.Errorf("TokenURL escapes the tenant: %q", got)
	}
}

func TestConfiguredComplete(t *testing.T) {
	cases := []struct {
		p                    config.Postgres
		configured, complete bool
	}{
		{config.Postgres{}, false, false},
		{config.Postgres{Password: "x"}, false, false},
		{config.Postgres{AzureTenantId: "t"}, true, false},
		{config.Postgres{AzureClientSecret: "s"}, true, false},
		{config.Postgres{AzureTenantId: "t", AzureClientId: "c", AzureClientSecret: "s"}, true, true},
	}
	for i, c := range cases {
		if Configured(c.p) != c.configured || Complete(c.p) != c.complete {
			t.Errorf("case %d: Configured=%v Complete=%v", i, Configured(c.p), Complete(c.p))
		}
	}
}

func TestScopeFor(t *testing.T) {
	cases := map[string]string{
		"":                                         Scope,
		DefaultAuthorityHost:                       Scope,
		"https://127.0.0.1:4443":                   Scope,
		"https://login.microsoftonline.us":         ScopeUSGovernment,
		"https://LOGIN.microsoftonline.us/":        ScopeUSGovernment,
		"https://login.chinacloudapi.cn":           ScopeChina,
		"https://login.partner.microsoftonline.cn": ScopeChina,
	}
	for in, want := range cases {
		if got := ScopeFor(in); got != want {
			t.Errorf("ScopeFor(%q) = %q, want %q", in, got, want)
		}
	}
}
