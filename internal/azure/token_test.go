package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/connectdb/connectdb/internal/azure/azuretest"
	"github.com/connectdb/connectdb/internal/secrets"
)

const (
	testTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	testClient = "0e3a5f4c-1b2d-4c6e-8f9a-0b1c2d3e4f5a"
	sentinel   = "S3ntinel~Secret.Value_never-shown"
)

func creds(a *azuretest.Authority) Credentials {
	return Credentials{TenantID: testTenant, ClientID: testClient, ClientSecret: secrets.NewSecret(sentinel), AuthorityHost: a.URL()}
}

func authority(t *testing.T, o azuretest.Options) *azuretest.Authority {
	if o.Tenant == "" {
		o.Tenant = testTenant
	}
	if o.ClientID == "" {
		o.ClientID = testClient
	}
	if o.Secret == "" {
		o.Secret = sentinel
	}
	return azuretest.Start(t, o)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func noLeak(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, sentinel) {
			t.Errorf("%s contains the client secret", what)
		}
	}
}

func TestTokenRequestAndCache(t *testing.T) {
	a := authority(t, azuretest.Options{Tokens: []string{"tok-1", "tok-2"}})
	src := NewTokenSource(creds(a), WithRootCAs(a.CertPool()))
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		tok, err := src.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tok != "tok-1" {
			t.Fatalf("call %d: token %q, want the cached tok-1", i, tok)
		}
	}
	reqs := a.Requests()
	if len(reqs) != 1 || src.Fetches() != 1 {
		t.Fatalf("%d requests, %d fetches; want one of each", len(reqs), src.Fetches())
	}
	r := reqs[0]
	if r.Path != "/"+testTenant+"/oauth2/v2.0/token" {
		t.Errorf("path %q", r.Path)
	}
	if r.GrantType != "client_credentials" || r.ClientID != testClient || r.Scope != Scope {
		t.Errorf("grant_type=%q client_id=%q scope=%q", r.GrantType, r.ClientID, r.Scope)
	}
	if !r.SecretPresent || !r.SecretMatched {
		t.Errorf("secret present=%v matched=%v; want the decrypted secret in the form body", r.SecretPresent, r.SecretMatched)
	}
}

func TestTokenRefreshBeforeExpiry(t *testing.T) {
	a := authority(t, azuretest.Options{Tokens: []string{"tok-1", "tok-2", "tok-3"}, TTL: 2 * time.Second})
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	src := NewTokenSource(creds(a), WithRootCAs(a.CertPool()), WithClock(clock.now))
	ctx := context.Background()
	want := func(w string) {
		t.Helper()
		tok, err := src.Token(ctx)
		if err != nil || tok != w {
			t.Fatalf("Token = %q, %v; want %q", tok, err, w)
		}
	}
	want("tok-1")
	clock.advance(1500 * time.Millisecond) // margin is 2s/5 = 400ms: still good
	want("tok-1")
	clock.advance(200 * time.Millisecond) // 1.7s: inside the margin
	want("tok-2")
	src.Invalidate()
	want("tok-3")
	if n := a.Issued(); n != 3 {
		t.Errorf("issued %d tokens, want 3", n)
	}
}

func TestTokenMarginLongLived(t *testing.T) {
	a := authority(t, azuretest.Options{TTL: time.Hour})
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	src := NewTokenSource(creds(a), WithRootCAs(a.CertPool()), WithClock(clock.now))
	first, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	clock.advance(54 * time.Minute)
	if tok, _ := src.Token(context.Background()); tok != first {
		t.Error("token replaced 6 minutes before expiry; want it reused until 5 minutes before")
	}
	clock.advance(2 * time.Minute)
	if tok, _ := src.Token(context.Background()); tok == first {
		t.Error("token reused 4 minutes before expiry; want a new one")
	}
	if len(first) < 1000 {
		t.Errorf("test tokens should be as long as real ones, got %d bytes", len(first))
	}
}

func TestTokenExplicitMargin(t *testing.T) {
	a := authority(t, azuretest.Options{TTL: time.Hour})
	clock := &fakeClock{t: time.Unix(0, 0)}
	src := NewTokenSource(creds(a), WithRootCAs(a.CertPool()), WithClock(clock.now), WithExpiryMargin(30*time.Minute))
	src.Token(context.Background())
	clock.advance(31 * time.Minute)
	src.Token(context.Background())
	if a.Issued() != 2 {
		t.Errorf("issued %d, want 2 with a 30m margin after 31m", a.Issued())
	}
}

func TestTokenConcurrentCallersShareOneRequest(t *testing.T) {
	a := authority(t, azuretest.Options{})
	src := NewTokenSource(creds(a), WithRootCAs(a.CertPool()))
	var wg sync.WaitGroup
	toks := make([]string, 16)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i], _ = src.Token(context.Background())
		}()
	}
	wg.Wait()
	for _, tok := range toks {
		if tok == "" || tok != toks[0] {
			t.Fatal("concurrent callers got different or empty tokens")
		}
	}
	if a.Issued() != 1 {
		t.Errorf("issued %d tokens for concurrent callers, want 1", a.Issued())
	}
}

func TestHTTPClientFromContextAndOption(t *testing.T) {
	a := authority(t, azuretest.Options{})
	// Through the context, the way x/oauth2 callers do it.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, a.Client())
	if _, err := NewTokenSource(creds(a)).Token(ctx); err != nil {
		t.Fatalf("client from context: %v", err)
	}
	if _, err := NewTokenSource(creds(a), WithHTTPClient(a.Client())).Token(context.Background()); err != nil {
		t.Fatalf("WithHTTPClient: %v", err)
	}
	// The injected client must not be modified by the timeout.
	c := a.Client()
	NewTokenSource(creds(a), WithHTTPClient(c), WithTimeout(time.Second)).Token(context.Background())
	if c.Timeout != 0 {
		t.Errorf("caller's client Timeout changed to %v", c.Timeout)
	}
}

func TestEntraRefusals(t *testing.T) {
	cases := []struct {
		name    string
		opts    azuretest.Options
		creds   func(Credentials) Credentials
		code    int
		summary string
	}{
		{"wrong secret", azuretest.Options{Secret: "the-real-one"}, nil, CodeInvalidSecret, "rejected the client secret"},
		{"expired secret", azuretest.Options{ExpiredSecret: true}, nil, CodeExpiredSecret, "has expired"},
		{"unknown tenant", azuretest.Options{}, func(c Credentials) Credentials { c.TenantID = "11111111-2222-3333-4444-555555555555"; return c }, CodeTenantNotFound, "does not know the tenant"},
		{"unknown client", azuretest.Options{}, func(c Credentials) Credentials { c.ClientID = "11111111-2222-3333-4444-555555555555"; return c }, CodeAppNotFound, "does not know the application"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := authority(t, tc.opts)
			c := creds(a)
			if tc.creds != nil {
				c = tc.creds(c)
			}
			src := NewTokenSource(c, WithRootCAs(a.CertPool()))
			tok, err := src.Token(context.Background())
			if err == nil || tok != "" {
				t.Fatalf("Token = %q, %v; want an error", tok, err)
			}
			var te *TokenError
			if !errors.As(err, &te) || !te.Has(tc.code) {
				t.Fatalf("error %v is not a TokenError with AADSTS%d", err, tc.code)
			}
			if te.Status < 400 || te.Code == "" || te.TraceID == "" {
				t.Errorf("TokenError fields not parsed: %+v", te)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error is not one line: %q", err)
			}
			wrapped := fmt.Errorf("connecting to the primary database: %w", err)
			summary, remedy, ok := Classify(wrapped)
			if !ok || !strings.Contains(summary, tc.summary) || remedy == "" {
				t.Errorf("Classify = %q, %q, %v; want summary containing %q", summary, remedy, ok, tc.summary)
			}
			noLeak(t, "error and classification", err.Error(), summary, remedy, fmt.Sprintf("%+v %#v", te, te))
		})
	}
}

func TestAuthorityDown(t *testing.T) {
	a := authority(t, azuretest.Options{})
	c := creds(a)
	a.Server.Close()
	src := NewTokenSource(c, WithRootCAs(a.CertPool()), WithTimeout(2*time.Second))
	start := time.Now()
	_, err := src.Token(context.Background())
	var ae *AuthorityError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an AuthorityError", err)
	}
	if d := time.Since(start); d > 2*time.Second+500*time.Millisecond {
		t.Errorf("took %v, longer than the timeout", d)
	}
	summary, remedy, ok := Classify(err)
	if !ok || !strings.Contains(summary, "could not be reached") || !strings.Contains(remedy, "outbound HTTPS") {
		t.Errorf("Classify = %q, %q, %v", summary, remedy, ok)
	}
	noLeak(t, "error", err.Error(), summary, remedy)
}

func TestAuthoritySilentIsBoundedByTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // accept, never answer
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	c := Credentials{TenantID: testTenant, ClientID: testClient, ClientSecret: secrets.NewSecret(sentinel), AuthorityHost: "https://" + ln.Addr().String()}
	src := NewTokenSource(c, WithTimeout(300*time.Millisecond))
	start := time.Now()
	_, err = src.Token(context.Background())
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v with a 300ms timeout", d)
	}
	summary, remedy, ok := Classify(err)
	if !ok || !strings.Contains(summary, "did not answer within 300ms") || !strings.Contains(remedy, "--timeout") {
		t.Errorf("Classify(%v) = %q, %q, %v", err, summary, remedy, ok)
	}
}

func TestAuthorityUntrustedCertificate(t *testing.T) {
	a := authority(t, azuretest.Options{})
	_, err := NewTokenSource(creds(a)).Token(context.Background()) // system CAs only
	summary, _, ok := Classify(err)
	if !ok || !strings.Contains(summary, "certificate") {
		t.Errorf("Classify(%v) = %q, %v; want a certificate problem", err, summary, ok)
	}
	if a.Issued() != 0 {
		t.Error("a token was issued over an unverified connection")
	}
}

func TestAuthorityNotAToken(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html>proxy error</html>"))
	}))
	t.Cleanup(srv.Close)
	c := Credentials{TenantID: testTenant, ClientID: testClient, ClientSecret: secrets.NewSecret(sentinel), AuthorityHost: srv.URL}
	_, err := NewTokenSource(c, WithHTTPClient(srv.Client())).Token(context.Background())
	var te *TokenError
	if !errors.As(err, &te) || te.Status != http.StatusBadGateway {
		t.Fatalf("error %v: want a TokenError with status 502", err)
	}
	if summary, _, ok := Classify(err); !ok || !strings.Contains(summary, "refused the token request") {
		t.Errorf("Classify = %q, %v", summary, ok)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	a := authority(t, azuretest.Options{Secret: "other"})
	c := creds(a)
	src := NewTokenSource(c, WithRootCAs(a.CertPool()))
	_, err := src.Token(context.Background())
	js, _ := json.Marshal(c)
	noLeak(t, "printed values",
		fmt.Sprintf("%v %+v %#v %s", c, c, c, c),
		fmt.Sprintf("%v %+v %#v %s", src, src, src, src),
		string(js), err.Error())
}

func TestRandomTokenN(t *testing.T) {
	for _, n := range []int{0, 64, 900, 1250} {
		tok := azuretest.RandomTokenN(n)
		if want := max(n, 64); len(tok) != want || strings.Count(tok, ".") != 2 {
			t.Errorf("RandomTokenN(%d) has %d characters and %d dots", n, len(tok), strings.Count(tok, "."))
		}
	}
}

// BenchmarkTokenCached is the cost Token adds to every new connection
// while the cached token is valid (no network).
func BenchmarkTokenCached(b *testing.B) {
	a := azuretest.Start(b, azuretest.Options{Tenant: testTenant, ClientID: testClient, Secret: sentinel})
	src := NewTokenSource(Credentials{TenantID: testTenant, ClientID: testClient, ClientSecret: secrets.NewSecret(sentinel), AuthorityHost: a.URL()}, WithRootCAs(a.CertPool()))
	ctx := context.Background()
	if _, err := src.Token(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := src.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if a.Issued() != 1 {
		b.Fatalf("issued %d tokens, want 1", a.Issued())
	}
}

// BenchmarkTokenFetch is one full client-credentials round trip to a
// local HTTPS authority (TLS connection reused).
func BenchmarkTokenFetch(b *testing.B) {
	a := azuretest.Start(b, azuretest.Options{Tenant: testTenant, ClientID: testClient, Secret: sentinel})
	src := NewTokenSource(Credentials{TenantID: testTenant, ClientID: testClient, ClientSecret: secrets.NewSecret(sentinel), AuthorityHost: a.URL()}, WithRootCAs(a.CertPool()))
	ctx := context.Background()
	for b.Loop() {
		src.Invalidate()
		if _, err := src.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
