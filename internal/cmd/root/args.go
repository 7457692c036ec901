package root

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/dsn"
)

// hiddenArg stands in an error message for an argument that may be a secret.
const hiddenArg = "(hidden argument)"

// hiddenRemedy is appended once to a message in which an argument was hidden.
const hiddenRemedy = "; an argument that may hold a password is not shown: pass URLs with --url and passwords with --password-file or on stdin"

// maxShownArg bounds how much of one argument a message quotes.
const maxShownArg = 120

// Shapes of arguments that cannot be secrets and help when quoted back: a
// command or enum word, a host name or IP address, a number, duration or
// list of numbers, a path, a flag name.
var safeArg = []*regexp.Regexp{
	regexp.MustCompile(`^[a-z]+(?:[-_][a-z]+)*$`),
	regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)+$`),
	regexp.MustCompile(`^[+-]?[0-9][0-9.,_]*(?:(?:[a-z]|µ){1,2}[0-9.]*)*$`),
	regexp.MustCompile(`^(?:/|\./|\.\./|~/)[A-Za-z0-9._/+-]*$`),
	regexp.MustCompile(`^--?[a-z][a-z-]*$`),
}

// shownArg returns the form of a in which a message may quote it, and
// whether that form hides something. A connection string keeps everything
// but its password (as dsn.Redact shows it everywhere else); any other
// argument that does not have a harmless shape (see safeArg) is replaced
// whole, because a password has no shape to recognise it by.
func shownArg(a string) (string, bool) {
	if len(a) > maxShownArg || !utf8.ValidString(a) {
		return hiddenArg, true
	}
	for _, re := range safeArg {
		if re.MatchString(a) {
			return a, false
		}
	}
	if strings.Contains(a, "://") || strings.ContainsAny(a, "@=") {
		if r := dsn.Redact(a); r != a && strings.Contains(r, "xxxxx") && len(r) <= maxShownArg {
			return r, true
		}
	}
	return hiddenArg, true
}

// argTokens returns the strings of args that a message could quote: each
// argument, and the value of each --flag=value.
func argTokens(args []string) []string {
	var toks []string
	for _, a := range args {
		toks = append(toks, a)
		if strings.HasPrefix(a, "-") {
			if _, v, ok := strings.Cut(a, "="); ok {
				toks = append(toks, v)
			}
		}
	}
	return toks
}

// redactArgs replaces in msg every quotation of an argument among toks that
// may be a secret with its shown form (see shownArg). Cobra and pflag quote
// arguments with %q or %#q, or, for a shorthand flag, unquoted: all three
// forms are replaced, the bare one only for tokens of four bytes or more so
// that short tokens cannot mangle the words around them. When something was
// hidden, the message says why and what to do instead.
func redactArgs(msg string, toks []string) string {
	hid := false
	// Longest first, so that a token inside another is not replaced first.
	sorted := append([]string(nil), toks...)
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && len(sorted[j]) > len(sorted[j-1]); j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	for _, t := range sorted {
		if t == "" {
			continue
		}
		shown, hides := shownArg(t)
		if !hides {
			continue
		}
		before := msg
		msg = strings.ReplaceAll(msg, strconv.Quote(t), strconv.Quote(shown))
		msg = strings.ReplaceAll(msg, "`"+t+"`", strconv.Quote(shown))
		if len(t) >= 4 {
			msg = strings.ReplaceAll(msg, t, shown)
		}
		hid = hid || msg != before
	}
	if hid {
		msg += hiddenRemedy
	}
	return msg
}

// guardHelp makes "connectdb help TOPIC" for an unknown topic a usage error
// (exit 2) that goes through Run's argument redaction, instead of Cobra's
// default, which prints the topic verbatim and exits 0.
func guardHelp(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		if c.Name() != "help" {
			continue
		}
		show := c.Run
		c.Run = nil
		c.RunE = func(c *cobra.Command, args []string) error {
			if found, _, err := c.Root().Find(args); found == nil || err != nil {
				return cmdutil.Usagef("unknown help topic %q; run 'connectdb --help' for the list of commands", strings.Join(args, " "))
			}
			show(c, args)
			return nil
		}
	}
}

// textFlags are the string flags whose values are text, not file paths:
// names, URLs, IDs and enumerations. Their values must be valid UTF-8.
var textFlags = map[string]bool{
	"url": true, "instrumentation-url": true, "azure-authority-host": true, "check": true,
	"host": true, "user": true, "database": true, "schema": true, "param": true, "sslmode": true,
	"connect-user": true, "lock-id": true, "output": true, "pooler": true, "instrumentation": true,
	"only": true, "skip": true, "max-lifetime": true,
}

// checkText returns a usage error for the first text flag of cmd (or URL
// from the environment) that is not valid UTF-8. The value is not quoted:
// it may hold a password.
func checkText(cmd *cobra.Command, envURL string) error {
	var err error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if err != nil || !textFlags[f.Name] {
			return
		}
		vals := []string{f.Value.String()}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			vals = sv.GetSlice()
		}
		for _, v := range vals {
			if i := invalidUTF8(v); i >= 0 {
				err = cmdutil.Usagef("--%s is not valid UTF-8 text (byte %d is 0x%02x); write it in UTF-8, percent-encoding bytes that are not text (such as %%%02X in a URL)", f.Name, i, v[i], v[i])
				return
			}
		}
	})
	if err == nil && !cmd.Flags().Changed("url") {
		if i := invalidUTF8(envURL); i >= 0 {
			err = cmdutil.Usagef("CONNECTDB_URL is not valid UTF-8 text (byte %d is 0x%02x); percent-encode bytes that are not text, such as %%%02X", i, envURL[i], envURL[i])
		}
	}
	return err
}

// invalidUTF8 returns the offset of the first byte of s that is not part
// of valid UTF-8, or -1.
func invalidUTF8(s string) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// printable makes a message safe for a terminal: invalid UTF-8 and control
// characters (which a message may quote from input) become U+FFFD.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
