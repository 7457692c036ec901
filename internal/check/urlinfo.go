package check

import (
	"github.com/connectdb/connectdb/internal/dsn"
)

// urlInfo is what the checks read from a URL; it never holds the password.
type urlInfo = dsn.Info

func parseURL(raw string) (*urlInfo, error) { return dsn.Parse(raw) }

// urlDiag is one encoding or structure problem in a URL.
type urlDiag struct {
	Field   string // "user", "password" or "url"
	Error   bool
	Problem string
	Fix     string
}

func diagnoseURL(raw string) ([]urlDiag, error) {
	ds, _, err := dsn.Diagnose(raw)
	if err != nil {
		return nil, err
	}
	out := make([]urlDiag, 0, len(ds))
	for _, d := range ds {
		out = append(out, urlDiag{Field: d.Field, Error: d.Severity == dsn.SeverityError, Problem: d.Problem, Fix: d.Fix})
	}
	return out, nil
}

// optionsParam returns the last options= value of the URL.
func optionsParam(info *urlInfo) (string, bool) {
	v, ok := "", false
	for _, p := range info.Params {
		if p.Key == "options" {
			v, ok = p.Value, true
		}
	}
	return v, ok
}

func searchPathOf(options string) (string, bool) { return dsn.SearchPath(options) }
