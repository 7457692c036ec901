package dsn

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// HostPort is one entry of a URL's host list.
type HostPort struct {
	Host string
	Port int // 0 when the URL gives no port
}

// Info describes a parsed connection URL without its secrets: the password
// is reduced to HasPassword, and in Params the values of password and
// sslpassword are "xxxxx".
type Info struct {
	Scheme   string
	User     string
	Host     string // the first host
	Port     int    // the first host's port, 0 when absent
	Hosts    []HostPort
	Database string

	HasPassword bool // in the userinfo or a password query parameter

	SSLMode    string // "require" for the ssl=true alias
	SSLModeSet bool
	Schema     string // from options=-csearch_path=<schema>

	SSLCert, SSLKey, SSLRootCert string
	ApplicationName              string
	ConnectTimeout               string

	Params []Param // every query parameter, in order, decoded
}

// parsed is a URL's decoded contents, secrets included. It never leaves
// the package.
type parsed struct {
	scheme      string
	user        string
	password    string
	hasPassword bool // userinfo had a non-empty password
	hostSection string
	hosts       []HostPort
	database    string
	params      []Param
}

// Parse parses a postgres:// or postgresql:// URL as Connect's
// Postgres.URL. It accepts the forms Connect's guide uses, including a raw
// second '=' in options=-csearch_path=<schema>, and a raw '!' or '$' in the
// userinfo. It rejects what [Diagnose] reports as an error, naming the first
// problem and how to fix it. Errors wrap [ErrNotURL],
// [ErrUnsupportedScheme], [ErrEmptyHost] or [ErrMalformed] and never contain
// the password.
func Parse(raw string) (*Info, error) {
	p, err := parse(raw)
	if err != nil {
		return nil, err
	}
	info := &Info{
		Scheme:      p.scheme,
		User:        p.user,
		Hosts:       p.hosts,
		Database:    p.database,
		HasPassword: p.hasPassword,
	}
	if hp := hostsFromParams(p.params); len(hp) > 0 {
		info.Hosts = hp // libpq: host= and port= parameters win over the host section
	}
	if len(info.Hosts) > 0 {
		info.Host, info.Port = info.Hosts[0].Host, info.Hosts[0].Port
	}
	for _, prm := range p.params {
		v := prm.Value
		switch prm.Key {
		case "password":
			info.HasPassword = true
		case "sslmode":
			info.SSLMode, info.SSLModeSet = v, true
		case "ssl":
			if v == "true" {
				info.SSLMode, info.SSLModeSet = "require", true
			}
		case "options":
			if s, ok := SearchPath(v); ok {
				info.Schema = s
			}
		case "sslcert":
			info.SSLCert = v
		case "sslkey":
			info.SSLKey = v
		case "sslrootcert":
			info.SSLRootCert = v
		case "application_name":
			info.ApplicationName = v
		case "connect_timeout":
			info.ConnectTimeout = v
		}
		if isSecretKey(prm.Key) {
			v = redactedMark
		}
		info.Params = append(info.Params, Param{Key: prm.Key, Value: v})
	}
	return info, nil
}

// SearchPath returns the search_path set by a libpq options value such as
// "-csearch_path=connect", "-c search_path=connect" or
// "--search_path=connect". The last setting wins, as in PostgreSQL.
func SearchPath(options string) (schema string, ok bool) {
	fields := strings.Fields(options)
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		var setting string
		switch {
		case f == "-c" && i+1 < len(fields):
			i++
			setting = fields[i]
		case strings.HasPrefix(f, "-c"):
			setting = f[2:]
		case strings.HasPrefix(f, "--"):
			setting = f[2:]
		default:
			continue
		}
		if k, v, found := strings.Cut(setting, "="); found && strings.ReplaceAll(k, "-", "_") == "search_path" {
			schema, ok = v, true
		}
	}
	return schema, ok
}

// parse decodes raw after checking it with analyze.
func parse(raw string) (*parsed, error) {
	l, diags, err := analyze(raw)
	if err != nil {
		return nil, err
	}
	var params []Param
	if l.queryStart >= 0 {
		for _, seg := range strings.Split(raw[l.queryStart:l.queryEnd], "&") {
			if seg == "" {
				continue
			}
			k, v, _ := strings.Cut(seg, "=") // the first '=' splits; later ones are data
			params = append(params, Param{Key: decode(k), Value: decode(v)})
		}
	}
	for _, d := range diags {
		if d.Severity != SeverityError {
			continue
		}
		sentinel := ErrMalformed
		if d.Problem == noHostProblem {
			sentinel = ErrEmptyHost
		}
		return nil, fmt.Errorf("the database URL %s has a problem at byte %d: %s %s (Diagnose lists every problem and proposes a repaired URL): %w",
			Redact(raw), d.Offset, d.Problem, d.Fix, sentinel)
	}
	p := &parsed{scheme: l.scheme, hostSection: raw[l.hostStart:l.hostEnd], params: params}
	if l.userStart >= 0 {
		p.user = decode(raw[l.userStart:l.userEnd])
		if l.passStart >= 0 {
			p.password = decode(raw[l.passStart:l.passEnd])
			p.hasPassword = p.password != ""
		}
	}
	for _, hp := range strings.Split(p.hostSection, ",") {
		host, port, _, _ := splitHostPort(hp)
		n, _ := strconv.Atoi(port) // checked by analyze
		p.hosts = append(p.hosts, HostPort{Host: decode(host), Port: n})
	}
	if l.pathStart >= 0 {
		p.database = decode(raw[l.pathStart:l.pathEnd])
	}
	return p, nil
}

// noHostProblem is the Diagnosis of a URL with an empty host section.
const noHostProblem = "The URL names no host."

// hostsFromParams returns the hosts of libpq's host= and port= query
// parameters (comma-separated lists), which override the URL's host
// section; nil when there is no host parameter.
func hostsFromParams(params []Param) []HostPort {
	hosts, ports := "", ""
	for _, p := range params {
		switch p.Key {
		case "host":
			hosts = p.Value
		case "port":
			ports = p.Value
		}
	}
	if hosts == "" {
		return nil
	}
	hs, ps := strings.Split(hosts, ","), strings.Split(ports, ",")
	out := make([]HostPort, len(hs))
	for i, h := range hs {
		out[i].Host = h
		switch {
		case len(ps) == len(hs):
			out[i].Port, _ = strconv.Atoi(ps[i])
		case len(ps) == 1:
			out[i].Port, _ = strconv.Atoi(ps[0])
		}
	}
	return out
}

// IsSocket reports whether host is a Unix socket directory, as libpq
// decides: it starts with '/'.
func IsSocket(host string) bool { return strings.HasPrefix(host, "/") }

// decode percent-decodes s, which analyze has checked: every '%' starts a
// valid escape. Like pgx, '+' stays '+'. An invalid escape is kept as is.
func decode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unhex(c byte) byte {
	if isDigit(c) {
		return c - '0'
	}
	return (c | 0x20) - 'a' + 10
}

// allowSocketHost drops the "names no host" error from diags when the
// query has a host= parameter, libpq's way to name a Unix socket directory
// (postgres://user@/db?host=/var/run/postgresql) or hosts.
func allowSocketHost(l *layout, diags []Diagnosis) []Diagnosis {
	if l.queryStart < 0 || l.hostStart != l.hostEnd {
		return diags
	}
	for _, seg := range strings.Split(l.raw[l.queryStart:l.queryEnd], "&") {
		if k, v, _ := strings.Cut(seg, "="); decode(k) == "host" && v != "" {
			return slices.DeleteFunc(diags, func(d Diagnosis) bool { return d.Problem == noHostProblem })
		}
	}
	return diags
}
