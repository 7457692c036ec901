package encodeurl

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/dsn"
	"github.com/connectdb/connectdb/internal/secrets"
)

// sslModes are the sslmode values libpq and pgx accept.
var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// reservedParams are parameters that have their own flag or must never be
// given on the command line.
var reservedParams = map[string]string{
	"user":        "use --user",
	"host":        "use --host",
	"hostaddr":    "use --host",
	"port":        "use --port",
	"dbname":      "use --database",
	"database":    "use --database",
	"sslmode":     "use --sslmode",
	"sslcert":     "use --sslcert",
	"sslkey":      "use --sslkey",
	"sslrootcert": "use --sslrootcert",
	"password":    "the password is read from the prompt or --password-stdin, never from a parameter",
	"sslpassword": "a key passphrase on the command line is visible to other users via ps; leave it out of the URL",
}

// buildResult is what build mode produced. URL and GCfg may contain the
// password, when the user asked for it.
type buildResult struct {
	parts       dsn.Parts
	schema      string
	hasPassword bool
	url         string // the URL to print: with the password in plain build mode and with --inline-password
	redacted    string
	gcfg        string // the [Postgres] block, --gcfg only
	encrypted   string // the encrypted password, --gcfg with a key only
	warnings    []string
}

// buildJSON is the --output json shape of build and --gcfg mode.
type buildJSON struct {
	Parts             partsJSON `json:"parts"`
	URL               string    `json:"url"`
	RedactedURL       string    `json:"redacted_url"`
	GCfg              string    `json:"gcfg,omitempty"`
	URLSetting        string    `json:"url_setting,omitempty"`
	PasswordSetting   string    `json:"password_setting,omitempty"`
	EncryptedPassword string    `json:"encrypted_password,omitempty"`
	Encryption        string    `json:"encryption,omitempty"`
	Warnings          []string  `json:"warnings"`
}

type partsJSON struct {
	User        string      `json:"user"`
	Host        string      `json:"host"`
	Port        int         `json:"port,omitempty"`
	Database    string      `json:"database,omitempty"`
	SSLMode     string      `json:"sslmode,omitempty"`
	Schema      string      `json:"schema,omitempty"`
	SSLCert     string      `json:"sslcert,omitempty"`
	SSLKey      string      `json:"sslkey,omitempty"`
	SSLRootCert string      `json:"sslrootcert,omitempty"`
	Params      []paramJSON `json:"params"`
	HasPassword bool        `json:"has_password"`
}

type paramJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func runBuild(opts *EncodeURLOptions) error {
	// Check the parts before asking for a password, so that a typo does not
	// cost the user a prompt.
	if _, _, err := opts.parts(""); err != nil {
		return err
	}
	password, err := opts.password()
	if err != nil {
		return err
	}
	res, err := opts.build(password)
	if err != nil {
		return err
	}
	for _, w := range res.warnings {
		opts.warnf("%s", w)
	}
	io := opts.F.IO
	if opts.F.JSON() {
		return cmdutil.WriteJSON(io.Out, res.json(opts))
	}
	if opts.GCfg {
		_, err = fmt.Fprint(io.Out, res.gcfg)
		return err
	}
	if _, err := fmt.Fprintln(io.Out, res.url); err != nil {
		return err
	}
	if res.hasPassword && io.IsStdoutTTY() {
		fmt.Fprintln(io.ErrOut, "note: this URL contains the password. Connect's guide recommends a URL without it plus an encrypted Postgres.Password setting; run again with --gcfg to get both.")
	}
	return nil
}

// password returns the password from the one source the flags chose, or ""
// for none.
func (o *EncodeURLOptions) password() (string, error) {
	var pw string
	switch {
	case o.NoPassword:
		return "", nil
	case o.PasswordSet:
		o.warnf("--password puts the password on the command line, where other users can see it via ps; use the prompt or --password-stdin instead.")
		pw = o.Password
	case o.F.Globals.PasswordFile != "":
		r := &secrets.Resolver{PasswordFile: o.F.Globals.PasswordFile}
		res, warnings, err := r.Password(secrets.Primary, "", "", "", "", "")
		for _, w := range warnings {
			o.warnf("%s.", w)
		}
		if err != nil {
			return "", cmdutil.UsageError(err)
		}
		pw = res.Secret.Reveal()
	case o.PasswordStdin:
		read := func() (string, error) { return readFirstLine(o.F.IO.In) }
		if o.F.IO.IsStdinTTY() {
			// Typed at a terminal after all: do not echo it.
			read = func() (string, error) { return o.readSecret("Password: ") }
		}
		line, err := read()
		if err != nil {
			return "", cmdutil.Usagef("cannot read the password from stdin (%v); pipe it in, e.g. --password-stdin < password.txt", err)
		}
		if line == "" {
			o.warnf("the first line of stdin is empty, so the URL has no password; pass --no-password to say so explicitly.")
		}
		pw = line
	case o.F.IO.IsStdinTTY():
		who := o.User
		first, err := o.readSecret(fmt.Sprintf("Password for %s (Enter for none): ", who))
		if err != nil {
			return "", cmdutil.Usagef("cannot read the password from the terminal (%v); use --password-stdin instead", err)
		}
		if first != "" {
			again, err := o.readSecret("Repeat the password: ")
			if err != nil {
				return "", cmdutil.Usagef("cannot read the password from the terminal (%v); use --password-stdin instead", err)
			}
			if again != first {
				return "", cmdutil.Usagef("the two passwords differ; run the command again and type the same password twice")
			}
		}
		pw = first
	default:
		return "", nil
	}
	if strings.IndexByte(pw, 0) >= 0 {
		return "", cmdutil.Usagef("the password contains a NUL byte, which PostgreSQL passwords cannot hold; check the password source")
	}
	return pw, nil
}

// parts validates the flags and returns the URL parts, without a password
// unless one is given.
func (o *EncodeURLOptions) parts(password string) (dsn.Parts, []string, error) {
	var warnings []string
	p := dsn.Parts{User: o.User, Password: password, Port: o.Port, Database: o.Database}
	if o.User == "" {
		return p, nil, cmdutil.Usagef("--user is required: Connect connects as the user named in the URL; pass --user NAME")
	}
	if strings.IndexByte(o.User, 0) >= 0 {
		return p, nil, cmdutil.Usagef("--user contains a NUL byte, which PostgreSQL role names cannot hold")
	}
	host, err := checkHost(o.Host)
	if err != nil {
		return p, nil, err
	}
	p.Host = host
	if o.Port < 0 || o.Port > 65535 {
		return p, nil, cmdutil.Usagef("--port %d is not a TCP port; pass a number from 1 to 65535 (PostgreSQL's default is 5432)", o.Port)
	}
	if dsn.IsSocket(host) {
		// libpq's socket form, postgres://user@/db?host=/var/run/postgresql:
		// Go's net/url, unlike pgx and libpq, refuses %2F in the host part.
		p.Host, p.Port = "", 0
		p.Params = append(p.Params, dsn.Param{Key: "host", Value: host})
		if o.Port > 0 {
			p.Params = append(p.Params, dsn.Param{Key: "port", Value: strconv.Itoa(o.Port)})
		}
	}
	if strings.IndexByte(o.Database, 0) >= 0 {
		return p, nil, cmdutil.Usagef("--database contains a NUL byte, which database names cannot hold")
	}
	if o.Database == "" {
		warnings = append(warnings, "no --database: PostgreSQL then uses the database named like the user, but Connect needs its own, already existing database; pass --database NAME.")
	}
	if o.SSLMode != "" {
		if !contains(sslModes, o.SSLMode) {
			return p, nil, cmdutil.Usagef("--sslmode %q is not a PostgreSQL sslmode; use one of %s", o.SSLMode, strings.Join(sslModes, ", "))
		}
		if o.SSLMode == "allow" || o.SSLMode == "prefer" {
			warnings = append(warnings, fmt.Sprintf("sslmode=%s falls back to an unencrypted connection without notice; Connect assumes SSL, so use require or verify-full.", o.SSLMode))
		}
		p.Params = append(p.Params, dsn.Param{Key: "sslmode", Value: o.SSLMode})
	}
	for _, f := range []struct{ key, val string }{{"sslcert", o.SSLCert}, {"sslkey", o.SSLKey}, {"sslrootcert", o.SSLRoot}} {
		if f.val == "" {
			continue
		}
		if strings.IndexByte(f.val, 0) >= 0 {
			return p, nil, cmdutil.Usagef("--%s contains a NUL byte; pass the file's path", f.key)
		}
		if !filepath.IsAbs(f.val) {
			warnings = append(warnings, fmt.Sprintf("--%s %s is a relative path, which Connect resolves against its own working directory; use an absolute path.", f.key, f.val))
		}
		p.Params = append(p.Params, dsn.Param{Key: f.key, Value: f.val})
	}
	if (o.SSLCert == "") != (o.SSLKey == "") {
		warnings = append(warnings, "certificate authentication needs both --sslcert and --sslkey.")
	}
	if o.Schema != "" {
		if strings.IndexByte(o.Schema, 0) >= 0 {
			return p, nil, cmdutil.Usagef("--schema contains a NUL byte, which schema names cannot hold")
		}
		p.Params = append(p.Params, dsn.Param{Key: "options", Value: SchemaOption(o.Schema)})
	}
	seen := map[string]bool{}
	for _, kv := range o.Params {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return p, nil, cmdutil.Usagef("--param %q is not key=value; write it as --param connect_timeout=10", dsn.Redact(kv))
		}
		lk := strings.ToLower(k)
		if why, bad := reservedParams[lk]; bad {
			return p, nil, cmdutil.Usagef("--param %s is not allowed: %s", k, why)
		}
		if lk == "options" && o.Schema != "" {
			return p, nil, cmdutil.Usagef("--param options and --schema both set the options parameter; add -csearch_path=SCHEMA to your options value instead of --schema")
		}
		if seen[lk] {
			return p, nil, cmdutil.Usagef("--param %s is given twice; keep one", k)
		}
		if strings.IndexByte(kv, 0) >= 0 {
			return p, nil, cmdutil.Usagef("--param %s contains a NUL byte, which a connection parameter cannot hold", k)
		}
		seen[lk] = true
		p.Params = append(p.Params, dsn.Param{Key: k, Value: v})
	}
	return p, warnings, nil
}

// checkHost accepts a host name, an IPv4 address, an IPv6 address (with
// or without brackets) or a Unix socket directory (an absolute path).
func checkHost(h string) (string, error) {
	switch {
	case strings.TrimSpace(h) == "":
		return "", cmdutil.Usagef("--host is required and must not be empty; pass the database server's name, e.g. --host db.example.com")
	case strings.Contains(h, "://"):
		return "", cmdutil.Usagef("--host takes a host name, not a URL; pass the URL to --check instead, or only its host to --host")
	case dsn.IsSocket(h):
		if strings.ContainsAny(h, "@?#, \t\r\n\x00") {
			return "", cmdutil.Usagef("--host %s is not a Unix socket directory: a path must not contain '@', '?', '#', ',' or spaces", h)
		}
		return filepath.Clean(h), nil
	case strings.ContainsAny(h, "/@?#, \t\r\n\x00"):
		return "", cmdutil.Usagef("--host must be a single host name or IP address without '/', '@', '?', '#', ',' or spaces")
	}
	if strings.Contains(h, ":") {
		bare := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		if net.ParseIP(bare) == nil {
			return "", cmdutil.Usagef("--host %s is neither a host name nor an IPv6 address; give the port separately with --port", h)
		}
		return bare, nil
	}
	return h, nil
}

// SchemaOption returns the libpq options value that sets search_path to
// schema, as Connect's guide writes it: -csearch_path=schema. A schema that
// is not a plain lower-case identifier is double-quoted, and spaces and
// backslashes are escaped with a backslash as PostgreSQL's options parsing
// requires.
func SchemaOption(schema string) string {
	v := schema
	if !plainIdentifier(schema) {
		v = `"` + strings.ReplaceAll(schema, `"`, `""`) + `"`
	}
	var b strings.Builder
	b.WriteString("-csearch_path=")
	for _, r := range v {
		if r == ' ' || r == '\\' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// plainIdentifier reports whether s needs no quoting as a PostgreSQL
// identifier: a lower-case letter or '_' followed by lower-case letters,
// digits, '_' or '$'.
func plainIdentifier(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '$'):
		default:
			return false
		}
	}
	return true
}

// build builds the URL and, with --gcfg, the [Postgres] block.
func (o *EncodeURLOptions) build(password string) (*buildResult, error) {
	p, warnings, err := o.parts(password)
	if err != nil {
		return nil, err
	}
	res := &buildResult{parts: p, schema: o.Schema, hasPassword: password != "", url: p.URL(), redacted: p.Redacted(), warnings: warnings}
	if res.warnings == nil {
		res.warnings = []string{}
	}
	if !o.GCfg {
		return res, nil
	}
	urlKey, pwKey := "URL", "Password"
	if o.Instrumentation {
		urlKey, pwKey = "InstrumentationURL", "InstrumentationPassword"
	}
	var b strings.Builder
	b.WriteString("[Postgres]\n")
	if o.InlinePassword {
		if o.FIPS {
			return nil, cmdutil.Usagef("--fips chooses how the Password line is encrypted and does not apply with --inline-password; drop one of them")
		}
		fmt.Fprintf(&b, "%s = %s\n", urlKey, gcfgQuote(res.url))
		if res.hasPassword {
			fmt.Fprintf(&b, "; The password is inside %s. Connect's guide recommends a URL without it plus an\n; encrypted %s setting: run again without --inline-password.\n", urlKey, pwKey)
		}
		res.gcfg = b.String()
		return res, nil
	}
	noPw := p
	noPw.Password = ""
	res.url = noPw.URL()
	fmt.Fprintf(&b, "%s = %s\n", urlKey, gcfgQuote(res.url))

	keyPath := o.F.Globals.SecretKey
	if keyPath == "" && o.F.Getenv != nil {
		keyPath = o.F.Getenv(secrets.EnvSecretKey)
	}
	if o.FIPS && keyPath == "" {
		return nil, cmdutil.Usagef("--fips needs Connect's secret key to encrypt with; pass --secret-key PATH or set CONNECTDB_SECRET_KEY")
	}
	var key *secrets.Key
	if keyPath != "" {
		k, keyWarnings, err := secrets.LoadKey(keyPath)
		res.warnings = append(res.warnings, keyWarnings...)
		if err != nil {
			return nil, cmdutil.UsageError(err)
		}
		key = k
	}
	switch {
	case !res.hasPassword:
		// Certificate authentication, pgpass on the server, or trust: no
		// Password line.
	case key != nil:
		enc, err := key.Encrypt(password, o.FIPS)
		if err != nil {
			return nil, fmt.Errorf("encrypting the password: %w", err)
		}
		// Guard against a key that cannot read back what it wrote.
		if back, err := key.Decrypt(enc); err != nil || back != password {
			return nil, fmt.Errorf("the password encrypted with %s does not decrypt back to itself; check the key file", keyPath)
		}
		res.encrypted = enc
		mode := "Connect's default encryption"
		if o.FIPS {
			mode = "AES-256-GCM, for UseFIPSEncryption = true"
		}
		fmt.Fprintf(&b, "; %s is encrypted with the secret key file given by --secret-key (%s).\n", pwKey, mode)
		fmt.Fprintf(&b, "%s = %s\n", pwKey, enc)
	default:
		fmt.Fprintf(&b, "; Replace the placeholder with the password encrypted by Connect's secret key: run\n")
		fmt.Fprintf(&b, "; `rscadmin encrypt-config-value` and paste its output, or run this command\n")
		fmt.Fprintf(&b, "; again with --secret-key PATH. Do not percent-encode the password.\n")
		fmt.Fprintf(&b, "%s = <encrypted, Base64-encoded password value>\n", pwKey)
	}
	res.gcfg = b.String()
	return res, nil
}

func (r *buildResult) json(o *EncodeURLOptions) buildJSON {
	j := buildJSON{
		Parts: partsJSON{
			User: r.parts.User, Host: r.parts.Host, Port: r.parts.Port, Database: r.parts.Database,
			SSLMode: o.SSLMode, Schema: r.schema, SSLCert: o.SSLCert, SSLKey: o.SSLKey, SSLRootCert: o.SSLRoot,
			Params: []paramJSON{}, HasPassword: r.hasPassword,
		},
		URL: r.url, RedactedURL: r.redacted, GCfg: r.gcfg, EncryptedPassword: r.encrypted,
		Warnings: r.warnings,
	}
	if dsn.IsSocket(o.Host) {
		j.Parts.Host, j.Parts.Port = filepath.Clean(o.Host), o.Port
	}
	for _, prm := range r.parts.Params {
		j.Parts.Params = append(j.Parts.Params, paramJSON{Key: prm.Key, Value: prm.Value})
	}
	if o.GCfg {
		j.URLSetting, j.PasswordSetting = "Postgres.URL", "Postgres.Password"
		if o.Instrumentation {
			j.URLSetting, j.PasswordSetting = "Postgres.InstrumentationURL", "Postgres.InstrumentationPassword"
		}
		if o.InlinePassword {
			j.PasswordSetting = ""
		}
		if r.encrypted != "" {
			j.Encryption = "secretbox"
			if o.FIPS {
				j.Encryption = "aes-256-gcm"
			}
		}
	}
	return j
}

// gcfgQuote writes s as a quoted gcfg string value.
func gcfgQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
