package target

import (
	"strings"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/dsn"
)

// HintFlags returns the flags that chose the target of this run, quoted
// for a POSIX shell, so that a printed "next:" command works when pasted:
// --url without its password (or --config), plus --password-file and
// --secret-key when given. It is "" when the defaults chose the target.
func HintFlags(g *cmdutil.Globals) string {
	var out []string
	add := func(flag, value string) {
		if value != "" {
			out = append(out, flag, ShellQuote(value))
		}
	}
	if g.URL != "" && g.URLSource == "" { // libpq's environment is still there when pasted
		add("--url", dsn.WithoutPassword(g.URL))
		add("--instrumentation-url", dsn.WithoutPassword(g.InstrumentationURL))
	} else if g.ConfigExplicit {
		add("--config", g.ConfigPath)
	}
	add("--password-file", g.PasswordFile)
	add("--secret-key", g.SecretKey)
	return strings.Join(out, " ")
}

// ShellQuote quotes s for a POSIX shell when it needs quoting.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
