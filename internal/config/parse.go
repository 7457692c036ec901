package config

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/gcfg.v1"
	"gopkg.in/gcfg.v1/scanner"
	"gopkg.in/gcfg.v1/token"
	"gopkg.in/gcfg.v1/types"
)

// rawConfig is what gcfg decodes into. Every variable is multi-valued so
// that a repeated single-valued setting keeps all its values in order and
// the last one can win, as in Connect; conversion happens afterwards so
// that errors can carry line numbers and fixes.
type rawConfig struct {
	Server struct {
		DataDir           []string
		EncryptionKeyFile []string
		EncryptionKey     []string
	}
	Database struct {
		Provider              []string
		MaxIdleConnections    []string
		MaxOpenConnections    []string
		ConnectionMaxLifetime []string
	}
	Postgres struct {
		URL                     []string
		Password                []string
		InstrumentationURL      []string
		InstrumentationPassword []string
		AzureTenantId           []string
		AzureClientId           []string
		AzureClientSecret       []string
	}
	SQLite struct {
		Dir []string
	}
}

// readKeys lists the settings connectdb reads, in canonical spelling.
var readKeys = []string{
	"Server.DataDir", "Server.EncryptionKeyFile", "Server.EncryptionKey",
	"Database.Provider", "Database.MaxIdleConnections", "Database.MaxOpenConnections", "Database.ConnectionMaxLifetime",
	"Postgres.URL", "Postgres.Password", "Postgres.InstrumentationURL", "Postgres.InstrumentationPassword",
	"Postgres.AzureTenantId", "Postgres.AzureClientId", "Postgres.AzureClientSecret",
	"SQLite.Dir",
}

var utf8BOM = []byte("\ufeff")

// fields maps the normalized key of every setting connectdb reads to its
// values in raw.
func (raw *rawConfig) fields() map[string]*[]string {
	return map[string]*[]string{
		"server.datadir":                   &raw.Server.DataDir,
		"server.encryptionkeyfile":         &raw.Server.EncryptionKeyFile,
		"server.encryptionkey":             &raw.Server.EncryptionKey,
		"database.provider":                &raw.Database.Provider,
		"database.maxidleconnections":      &raw.Database.MaxIdleConnections,
		"database.maxopenconnections":      &raw.Database.MaxOpenConnections,
		"database.connectionmaxlifetime":   &raw.Database.ConnectionMaxLifetime,
		"postgres.url":                     &raw.Postgres.URL,
		"postgres.password":                &raw.Postgres.Password,
		"postgres.instrumentationurl":      &raw.Postgres.InstrumentationURL,
		"postgres.instrumentationpassword": &raw.Postgres.InstrumentationPassword,
		"postgres.azuretenantid":           &raw.Postgres.AzureTenantId,
		"postgres.azureclientid":           &raw.Postgres.AzureClientId,
		"postgres.azureclientsecret":       &raw.Postgres.AzureClientSecret,
		"sqlite.dir":                       &raw.SQLite.Dir,
	}
}

func parse(name string, src []byte, env envSource) (cfg *Config, err error) {
	src = bytes.TrimPrefix(src, utf8BOM)
	sc, serr := scanLayout(name, src)
	if serr != nil {
		return nil, serr
	}
	for _, k := range readKeys {
		if l, ok := sc.blank[normKey(k)]; ok {
			_, v, _ := strings.Cut(k, ".")
			return nil, &Error{Path: name, Line: l, Key: k,
				Msg: fmt.Sprintf("%s has no value; write %s = VALUE or delete the line", k, v)}
		}
	}

	var raw rawConfig
	if err := readGcfg(&raw, src); err != nil {
		return nil, gcfgError(name, err)
	}

	cfg = Default()
	cfg.Path = name
	cfg.keys = sc.keys
	cfg.CutValues = sc.cut
	if env.file != nil {
		cfg.envWarnings = env.file.Warnings
	}
	fields := raw.fields()
	for _, k := range readKeys {
		nk := normKey(k)
		if l, ok := sc.keys[nk]; ok {
			cfg.origins[nk] = Origin{Kind: FromFile, Path: name, Line: l}
		}
		if v, o, ok := env.lookup(k); ok {
			*fields[nk] = append(*fields[nk], v)
			cfg.origins[nk] = o
		}
	}
	if err := cfg.fill(&raw); err != nil {
		return nil, err
	}
	return cfg, nil
}

// readGcfg runs gcfg, ignoring data for sections and variables we do not
// declare, and turns a panic inside gcfg into an error.
func readGcfg(raw *rawConfig, src []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gcfg: %v", r)
		}
	}()
	return gcfg.FatalOnly(gcfg.ReadInto(raw, bytes.NewReader(src)))
}

var gcfgPos = regexp.MustCompile(`^(?:[^\n]*?:)?(\d+):(\d+): ([^\n]*)`)

// gcfgError reformats an error from gcfg into one line with the position.
// Syntax errors are normally caught first by scanLayout; this is the
// fallback for anything it lets through.
func gcfgError(name string, err error) error {
	var list scanner.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		return &Error{Path: name, Line: list[0].Pos.Line, Msg: withFix(list[0].Msg), Err: err}
	}
	if m := gcfgPos.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{Path: name, Line: line, Msg: withFix(m[3]), Err: err}
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	return &Error{Path: name, Msg: msg + "; fix the file's syntax (git-config format: [Section], Name = value)", Err: err}
}

// withFix adds advice to a gcfg scanner or parser message.
func withFix(msg string) string {
	switch {
	case strings.HasPrefix(msg, "string not terminated"):
		return `a quoted value is not closed; add the closing " on the same line`
	case strings.HasPrefix(msg, "unknown escape sequence"):
		return `unknown escape sequence in a quoted string; only \\, \", \n and \t are allowed, so write \\ for a backslash`
	case strings.HasPrefix(msg, "unquoted '\\'"):
		return `a backslash outside quotes must end the line or precede a quote; put the value in double quotes and write \\ for a backslash`
	case strings.HasPrefix(msg, "illegal character NUL"), strings.HasPrefix(msg, "illegal UTF-8"):
		return "illegal character; the file is not UTF-8 text, so check that --config names rstudio-connect.gcfg"
	case strings.HasPrefix(msg, "illegal character"):
		// The scanner quotes the character; a password file must not show it.
		return "illegal character; names may use only letters, digits and '-', and a line must be a [Section] header, Name = value, or a comment"
	case strings.HasPrefix(msg, "empty subsection name"):
		return `empty subsection name; write [Section "name"] or [Section]`
	}
	// Keep what locates the problem; drop any token gcfg quotes after it.
	msg, _, _ = strings.Cut(msg, ", found")
	return msg + "; write a [Section] header, a Name = value line, or a comment starting with ; or #"
}

// layout records where things are in the file.
type layout struct {
	keys  map[string]int // normKey → line of the last assignment (or first section header)
	blank map[string]int // normKey → line, for variables whose last occurrence had no "="
	cut   []CutValue     // unquoted values of read settings cut by a comment
}

// scanLayout walks the file with gcfg's own scanner, following the same
// grammar as gcfg, to record the line of every section and variable and to
// report syntax errors with a line number and a fix.
func scanLayout(name string, src []byte) (layout, *Error) {
	lay := layout{keys: map[string]int{}, blank: map[string]int{}}
	fset := token.NewFileSet()
	file := fset.AddFile(name, fset.Base(), len(src))
	var first *Error
	var s scanner.Scanner
	s.Init(file, src, func(p token.Position, msg string) {
		if first == nil {
			first = &Error{Path: name, Line: p.Line, Msg: withFix(msg)}
		}
	}, 0)
	pos, tok, lit := s.Scan()
	next := func() { pos, tok, lit = s.Scan() }
	fail := func(msg string) (layout, *Error) {
		if first != nil {
			return lay, first
		}
		return lay, &Error{Path: name, Line: fset.Position(pos).Line, Msg: msg}
	}
	endOfLine := func() bool { return tok == token.EOL || tok == token.EOF }
	sect, sub := "", ""
	for {
		if first != nil {
			return lay, first
		}
		switch tok {
		case token.EOF:
			return lay, nil
		case token.EOL, token.COMMENT:
			next()
		case token.LBRACK:
			line := fset.Position(pos).Line
			next()
			if tok != token.IDENT {
				return fail(`expected a section name after "["; write [Section] or [Section "subsection"]`)
			}
			sect, sub = lit, ""
			next()
			if tok == token.STRING {
				sub = unquote(lit)
				if sub == "" {
					return fail(`empty subsection name; write [Section "name"] or [Section]`)
				}
				next()
			}
			if tok != token.RBRACK {
				return fail(`section header is not closed; end it with "]"`)
			}
			next()
			if !endOfLine() {
				return fail("unexpected text after the section header; put each setting on its own line")
			}
			k := sectionKey(sect, sub)
			if _, ok := lay.keys[k]; !ok {
				lay.keys[k] = line
			}
		case token.IDENT:
			if sect == "" {
				// Name no token: the file may be a password file given by mistake.
				return fail("a setting is not inside a section; put a [Section] header such as [Postgres] above it, and check that --config names rstudio-connect.gcfg")
			}
			line := fset.Position(pos).Line
			k := sectionKey(sect, sub) + "." + strings.ToLower(lit)
			varName := lit
			next()
			if endOfLine() {
				lay.keys[k] = line
				lay.blank[k] = line
				continue
			}
			if tok != token.ASSIGN {
				return fail(`expected "=" after the setting name; write Name = value`)
			}
			next()
			if tok != token.STRING {
				return fail(fmt.Sprintf("expected a value after %s =", varName))
			}
			valPos, valLit := fset.Position(pos), lit
			next()
			if !endOfLine() {
				return fail("unexpected text after the value; put quotes around a value that contains ; or #")
			}
			if cv, ok := cutValue(src, valPos.Offset, valLit); ok && isReadKey(k) {
				cv.Key, cv.Line, cv.Path, cv.Secret = canonicalKey(k), line, name, secretKeys[k]
				if cv.Secret {
					cv.Quoted = "" // never kept, so never printed
				}
				lay.cut = append(lay.cut, cv)
			}
			lay.keys[k] = line
			delete(lay.blank, k)
		default:
			return fail("expected a [Section] header, a Name = value line, or a comment starting with ; or #")
		}
	}
}

func sectionKey(sect, sub string) string {
	if sub == "" {
		return strings.ToLower(sect)
	}
	return strings.ToLower(sect) + "." + sub
}

// unquote decodes a gcfg quoted string leniently; the scanner has already
// reported any malformed escapes.
func unquote(s string) string {
	var b strings.Builder
	esc := false
	for _, c := range s {
		switch {
		case esc:
			switch c {
			case 'n':
				b.WriteRune('\n')
			case 't':
				b.WriteRune('\t')
			default:
				b.WriteRune(c)
			}
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

func last(vs []string) (string, bool) {
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// fill converts and validates the raw values into c, which holds defaults.
func (c *Config) fill(raw *rawConfig) error {
	if v, ok := last(raw.Server.DataDir); ok && v != "" {
		c.Server.DataDir = v
	}
	c.Server.EncryptionKeyFile, _ = last(raw.Server.EncryptionKeyFile)
	c.Server.EncryptionKey, _ = last(raw.Server.EncryptionKey)
	c.SQLite.Dir = filepath.Join(c.Server.DataDir, "db")
	if v, ok := last(raw.SQLite.Dir); ok && v != "" {
		c.SQLite.Dir = v
	}

	if v, ok := last(raw.Database.Provider); ok {
		p := strings.ToLower(strings.TrimSpace(v))
		if p != ProviderSQLite && p != ProviderPostgres {
			return c.errorf("Database.Provider", nil,
				"unknown Database.Provider %q; write Provider = postgres or Provider = sqlite", v)
		}
		c.Database.Provider = p
	}
	var err error
	if c.Database.MaxIdleConnections, err = c.intValue("Database.MaxIdleConnections", raw.Database.MaxIdleConnections, c.Database.MaxIdleConnections, 5); err != nil {
		return err
	}
	if c.Database.MaxOpenConnections, err = c.intValue("Database.MaxOpenConnections", raw.Database.MaxOpenConnections, c.Database.MaxOpenConnections, 10); err != nil {
		return err
	}
	if v, ok := last(raw.Database.ConnectionMaxLifetime); ok {
		d, err := ParseDuration(v)
		if err != nil {
			return c.errorf("Database.ConnectionMaxLifetime", err,
				"invalid duration %q for Database.ConnectionMaxLifetime; write a Go duration such as 60s, 5m or 1h30m, or a whole number of nanoseconds", v)
		}
		c.Database.ConnectionMaxLifetime = d
		c.Database.ConnectionMaxLifetimeRaw = v
	}

	p := &c.Postgres
	for _, f := range []struct {
		dst *string
		src []string
	}{
		{&p.URL, raw.Postgres.URL},
		{&p.Password, raw.Postgres.Password},
		{&p.InstrumentationURL, raw.Postgres.InstrumentationURL},
		{&p.InstrumentationPassword, raw.Postgres.InstrumentationPassword},
		{&p.AzureTenantId, raw.Postgres.AzureTenantId},
		{&p.AzureClientId, raw.Postgres.AzureClientId},
		{&p.AzureClientSecret, raw.Postgres.AzureClientSecret},
	} {
		if v, ok := last(f.src); ok {
			*f.dst = v
		}
	}
	return nil
}

func (c *Config) intValue(key string, vs []string, dflt, example int) (int, error) {
	v, ok := last(vs)
	if !ok {
		return dflt, nil
	}
	var n int
	if err := types.ParseInt(&n, v, types.Dec|types.Hex); err != nil {
		return 0, c.errorf(key, err, "invalid integer %q for %s; write a whole number such as %d", v, key, example)
	}
	return n, nil
}

func (c *Config) errorf(key string, err error, format string, args ...any) error {
	o := c.Origin(key)
	path, line := c.Path, o.Line
	switch o.Kind {
	case FromEnv:
		path = o.Var
	case FromEnvFile:
		path = "--env-file " + o.Path
	}
	return &Error{Path: path, Line: line, Key: key, Msg: fmt.Sprintf(format, args...), Err: err}
}

// ParseDuration parses a Connect duration: a whole number of nanoseconds
// such as 1000000000, or a Go duration such as 500ms, 3m or 1h30m.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n), nil
	}
	return time.ParseDuration(s)
}

// CutValue is an unquoted value that gcfg, like Connect, ended at a # or ;
// written right after it: `Password = p@ss#word` is read as "p@ss".
type CutValue struct {
	Path string // the config file as shown to the user
	Line int
	Key  string // canonical spelling, such as "Postgres.Password"
	// Read is how many characters gcfg kept; Column is the 1-based column
	// of the comment character that cut the value.
	Read, Column int
	// Quoted is the whole value as written, in double quotes with \ and
	// " escaped: the form to write. It is empty when Secret is true.
	Quoted string
	// Secret is true for settings that hold a password, key or client
	// secret, and for URLs (which may carry a password).
	Secret bool
}

// cutValue looks at the raw text right after a value token: a # or ;
// glued to the value means gcfg cut it there. A comment after white space
// (`Format = TEXT   ; TEXT or JSON`, as in Posit's Docker images) is meant.
func cutValue(src []byte, off int, lit string) (CutValue, bool) {
	end := off + len(lit)
	if end >= len(src) || src[end] != '#' && src[end] != ';' {
		return CutValue{}, false
	}
	lineStart := bytes.LastIndexByte(src[:end], '\n') + 1
	rest := src[end:]
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	whole := unquote(lit) + strings.TrimRight(string(rest), " \t\r")
	q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(whole)
	return CutValue{Read: len([]rune(unquote(lit))), Column: len([]rune(string(src[lineStart:end]))) + 1, Quoted: `"` + q + `"`}, true
}

// secretKeys are the read settings whose values must never be shown.
var secretKeys = map[string]bool{
	"server.encryptionkey": true, "postgres.password": true, "postgres.instrumentationpassword": true,
	"postgres.azureclientsecret": true, "postgres.url": true, "postgres.instrumentationurl": true,
}

func isReadKey(nk string) bool {
	for _, k := range readKeys {
		if normKey(k) == nk {
			return true
		}
	}
	return false
}

// canonicalKey returns the read setting's canonical spelling.
func canonicalKey(nk string) string {
	for _, k := range readKeys {
		if normKey(k) == nk {
			return k
		}
	}
	return nk
}
