package encodeurl

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/dsn"
)

// checkJSON is the --output json shape of --check.
type checkJSON struct {
	InputRedacted    string          `json:"input_redacted"`
	Diagnoses        []diagnosisJSON `json:"diagnoses"`         // the first maxDiagnoses problems
	Omitted          int             `json:"diagnoses_omitted"` // problems found beyond those
	Errors           int             `json:"errors"`
	Warnings         int             `json:"warnings"`
	Works            bool            `json:"works"`      // the URL as given has no error-severity problem
	Repairable       bool            `json:"repairable"` // a repaired URL was produced
	RepairedRedacted string          `json:"repaired_redacted,omitempty"`
	Repaired         string          `json:"repaired,omitempty"` // only with --show-password
	Parts            *checkPartsJSON `json:"parts,omitempty"`    // what the repaired URL means
}

type diagnosisJSON struct {
	Offset         int    `json:"offset"`          // byte offset in the URL as given (the password's start for problems inside it)
	RedactedOffset int    `json:"redacted_offset"` // byte offset in input_redacted
	Field          string `json:"field"`
	Severity       string `json:"severity"`
	Problem        string `json:"problem"`
	Fix            string `json:"fix"`
}

type checkPartsJSON struct {
	User        string      `json:"user"`
	Host        string      `json:"host"`
	Port        int         `json:"port,omitempty"`
	Database    string      `json:"database,omitempty"`
	SSLMode     string      `json:"sslmode"`
	SSLModeSet  bool        `json:"sslmode_set"`
	Schema      string      `json:"schema,omitempty"`
	Params      []paramJSON `json:"params"`
	HasPassword bool        `json:"has_password"`
}

func runCheck(opts *EncodeURLOptions) error {
	io := opts.F.IO
	raw := opts.Check
	if raw == "-" {
		var err error
		if io.IsStdinTTY() {
			raw, err = opts.readSecret("URL to check (input hidden): ")
		} else {
			raw, err = readFirstLine(io.In)
		}
		if err != nil {
			return cmdutil.Usagef("cannot read the URL from stdin (%v); pipe it in, e.g. --check - < url.txt", err)
		}
		if strings.TrimSpace(raw) == "" {
			return cmdutil.Usagef("stdin holds no URL; pipe one in, e.g. --check - < url.txt")
		}
	} else if dsn.Redact(raw) != raw {
		opts.warnf("the URL on the command line contains a password, which other users can see via ps; pass it on stdin with --check - instead.")
	}
	raw = strings.TrimSpace(raw)

	diags, repaired, err := dsn.Diagnose(raw)
	if err != nil {
		return cmdutil.UsageError(err)
	}
	redacted := dsn.Redact(raw)
	m := newOffsetMap(raw, redacted)

	res := checkJSON{InputRedacted: redacted, Diagnoses: []diagnosisJSON{}, Repairable: repaired != ""}
	var firstURLError *dsn.Diagnosis
	for i, d := range diags {
		if d.Severity == dsn.SeverityError {
			res.Errors++
			if firstURLError == nil && d.Field == "url" {
				firstURLError = &diags[i]
			}
		} else {
			res.Warnings++
		}
		if len(res.Diagnoses) == maxDiagnoses {
			res.Omitted++
			continue
		}
		res.Diagnoses = append(res.Diagnoses, diagnosisJSON{
			Offset: m.shownOffset(d), RedactedOffset: m.redactedOffset(d.Offset), Field: d.Field,
			Severity: d.Severity.String(), Problem: d.Problem, Fix: d.Fix,
		})
	}
	res.Works = res.Errors == 0
	if repaired != "" {
		res.RepairedRedacted = dsn.Redact(repaired)
		if opts.ShowPassword {
			res.Repaired = repaired
		}
		if info, err := dsn.Parse(repaired); err == nil {
			res.Parts = checkParts(info)
		}
	}

	if opts.F.JSON() {
		if err := cmdutil.WriteJSON(io.Out, res); err != nil {
			return err
		}
	} else if err := writeCheckText(opts, res, m); err != nil {
		return err
	}

	switch {
	case repaired == "":
		msg := "the URL cannot be repaired automatically"
		if firstURLError != nil {
			msg += ": " + lowerFirst(strings.TrimSuffix(firstURLError.Problem, ".")) + "; " + lowerFirst(firstURLError.Fix)
		} else {
			msg += "; fix it by hand as the diagnoses say"
		}
		return cmdutil.UsageError(fmt.Errorf("%s", msg))
	case res.Errors > 0:
		return cmdutil.ErrSilent
	}
	return nil
}

func checkParts(info *dsn.Info) *checkPartsJSON {
	p := &checkPartsJSON{
		User: info.User, Host: info.Host, Port: info.Port, Database: info.Database,
		SSLMode: info.SSLMode, SSLModeSet: info.SSLModeSet, Schema: info.Schema,
		Params: []paramJSON{}, HasPassword: info.HasPassword,
	}
	if !info.SSLModeSet {
		p.SSLMode = "require" // Connect's default
	}
	for _, prm := range info.Params {
		p.Params = append(p.Params, paramJSON{Key: prm.Key, Value: prm.Value})
	}
	return p
}

func writeCheckText(opts *EncodeURLOptions, res checkJSON, m offsetMap) error {
	cs := opts.F.IO.ColorScheme()
	var b strings.Builder
	fmt.Fprintf(&b, "URL: %s\n", m.display)
	if len(res.Diagnoses) == 0 {
		b.WriteString(cs.Green("No problems found:") + " the URL is correctly encoded.\n")
	}
	shown := []rune(m.display)
	for i, d := range res.Diagnoses {
		// Diagnoses at the same place (every problem inside the hidden
		// password points at its start) share one caret.
		if i == 0 || res.Diagnoses[i-1].RedactedOffset != d.RedactedOffset {
			line, col := caretWindow(shown, m.column(d.RedactedOffset))
			fmt.Fprintf(&b, "\n  %s\n", line)
			fmt.Fprintf(&b, "  %s^\n", strings.Repeat(" ", col))
		}
		sev := cs.Red("error")
		if d.Severity == dsn.SeverityWarning.String() {
			sev = cs.Yellow("warning")
		}
		fmt.Fprintf(&b, "%s (%s): %s\n", sev, d.Field, d.Problem)
		fmt.Fprintf(&b, "  Fix: %s\n", d.Fix)
	}
	if res.Omitted > 0 {
		fmt.Fprintf(&b, "\n… and %d more not shown; fix the ones above and check again.\n", res.Omitted)
	}
	if len(res.Diagnoses) > 0 {
		verdict := "the URL as given works, but should be tidied."
		if res.Errors > 0 {
			verdict = "the URL as given would not work."
		}
		fmt.Fprintf(&b, "\n%s, %s: %s\n", plural(res.Errors, "error"), plural(res.Warnings, "warning"), verdict)
	}
	switch {
	case !res.Repairable:
		b.WriteString("No repaired URL: change the URL by hand as the fixes above say.\n")
	case len(res.Diagnoses) == 0:
		// Nothing to repair; the URL was shown above.
	case opts.ShowPassword:
		b.WriteString("Repaired URL (contains the password):\n")
		b.WriteString(res.Repaired + "\n")
	default:
		b.WriteString("Repaired URL (password hidden; add --show-password to print it in full):\n")
		b.WriteString(sanitize(res.RepairedRedacted) + "\n")
	}
	if p := res.Parts; p != nil {
		pw := "no"
		if p.HasPassword {
			pw = "yes (hidden)"
		}
		port := "default (5432)"
		if p.Port != 0 {
			port = fmt.Sprint(p.Port)
		}
		sslmode := p.SSLMode
		if !p.SSLModeSet {
			sslmode += " (Connect's default)"
		}
		schema := p.Schema
		if schema == "" {
			schema = "(not set)"
		}
		fmt.Fprintf(&b, "\nReads as: user %s, password %s, host %s, port %s, database %s, sslmode %s, schema %s\n",
			sanitize(p.User), pw, sanitize(p.Host), port, sanitize(p.Database), sslmode, sanitize(schema))
	}
	_, err := fmt.Fprint(opts.F.IO.Out, b.String())
	return err
}

// maxDiagnoses caps the problems a report lists (text and JSON); the rest
// are counted. A URL with more problems needs rewriting, not a longer list,
// and the cap keeps output and memory linear in the URL's length.
const maxDiagnoses = 20

// caretWidth is the widest URL shown whole above a caret; a longer one is
// shown as a window of that many columns around the caret.
const caretWidth = 120

// caretWindow returns the part of the display URL to show above a caret at
// column col, and the caret's column in it.
func caretWindow(shown []rune, col int) (string, int) {
	if len(shown) <= caretWidth {
		return string(shown), col
	}
	from := max(0, col-caretWidth/2)
	to := min(len(shown), from+caretWidth)
	from = max(0, to-caretWidth)
	line := string(shown[from:to])
	if to < len(shown) {
		line += "…"
	}
	if from > 0 {
		return "…" + line, col - from + 1
	}
	return line, col
}

// offsetMap maps byte offsets in a raw URL to the redacted URL shown to
// the user. Redact replaces whole regions with "xxxxx": an offset in the
// unchanged prefix or suffix maps exactly, one inside a changed region maps
// to the start of that region, so that a caret never reveals where in the
// password a problem is.
type offsetMap struct {
	raw, redacted  string
	prefix, suffix int    // lengths of the common prefix and suffix
	display        string // redacted with control characters made visible
	columns        []int  // display column of each byte offset in redacted
}

func newOffsetMap(raw, redacted string) offsetMap {
	m := offsetMap{raw: raw, redacted: redacted}
	for m.prefix < len(raw) && m.prefix < len(redacted) && raw[m.prefix] == redacted[m.prefix] {
		m.prefix++
	}
	for m.suffix < len(raw)-m.prefix && m.suffix < len(redacted)-m.prefix &&
		raw[len(raw)-1-m.suffix] == redacted[len(redacted)-1-m.suffix] {
		m.suffix++
	}
	// A password that starts or ends with 'x' matches part of the "xxxxx"
	// mark; back off to the mark's edges so that no offset maps inside it.
	if raw != redacted {
		for p := strings.Index(redacted, mark); p >= 0; {
			if p < m.prefix && m.prefix <= p+len(mark) {
				m.prefix = p
			}
			if start := len(redacted) - m.suffix; p <= start && start < p+len(mark) {
				m.suffix = len(redacted) - (p + len(mark))
			}
			next := strings.Index(redacted[p+1:], mark)
			if next < 0 {
				break
			}
			p += 1 + next
		}
	}
	m.columns = make([]int, len(redacted)+1)
	var b strings.Builder
	col := 0
	for i := 0; i < len(redacted); {
		r, size := utf8.DecodeRuneInString(redacted[i:])
		for j := i; j < i+size; j++ {
			m.columns[j] = col
		}
		switch {
		case r == utf8.RuneError && size == 1, r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
		col++
		i += size
	}
	m.columns[len(redacted)] = col
	m.display = b.String()
	return m
}

// mark is what dsn.Redact puts in place of a secret.
const mark = "xxxxx"

// shownOffset is the offset reported for d: its own, except that a problem
// inside the password is reported at the password's first byte, so that the
// output does not reveal where in the password a character is.
func (m offsetMap) shownOffset(d dsn.Diagnosis) int {
	if d.Field == "password" && m.raw != m.redacted {
		return m.prefix
	}
	return d.Offset
}

func (m offsetMap) redactedOffset(off int) int {
	switch {
	case m.raw == m.redacted:
		return off
	case off < m.prefix:
		return off
	case off >= len(m.raw)-m.suffix:
		return off - len(m.raw) + len(m.redacted)
	default:
		return m.prefix
	}
}

func (m offsetMap) column(redactedOff int) int {
	if redactedOff < 0 {
		redactedOff = 0
	}
	if redactedOff > len(m.redacted) {
		redactedOff = len(m.redacted)
	}
	return m.columns[redactedOff]
}

// sanitize makes control characters and invalid UTF-8 visible as U+FFFD so
// that output cannot drive the terminal.
func sanitize(s string) string {
	return newOffsetMap(s, s).display
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r, size := utf8.DecodeRuneInString(s)
	if r >= 'A' && r <= 'Z' {
		return string(r+('a'-'A')) + s[size:]
	}
	return s
}
