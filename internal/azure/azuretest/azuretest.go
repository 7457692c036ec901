// Package azuretest runs a local Entra ID token endpoint over HTTPS for
// tests: it issues client-credentials tokens with a short lifetime, answers
// with Entra ID's JSON errors for a wrong tenant, client or secret, and
// records every request (without keeping the secret).
package azuretest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Options configure an Authority.
type Options struct {
	Tenant   string        // the only tenant the authority knows
	ClientID string        // the only application it knows
	Secret   string        // that application's secret
	TTL      time.Duration // lifetime of issued tokens; 0 means one hour (rounded to whole seconds, at least 1s)
	// Tokens are issued in order; after them, random tokens.
	Tokens []string
	// ExpiredSecret makes a correct secret answer AADSTS7000222.
	ExpiredSecret bool
	// Echo makes the authority misbehave like a proxy or a broken
	// authority that quotes the request it got, client_secret included.
	Echo Echo
}

// Echo says how an Authority quotes the request body back.
type Echo int

const (
	EchoNone Echo = iota
	// EchoJSON refuses every request with an Entra ID JSON error whose
	// error, error_description, trace_id and correlation_id quote the
	// form body (raw, form-decoded and JSON-escaped).
	EchoJSON
	// EchoText answers 502 with the form body as text/plain.
	EchoText
	// EchoOKText answers 200 with the form body as text/plain, which is
	// not a token.
	EchoOKText
)

// Request is what the authority recorded about one token request.
type Request struct {
	Path          string
	Tenant        string
	GrantType     string
	ClientID      string
	Scope         string
	SecretPresent bool // a client_secret arrived in the form body
	SecretMatched bool // and it equals Options.Secret
	Issued        bool // a token was issued
}

// Authority is a running token endpoint.
type Authority struct {
	Server *httptest.Server
	opts   Options

	mu       sync.Mutex
	requests []Request
	issued   int
}

// TB is the part of testing.TB that Start needs; a *testing.T fits.
type TB interface {
	Helper()
	Cleanup(func())
}

// Start runs an authority until the test ends.
func Start(t TB, opts Options) *Authority {
	t.Helper()
	a := &Authority{opts: opts}
	a.Server = httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	a.Server.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes from untrusting clients are expected
	a.Server.StartTLS()
	t.Cleanup(a.Server.Close)
	return a
}

// URL is the authority host to configure, such as https://127.0.0.1:41234.
func (a *Authority) URL() string { return a.Server.URL }

// Client returns an HTTP client that trusts only this authority's CA.
func (a *Authority) Client() *http.Client { return a.Server.Client() }

// CertPool holds the authority's CA certificate.
func (a *Authority) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(a.Server.Certificate())
	return pool
}

// Requests returns a copy of the recorded requests.
func (a *Authority) Requests() []Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Request(nil), a.requests...)
}

// Issued returns how many tokens were issued.
func (a *Authority) Issued() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.issued
}

func (a *Authority) serve(w http.ResponseWriter, r *http.Request) {
	rec := Request{Path: r.URL.Path}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) != 4 || parts[1] != "oauth2" || parts[2] != "v2.0" || parts[3] != "token" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	rec.Tenant = parts[0]
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	rec.GrantType, rec.ClientID, rec.Scope = r.PostForm.Get("grant_type"), r.PostForm.Get("client_id"), r.PostForm.Get("scope")
	secret := r.PostForm.Get("client_secret")
	rec.SecretPresent = secret != ""
	rec.SecretMatched = secret == a.opts.Secret

	a.mu.Lock()
	defer a.mu.Unlock()
	defer func() { a.requests = append(a.requests, rec) }()
	switch a.opts.Echo {
	case EchoJSON:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{
			"error":             "invalid_request " + string(body),
			"error_description": "AADSTS900144: The request body must contain the following parameter: " + string(body) + " (decoded: " + secret + ")",
			"error_codes":       []int{900144},
			"trace_id":          string(body),
			"correlation_id":    secret,
		})
		return
	case EchoText, EchoOKText:
		w.Header().Set("Content-Type", "text/plain")
		if a.opts.Echo == EchoText {
			w.WriteHeader(http.StatusBadGateway)
		}
		fmt.Fprintf(w, "proxy saw: %s\nsecret %s\n", body, secret)
		return
	}
	switch {
	case rec.Tenant != a.opts.Tenant:
		entraError(w, http.StatusBadRequest, "invalid_request", 90002,
			fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", rec.Tenant))
	case rec.GrantType != "client_credentials":
		entraError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
	case rec.ClientID != a.opts.ClientID:
		entraError(w, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", rec.ClientID, rec.Tenant))
	case !rec.SecretMatched:
		entraError(w, http.StatusUnauthorized, "invalid_client", 7000215,
			"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+rec.ClientID+"'.")
	case a.opts.ExpiredSecret:
		entraError(w, http.StatusUnauthorized, "invalid_client", 7000222,
			"The provided client secret keys for app '"+rec.ClientID+"' are expired.")
	case rec.Scope != "https://ossrdbms-aad.database.windows.net/.default":
		entraError(w, http.StatusBadRequest, "invalid_scope", 70011, "The provided request must include a 'scope' input parameter.")
	default:
		tok := a.next()
		rec.Issued = true
		ttl := a.opts.TTL
		if ttl <= 0 {
			ttl = time.Hour
		}
		secs := max(1, int(ttl.Round(time.Second)/time.Second))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(map[string]any{
			"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok,
		})
	}
}

// next returns the next token; the caller holds a.mu.
func (a *Authority) next() string {
	i := a.issued
	a.issued++
	if i < len(a.opts.Tokens) {
		return a.opts.Tokens[i]
	}
	return RandomToken()
}

// RandomToken returns a JWT-shaped random token about as long as a real
// one (about 1,250 characters).
func RandomToken() string { return RandomTokenN(1250) }

// RandomTokenN returns a JWT-shaped random token of n characters (at
// least 64). PostgreSQL 13 refuses to store a password as long as a real
// token ("password too long"), so tests that set a role's password to a
// token use a shorter one.
func RandomTokenN(n int) string {
	const header = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9."
	n = max(n, 64)
	b := make([]byte, n)
	rand.Read(b)
	body := base64.RawURLEncoding.EncodeToString(b)[:n-len(header)-1]
	cut := len(body) * 3 / 4
	return header + body[:cut] + "." + body[cut:]
}

func entraError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	now := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	json.NewEncoder(w).Encode(map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: 0c1a4e7e-3a51-4bd5-9c1c-8d0a9b4b0e00\r\nCorrelation ID: 5f2e4c3a-9b7d-4a1e-8f6c-2d3b1a0c9e8f\r\nTimestamp: %s", aadsts, desc, now),
		"error_codes":       []int{aadsts},
		"timestamp":         now,
		"trace_id":          "0c1a4e7e-3a51-4bd5-9c1c-8d0a9b4b0e00",
		"correlation_id":    "5f2e4c3a-9b7d-4a1e-8f6c-2d3b1a0c9e8f",
		"error_uri":         "https://login.microsoftonline.com/error?code=" + fmt.Sprint(aadsts),
	})
}
