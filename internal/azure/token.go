package azure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/connectdb/connectdb/internal/secrets"
)

// DefaultTimeout bounds one token request when no WithTimeout is given.
const DefaultTimeout = 10 * time.Second

// MaxExpiryMargin is how long before its expiry a cached token is replaced
// at most. For short-lived tokens the margin is a fifth of the lifetime.
const MaxExpiryMargin = 5 * time.Minute

// TokenSource hands out access tokens for Azure Database for PostgreSQL.
// It caches a token until shortly before it expires, so every new
// connection gets a token that is still valid. It is safe for concurrent
// use. Printing a TokenSource shows neither the secret nor the token.
type TokenSource struct {
	creds   Credentials
	client  *http.Client // from WithHTTPClient or WithRootCAs; nil: see httpClient
	timeout time.Duration
	now     func() time.Time
	margin  time.Duration // 0: automatic

	mu      sync.Mutex
	token   secrets.Secret
	refresh time.Time // when the cached token must be replaced
	fetches int
}

// Option configures a TokenSource.
type Option func(*TokenSource)

// WithHTTPClient makes the TokenSource send token requests with c, for
// example one that trusts a test authority's CA. Without it, a client put
// into the context with oauth2.HTTPClient is used, else a client with
// the system's trusted CAs and proxy settings.
func WithHTTPClient(c *http.Client) Option { return func(s *TokenSource) { s.client = c } }

// WithRootCAs makes the TokenSource trust only the CAs in pool when it
// talks to the authority.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(s *TokenSource) {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		s.client = &http.Client{Transport: tr}
	}
}

// WithTimeout bounds each token request (connectdb passes --timeout).
func WithTimeout(d time.Duration) Option { return func(s *TokenSource) { s.timeout = d } }

// WithClock replaces time.Now for expiry decisions.
func WithClock(now func() time.Time) Option { return func(s *TokenSource) { s.now = now } }

// WithExpiryMargin sets how long before expiry a cached token is replaced.
func WithExpiryMargin(d time.Duration) Option { return func(s *TokenSource) { s.margin = d } }

// NewTokenSource returns a TokenSource for the service principal c.
func NewTokenSource(c Credentials, opts ...Option) *TokenSource {
	s := &TokenSource{creds: c, timeout: DefaultTimeout, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if c.AuthorityHost == "" {
		s.creds.AuthorityHost = DefaultAuthorityHost
	}
	return s
}

// String describes the source without secrets.
func (s *TokenSource) String() string {
	return fmt.Sprintf("azure.TokenSource(tenant %s, client %s, %s)", s.creds.TenantID, s.creds.ClientID, s.creds.AuthorityHost)
}

// Format prints String for every verb, so no verb can reach the secret.
func (s *TokenSource) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// Credentials returns the service principal (its secret stays hidden when printed).
func (s *TokenSource) Credentials() Credentials { return s.creds }

// Fetches returns how many tokens have been requested from the authority.
func (s *TokenSource) Fetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

// Token returns a valid access token, requesting a new one when none is
// cached or the cached one is about to expire. It has the signature of
// target.TokenFunc. Errors are *TokenError (Entra ID refused the request)
// or *AuthorityError (the authority could not be reached); see Classify.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.token.IsZero() && s.now().Before(s.refresh) {
		return s.token.Reveal(), nil
	}
	s.token, s.refresh = secrets.Secret{}, time.Time{}
	tok, refresh, err := s.fetch(ctx)
	if err != nil {
		return "", err
	}
	s.token, s.refresh = secrets.NewSecret(tok), refresh
	return tok, nil
}

// Invalidate drops the cached token, so the next Token call fetches anew.
func (s *TokenSource) Invalidate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token, s.refresh = secrets.Secret{}, time.Time{}
}

func (s *TokenSource) httpClient(ctx context.Context) *http.Client {
	if s.client != nil {
		return s.client
	}
	if c, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && c != nil {
		return c
	}
	return &http.Client{Transport: http.DefaultTransport}
}

// fetch performs one client-credentials request. It returns the token and
// the time from which it must no longer be handed out.
func (s *TokenSource) fetch(ctx context.Context) (string, time.Time, error) {
	s.fetches++
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	client := *s.httpClient(ctx) // copy: bound this request without touching the caller's client
	if s.timeout > 0 && (client.Timeout == 0 || client.Timeout > s.timeout) {
		client.Timeout = s.timeout
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &client)

	cc := &clientcredentials.Config{
		ClientID:     s.creds.ClientID,
		ClientSecret: s.creds.ClientSecret.Reveal(),
		TokenURL:     s.creds.TokenURL(),
		Scopes:       []string{s.creds.Scope()},
		AuthStyle:    oauth2.AuthStyleInParams, // Entra ID reads client_secret from the form body
	}
	start := s.now()
	tok, err := cc.Token(ctx)
	if err != nil {
		return "", time.Time{}, s.wrap(ctx, err)
	}
	if tok.AccessToken == "" {
		return "", time.Time{}, &TokenError{Authority: s.creds.AuthorityHost, Description: "the authority answered without an access token"}
	}
	var lifetime time.Duration
	switch {
	case tok.ExpiresIn > 0:
		lifetime = time.Duration(tok.ExpiresIn) * time.Second
	case !tok.Expiry.IsZero():
		lifetime = time.Until(tok.Expiry)
	}
	if lifetime <= 0 {
		return tok.AccessToken, start, nil // unknown lifetime: use once, never cache
	}
	margin := s.margin
	if margin <= 0 {
		margin = min(MaxExpiryMargin, lifetime/5)
	}
	return tok.AccessToken, start.Add(lifetime - margin), nil
}

// wrap turns an x/oauth2 error into a *TokenError or *AuthorityError.
// Every string in it that came from the network is scrubbed of the client
// secret: a proxy or a misbehaving authority may quote the request back.
func (s *TokenSource) wrap(ctx context.Context, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		te := parseEntraError(re.Body)
		te.Authority = s.creds.AuthorityHost
		if re.Response != nil {
			te.Status = re.Response.StatusCode
		}
		if te.Code == "" {
			te.Code = firstLine(re.ErrorCode)
		}
		if te.Description == "" {
			te.Description = firstLine(re.ErrorDescription)
		}
		for _, f := range []*string{&te.Code, &te.Description, &te.TraceID, &te.CorrelationID} {
			*f = s.scrub(*f)
		}
		return te
	}
	var ue *url.Error
	if errors.As(err, &ue) || ctx.Err() != nil {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return &AuthorityError{Authority: s.creds.AuthorityHost, Timeout: s.timeout, Err: scrubbed{err, s.scrub}}
	}
	// The authority answered, but not with a token or an OAuth error.
	return &TokenError{Authority: s.creds.AuthorityHost, Description: "the answer could not be read as a token (" + s.scrub(firstLine(err.Error())) + ")"}
}

// secretParamRE finds a client_secret form or JSON field and its value,
// whatever secret it holds.
var secretParamRE = regexp.MustCompile(`(?i)(client_secret"?\s*[=:]\s*"?)[^&\s"]*`)

// scrub replaces in text every form of the client secret that a server
// could quote back (as sent in the form body, decoded, JSON-escaped) and
// the value of any client_secret parameter with "xxxxx".
func (s *TokenSource) scrub(text string) string {
	text = secretParamRE.ReplaceAllString(text, "${1}xxxxx")
	sec := s.creds.ClientSecret.Reveal()
	if sec == "" {
		return text
	}
	js, _ := json.Marshal(sec)
	forms := []string{sec, url.QueryEscape(sec), url.PathEscape(sec), string(js[1 : len(js)-1])}
	forms = append(forms, strings.ToLower(forms[1]))
	for _, f := range forms {
		text = strings.ReplaceAll(text, f, "xxxxx")
	}
	return text
}

// scrubbed is an error whose message is scrubbed of the client secret; it
// unwraps to the original, so that Classify still sees the cause.
type scrubbed struct {
	err   error
	scrub func(string) string
}

func (e scrubbed) Error() string { return e.scrub(e.err.Error()) }
func (e scrubbed) Unwrap() error { return e.err }

// ContextClient is WithHTTPClient with the client that ctx carries under
// oauth2.HTTPClient, if any; otherwise it changes nothing. Callers that
// build a TokenSource from a context (target.FromConfig) use it so that
// tests and embedders can supply the client that reaches the authority.
func ContextClient(ctx context.Context) Option {
	c, _ := ctx.Value(oauth2.HTTPClient).(*http.Client)
	return func(s *TokenSource) {
		if c != nil {
			s.client = c
		}
	}
}
