package check

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/connectdb/connectdb/internal/iostreams"
)

// SchemaVersion is the version of the JSON report; it changes only when a
// field changes meaning or disappears (see docs/check.md).
//
// Version 2 added "consequence" to every result, "verdict", "provider"
// and "input_error"; exit_code may be 2.
const SchemaVersion = 2

// JSONReport is the --output json document.
type JSONReport struct {
	SchemaVersion int            `json:"schema_version"`
	OK            bool           `json:"ok"`
	ExitCode      int            `json:"exit_code"`
	Config        string         `json:"config,omitempty"`
	Summary       map[Status]int `json:"summary"`
	Verdict       Verdict        `json:"verdict"`
	Provider      string         `json:"provider,omitempty"`
	InputError    string         `json:"input_error,omitempty"`
	Targets       []TargetInfo   `json:"targets"`
	Results       []Result       `json:"results"`
}

// JSON returns the JSON document for the report.
func (r *Report) JSON(strict bool) JSONReport {
	code := r.ExitCode(strict)
	res := r.Results
	if res == nil {
		res = []Result{}
	}
	t := r.Targets
	if t == nil {
		t = []TargetInfo{}
	}
	return JSONReport{SchemaVersion: SchemaVersion, OK: code == 0, ExitCode: code, Config: r.ConfigPath, Summary: r.Counts(),
		Verdict: r.Verdict(strict), Provider: r.Provider, InputError: r.InputError, Targets: t, Results: res}
}

// TextOptions tune the text rendering.
type TextOptions struct {
	Verbose bool
	Strict  bool
	Color   *iostreams.ColorScheme
}

// WriteText renders the report for people: one line per check, grouped by
// target, remedies indented below.
func (r *Report) WriteText(w io.Writer, o TextOptions) error {
	cs := o.Color
	if cs == nil {
		cs = (&iostreams.IOStreams{}).ColorScheme()
	}
	var b strings.Builder
	groups := []Scope{ScopeConfig}
	for _, t := range r.Targets {
		groups = append(groups, t.Scope)
	}
	for gi, g := range groups {
		var rs []Result
		for _, res := range r.Results {
			if res.Target == g {
				rs = append(rs, res)
			}
		}
		if len(rs) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		header := titleCase(string(g))
		if gi == 0 && r.ConfigPath != "" {
			header += "  " + r.ConfigPath
		}
		if gi > 0 {
			t := r.Targets[gi-1]
			if t.URL != "" {
				header += "  " + t.URL
			}
			if t.Source != "" {
				header += "  from " + t.Source
			}
			if t.PasswordSource != "" && t.Connection == nil {
				header += ", password from " + t.PasswordSource
			}
		}
		b.WriteString(cs.Bold(header) + "\n")
		if gi > 0 {
			writeConnection(&b, cs, r.Targets[gi-1].Connection)
		}
		width := 0
		for _, res := range rs {
			width = max(width, len(res.ID))
		}
		for _, res := range rs {
			tag := ""
			if res.Status == Fail || res.Status == Warn {
				tag = cs.Gray(" [" + strings.ReplaceAll(string(res.Consequence), "-", " ") + "]")
			}
			fmt.Fprintf(&b, "  %s %-*s  %s%s\n", statusLabel(cs, res.Status), width, res.ID, res.Message, tag)
			indent := strings.Repeat(" ", 2+4+1+width+2)
			if res.Remedy != "" && (res.Status == Fail || res.Status == Warn) {
				fmt.Fprintf(&b, "%s%s %s\n", indent, cs.Bold("fix:"), res.Remedy)
			}
			if o.Verbose {
				for _, d := range res.Details {
					fmt.Fprintf(&b, "%s%s\n", indent, cs.Gray(d))
				}
			}
		}
	}
	c := r.Counts()
	fmt.Fprintf(&b, "\n%d passed, %s, %d failed, %d skipped: %s\n", c[Pass], countWarnings(c[Warn]), c[Fail], c[Skip], r.Verdict(o.Strict).Summary)
	_, err := io.WriteString(w, b.String())
	return err
}

func statusLabel(cs *iostreams.ColorScheme, s Status) string {
	switch s {
	case Pass:
		return cs.Green("PASS")
	case Warn:
		return cs.Yellow("WARN")
	case Fail:
		return cs.Red("FAIL")
	}
	return cs.Gray("SKIP")
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"` // always 0; required by the JUnit schema (see internal/e2e)
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit renders one testcase per check and target, grouped in one
// testsuite per target. Warnings are failures only with strict.
func (r *Report) WriteJUnit(w io.Writer, strict bool) error {
	top := junitSuites{Name: "connectdb check"}
	index := map[Scope]int{}
	for _, res := range r.Results {
		i, ok := index[res.Target]
		if !ok {
			top.Suites = append(top.Suites, junitSuite{Name: string(res.Target)})
			i = len(top.Suites) - 1
			index[res.Target] = i
		}
		s := &top.Suites[i]
		c := junitCase{Name: res.ID, ClassName: "connectdb.check." + string(res.Target)}
		text := res.Message
		if res.Remedy != "" {
			text += "\nFix: " + res.Remedy
		}
		switch {
		case res.Status == Fail, res.Status == Warn && strict:
			c.Failure = &junitMessage{Message: res.Message, Type: string(res.Status), Text: text}
			s.Failures++
		case res.Status == Skip:
			c.Skipped = &junitMessage{Message: res.Message}
			s.Skipped++
		case res.Status == Warn:
			c.SystemOut = "WARNING: " + text
		default:
			c.SystemOut = text
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
	}
	for _, s := range top.Suites {
		top.Tests += s.Tests
		top.Failures += s.Failures
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(top); err != nil {
		return fmt.Errorf("writing JUnit XML: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// WriteGitHub renders GitHub Actions workflow commands: ::error for
// failures, ::warning for warnings, and a closing summary line.
func (r *Report) WriteGitHub(w io.Writer, strict bool) error {
	var b strings.Builder
	for _, res := range r.Results {
		kind := ""
		switch {
		case res.Status == Fail, res.Status == Warn && strict:
			kind = "error"
		case res.Status == Warn:
			kind = "warning"
		default:
			continue
		}
		msg := res.Message
		if res.Remedy != "" {
			msg += "\nFix: " + res.Remedy
		}
		fmt.Fprintf(&b, "::%s title=%s::%s\n", kind, ghProperty(res.ID+" ("+string(res.Target)+")"), ghData(msg))
	}
	c := r.Counts()
	fmt.Fprintf(&b, "connectdb check: %d passed, %s, %d failed, %d skipped: %s\n", c[Pass], countWarnings(c[Warn]), c[Fail], c[Skip], r.Verdict(strict).Summary)
	_, err := io.WriteString(w, b.String())
	return err
}

func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
