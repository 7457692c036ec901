package dsn

import (
	"fmt"
	"strings"
	"testing"
)

// pathologicalURLs are shapes that once made Diagnose or Redact slower than
// linear: many problems, many '@' that could end the userinfo, many
// parameters. Each is built with n repetitions.
var pathologicalURLs = []struct {
	name string
	url  func(n int) string
}{
	{"bad-escapes-in-query", func(n int) string {
		return "postgres://u@h/db?application_name=" + strings.Repeat("%zz", n)
	}},
	{"bad-escapes-in-password", func(n int) string { return "postgres://u:" + strings.Repeat("%zz", n) + "@h/db" }},
	{"ats-in-query-value", func(n int) string {
		return "postgres://u@h/db?application_name=a" + strings.Repeat("@b/", n)
	}},
	{"ats-and-slashes", func(n int) string { return "postgres://" + strings.Repeat("@a/", n) }},
	{"many-hosts", func(n int) string { return "postgres://u:p@" + strings.Repeat("h:5432,", n) + "h/db" }},
	{"many-params", func(n int) string { return "postgres://u@h/db?" + strings.Repeat("password=a&", n) }},
	{"raw-at-password", func(n int) string { return "postgres://u:" + strings.Repeat("@", n) + "@h/db" }},
	{"colons", func(n int) string { return "postgres://" + strings.Repeat(":", n) }},
	{"query-ats-no-host", func(n int) string { return "postgres://h/db?user=" + strings.Repeat("@?", n) }},
}

// BenchmarkDiagnosePathological reports the cost per input byte: it must
// stay flat from 10 KB to 100 KB (linear), which the ratio test checks.
func BenchmarkDiagnosePathological(b *testing.B) {
	for _, p := range pathologicalURLs {
		for _, n := range []int{3000, 30000} {
			raw := p.url(n)
			b.Run(fmt.Sprintf("%s/%dB", p.name, len(raw)), func(b *testing.B) {
				b.SetBytes(int64(len(raw)))
				b.ReportAllocs()
				for b.Loop() {
					Diagnose(raw)
					Redact(raw)
				}
			})
		}
	}
}
