package e2e

import (
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// node is one XML element with its attributes, children and text.
type node struct {
	name     string
	attrs    map[string]string
	children []*node
	text     strings.Builder
}

func parseXML(r io.Reader) (*node, error) {
	dec := xml.NewDecoder(r)
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name.Local, attrs: map[string]string{}}
			for _, a := range t.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, fmt.Errorf("more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("no root element")
	}
	return root, nil
}

// elementRule is one element declaration of the JUnit schema.
type elementRule struct {
	required, optional []string // attributes
	children           []string // allowed child elements
	textOnly           bool     // no child elements (mixed or simple content)
}

// junitSchema holds the element declarations of the JUnit XML schema used
// by Jenkins' xUnit plugin (junit-10.xsd), which GitLab and the GitHub
// test-report actions accept: element nesting, required and allowed
// attributes. xs:string attributes accept any text; "time" must match the
// schema's SUREFIRE_TIME pattern.
var junitSchema = map[string]elementRule{
	"testsuites": {optional: []string{"name", "time", "tests", "failures", "errors"}, children: []string{"testsuite"}},
	"testsuite": {required: []string{"name", "tests", "failures", "errors"},
		optional: []string{"group", "time", "skipped", "timestamp", "hostname", "id", "package", "file", "log", "url"},
		children: []string{"testsuite", "properties", "testcase", "system-out", "system-err"}},
	"testcase": {required: []string{"name"}, optional: []string{"time", "classname", "group"},
		children: []string{"skipped", "error", "failure", "rerunFailure", "rerunError", "flakyFailure", "flakyError", "system-out", "system-err"}},
	"failure":    {optional: []string{"type", "message"}, textOnly: true},
	"error":      {optional: []string{"type", "message"}, textOnly: true},
	"skipped":    {optional: []string{"type", "message"}, textOnly: true},
	"properties": {children: []string{"property"}},
	"property":   {required: []string{"name", "value"}, textOnly: true},
	"system-out": {textOnly: true},
	"system-err": {textOnly: true},
}

var surefireTime = regexp.MustCompile(`^(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?$`)

// validateJUnit checks doc against junitSchema, then that the counts on each
// testsuite agree with its test cases. It returns every violation.
func validateJUnit(root *node) []string {
	var errs []string
	if root.name != "testsuites" && root.name != "testsuite" {
		return []string{fmt.Sprintf("root element is <%s>, want <testsuites> or <testsuite>", root.name)}
	}
	var walk func(n *node, path string)
	walk = func(n *node, path string) {
		path += "/" + n.name
		rule, ok := junitSchema[n.name]
		if !ok {
			errs = append(errs, path+": element not in the schema")
			return
		}
		for _, a := range rule.required {
			if _, ok := n.attrs[a]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required attribute %q is missing", path, a))
			}
		}
		for a, v := range n.attrs {
			if !slices.Contains(rule.required, a) && !slices.Contains(rule.optional, a) {
				errs = append(errs, fmt.Sprintf("%s: attribute %q is not allowed", path, a))
			}
			if a == "time" && !surefireTime.MatchString(v) {
				errs = append(errs, fmt.Sprintf("%s: time=%q does not match the schema's time pattern", path, v))
			}
		}
		if rule.textOnly && len(n.children) > 0 {
			errs = append(errs, fmt.Sprintf("%s: must hold text only, has <%s>", path, n.children[0].name))
		}
		if !rule.textOnly && n.name != "testcase" && strings.TrimSpace(n.text.String()) != "" {
			errs = append(errs, path+": text is not allowed here")
		}
		for _, c := range n.children {
			if !slices.Contains(rule.children, c.name) {
				errs = append(errs, fmt.Sprintf("%s: <%s> is not allowed inside <%s>", path, c.name, n.name))
				continue
			}
			walk(c, path)
		}
		if n.name == "testsuite" {
			errs = append(errs, checkCounts(n, path)...)
		}
	}
	walk(root, "")
	return errs
}

// checkCounts compares a testsuite's tests/failures/errors/skipped
// attributes with its test cases.
func checkCounts(s *node, path string) []string {
	count := map[string]int{}
	for _, c := range s.children {
		if c.name != "testcase" {
			continue
		}
		count["tests"]++
		for _, k := range c.children {
			switch k.name {
			case "failure":
				count["failures"]++
			case "error":
				count["errors"]++
			case "skipped":
				count["skipped"]++
			}
		}
	}
	var errs []string
	for _, a := range []string{"tests", "failures", "errors", "skipped"} {
		v, ok := s.attrs[a]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n != count[a] {
			errs = append(errs, fmt.Sprintf("%s[@name=%q]: %s=%q but it holds %d", path, s.attrs["name"], a, v, count[a]))
		}
	}
	return errs
}

// TestJUnitValidatorRejects proves the validator finds what the schema
// forbids, so a pass in TestCIRecipes means something.
func TestJUnitValidatorRejects(t *testing.T) {
	good := `<testsuites name="x" tests="1" failures="1" errors="0"><testsuite name="s" tests="1" failures="1" errors="0" skipped="0">` +
		`<testcase name="c" classname="k"><failure message="m" type="fail">text</failure><system-out>o</system-out></testcase></testsuite></testsuites>`
	tests := []struct {
		name, doc, want string
	}{
		{"valid", good, ""},
		{"root attribute not in schema", strings.Replace(good, `<testsuites name="x"`, `<testsuites skipped="0" name="x"`, 1), `attribute "skipped" is not allowed`},
		{"testsuite without errors", strings.Replace(good, ` errors="0" skipped`, ` skipped`, 1), `required attribute "errors" is missing`},
		{"testcase without name", strings.Replace(good, `<testcase name="c"`, `<testcase`, 1), `required attribute "name" is missing`},
		{"unknown element", strings.Replace(good, `<system-out>o</system-out>`, `<stdout>o</stdout>`, 1), `<stdout> is not allowed`},
		{"element inside failure", strings.Replace(good, `>text</failure>`, `><b/></failure>`, 1), `must hold text only`},
		{"bad time", strings.Replace(good, `<testcase name="c"`, `<testcase time="1s" name="c"`, 1), `time pattern`},
		{"wrong count", strings.Replace(good, `tests="1" failures="1" errors="0" skipped`, `tests="2" failures="1" errors="0" skipped`, 1), `tests="2" but it holds 1`},
	}
	for _, tt := range tests {
		root, err := parseXML(strings.NewReader(tt.doc))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		errs := strings.Join(validateJUnit(root), "\n")
		if tt.want == "" && errs != "" || tt.want != "" && !strings.Contains(errs, tt.want) {
			t.Errorf("%s: violations %q, want %q", tt.name, errs, tt.want)
		}
	}
}
