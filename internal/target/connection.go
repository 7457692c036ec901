package target

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/connectdb/connectdb/internal/connerr"
)

// Connection is the connection-setup report of one target: where the
// target and its password came from, the host that answered, the
// encryption actually negotiated, and every warning. It never holds a
// secret. Commands print it once per target (see Lines and Notes); check
// adds it to its JSON as "connection".
type Connection struct {
	Target Kind   `json:"-"`
	From   string `json:"from"` // where the URL came from: "--url", "Postgres.URL (rstudio-connect.gcfg:3)", "libpq environment"
	URL    string `json:"-"`    // redacted
	// Password says where the password came from: "from PGPASSWORD",
	// "from ~/.pgpass:3", "none given".
	Password string `json:"password"`
	// Attempted is false until a connection was tried.
	Attempted bool `json:"attempted"`
	// Host is the host that answered, e.g. "db2.example.com:5432
	// (10.0.0.2)" or "/var/run/postgresql/.s.PGSQL.5432"; "" when none did.
	Host string `json:"host,omitempty"`
	// FailedHosts lists each host tried before (or instead of) Host, and why.
	FailedHosts []HostFailure `json:"failed_hosts,omitempty"`
	Encrypted   bool          `json:"encrypted"`
	// TLS is the protocol version negotiated ("TLS 1.3"), or "not
	// encrypted: <the reason>"; "" when no connection was made.
	TLS      string   `json:"tls,omitempty"`
	Cipher   string   `json:"cipher,omitempty"` // the TLS cipher suite
	Warnings []string `json:"warnings"`
}

// HostFailure is one host of a multi-host URL that did not answer.
type HostFailure struct {
	Host    string `json:"host"`
	Cause   string `json:"cause"` // a connerr cause ID
	Summary string `json:"summary"`
}

// Connection returns the target's connection-setup report, filled in by
// the last Connect.
func (t *Target) Connection() Connection {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.conn
	c.Target, c.From, c.URL = t.Kind, t.Source, t.Redacted
	c.Password = "none given"
	if t.PasswordSource != "" {
		c.Password = "from " + t.PasswordSource
	}
	c.Warnings = append([]string{}, t.Warnings...)
	c.FailedHosts = append([]HostFailure(nil), t.conn.FailedHosts...)
	return c
}

// Summary is the report in one line, without warnings: "reached
// 127.0.0.1:5432, TLS 1.3, password from PGPASSWORD".
func (c Connection) Summary() string {
	var parts []string
	if c.Host != "" {
		parts = append(parts, "reached "+c.Host)
	}
	for _, f := range c.FailedHosts {
		parts = append(parts, "tried "+f.Host+": "+strings.TrimSuffix(f.Summary, "."))
	}
	if c.TLS != "" {
		parts = append(parts, c.TLS)
	}
	parts = append(parts, "password "+c.Password)
	return strings.Join(parts, "; ")
}

// Notes are the report as note lines for commands that print notes: the
// summary first, then each warning.
func (c Connection) Notes() []string {
	return append([]string{"connection to the " + string(c.Target) + " database (target from " + c.From + "): " + c.Summary()}, c.Warnings...)
}

// WriteText writes the report as an indented block.
func (c Connection) WriteText(w io.Writer, indent string) {
	if c.Host != "" {
		fmt.Fprintf(w, "%sreached:  %s\n", indent, c.Host)
	}
	for _, f := range c.FailedHosts {
		fmt.Fprintf(w, "%sfailed:   %s: %s\n", indent, f.Host, f.Summary)
	}
	if c.TLS != "" {
		fmt.Fprintf(w, "%stls:      %s\n", indent, c.TLS)
	}
	fmt.Fprintf(w, "%spassword: %s\n", indent, c.Password)
	for _, s := range c.Warnings {
		fmt.Fprintf(w, "%swarning:  %s\n", indent, s)
	}
}

// dialLog records the host names pgx resolves and the addresses it dials,
// so a report can name the host that answered and each one that failed.
type dialLog struct {
	mu     sync.Mutex
	names  map[string][]string // IP -> host names that resolved to it
	hosts  map[string]bool     // "host:port" of every host in the URL
	failed []dialFailure
}

type dialFailure struct {
	addr string
	err  error
}

func (d *dialLog) wrap(cc *pgx.ConnConfig) {
	d.names, d.hosts = map[string][]string{}, map[string]bool{}
	d.hosts[net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))] = true
	for _, fb := range cc.Fallbacks {
		d.hosts[net.JoinHostPort(fb.Host, strconv.Itoa(int(fb.Port)))] = true
	}
	lookup := cc.LookupFunc
	if lookup == nil {
		lookup = net.DefaultResolver.LookupHost
	}
	cc.LookupFunc = func(ctx context.Context, host string) ([]string, error) {
		addrs, err := lookup(ctx, host)
		d.mu.Lock()
		for _, a := range addrs {
			if net.ParseIP(host) == nil {
				d.names[a] = append(d.names[a], host)
			}
		}
		d.mu.Unlock()
		return addrs, err
	}
	dial := cc.DialFunc
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	cc.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			d.mu.Lock()
			d.failed = append(d.failed, dialFailure{addr, err})
			d.mu.Unlock()
		}
		return c, err
	}
}

// name returns "host:port (ip)" for a dialed address, or the address
// itself when the URL named it so.
func (d *dialLog) name(addr string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	ip, port, err := net.SplitHostPort(addr)
	if err != nil || d.hosts[addr] {
		return addr // a Unix socket path, or an address written in the URL
	}
	for _, h := range d.names[ip] {
		if hp := net.JoinHostPort(h, port); d.hosts[hp] {
			return hp + " (" + ip + ")"
		}
	}
	return addr
}

// describe fills the report from an open connection.
func (t *Target) describe(c *pgx.Conn, d *dialLog) {
	nc := c.PgConn().Conn()
	var r Connection
	r.Attempted = true
	if nc != nil {
		r.Host = d.name(nc.RemoteAddr().String())
		if nc.RemoteAddr().Network() == "unix" {
			r.Host = nc.RemoteAddr().String()
		}
	}
	for _, f := range d.failed {
		c := t.errContext()
		c.Host = f.addr
		cause := connerr.ClassifyFor(f.err, c)
		r.FailedHosts = append(r.FailedHosts, HostFailure{Host: d.name(f.addr), Cause: cause.ID, Summary: cause.Summary})
	}
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		r.Encrypted = true
		r.TLS, r.Cipher = tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)
	} else {
		r.TLS = "not encrypted: " + t.plainReason(nc)
	}
	t.mu.Lock()
	t.conn = r
	t.mu.Unlock()
}

// plainReason says why a connection that was made is not encrypted.
func (t *Target) plainReason(nc net.Conn) string {
	switch {
	case nc != nil && nc.RemoteAddr().Network() == "unix":
		return "a Unix socket, which PostgreSQL never encrypts (sslmode does not apply)"
	case t.SSLMode == "disable":
		return "the URL sets sslmode=disable"
	case t.SSLMode == "allow":
		return "sslmode=allow tries without SSL first, and the server accepted"
	case t.SSLMode == "prefer":
		return "the server did not accept SSL, and sslmode=prefer fell back to an unencrypted connection"
	}
	return "the server did not negotiate SSL"
}

// failed records a failed attempt: the hosts that were tried and why.
func (t *Target) failed(err error, ctx connerr.Context) {
	var r Connection
	r.Attempted = true
	r.FailedHosts = hostFailures(err, ctx)
	t.mu.Lock()
	t.conn = r
	t.mu.Unlock()
}

// hostFailures splits pgx's error into one failure per host attempt. pgx
// joins the errors of every attempt, each starting "address (host): ".
func hostFailures(err error, ctx connerr.Context) []HostFailure {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return nil
	}
	var parts []error
	if j, ok := ce.Unwrap().(interface{ Unwrap() []error }); ok {
		parts = j.Unwrap()
	} else if u := ce.Unwrap(); u != nil {
		parts = []error{u}
	}
	var out []HostFailure
	for _, p := range parts {
		addr, host := attemptAddress(p.Error())
		if addr == "" {
			continue
		}
		c := ctx
		c.Host = host
		cause := connerr.ClassifyFor(p, c)
		name := addr
		if h, port, err := net.SplitHostPort(addr); err == nil && host != "" && host != h {
			name = net.JoinHostPort(host, port) + " (" + h + ")"
		}
		f := HostFailure{Host: name, Cause: cause.ID, Summary: cause.Summary}
		if n := len(out); n > 0 && out[n-1] == f {
			continue // sslmode=prefer tries each host twice
		}
		out = append(out, f)
	}
	return out
}

// attemptAddress reads "address (host): ..." from the start of one
// attempt's error.
func attemptAddress(msg string) (addr, host string) {
	open := strings.Index(msg, " (")
	if open <= 0 {
		return "", ""
	}
	end := strings.Index(msg[open:], "): ")
	if end < 0 {
		return "", ""
	}
	addr, host = msg[:open], msg[open+2:open+end]
	if strings.ContainsAny(addr, " \n") {
		return "", ""
	}
	if _, err := strconv.Unquote(`"` + addr + `"`); err != nil {
		return "", ""
	}
	return addr, host
}
