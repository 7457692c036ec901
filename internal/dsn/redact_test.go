package dsn

import (
	"fmt"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "postgres://u:secret@h/db", "postgres://u:xxxxx@h/db"},
		{"no password", "postgres://u@h:5432/db?sslmode=require", "postgres://u@h:5432/db?sslmode=require"},
		{"no userinfo", "postgres://h/db", "postgres://h/db"},
		{"empty password stays empty", "postgres://u:@h/db", "postgres://u:@h/db"},
		{"encoded password", "postgres://u:p%40ss@h/db", "postgres://u:xxxxx@h/db"},
		{"raw @ in password", "postgres://u:p@ss@h/db", "postgres://u:xxxxx@h/db"},
		{"raw # in password", "postgres://u:pa#ss@h/db", "postgres://u:xxxxx@h/db"},
		{"raw / in password", "postgres://u:pa/ss@h/db", "postgres://u:xxxxx@h/db"},
		{"raw ? in password", "postgres://u:pa?ss@h/db?sslmode=disable", "postgres://u:xxxxx@h/db?sslmode=disable"},
		{"everything in password", "postgres://u:a#b/c?d@e@h:5432/db", "postgres://u:xxxxx@h:5432/db"},
		{"query password", "postgres://u@h/db?sslmode=require&password=secret&x=1", "postgres://u@h/db?sslmode=require&password=xxxxx&x=1"},
		{"query sslpassword", "postgres://u@h/db?sslpassword=keysecret", "postgres://u@h/db?sslpassword=xxxxx"},
		{"query key case and escapes", "postgres://h/db?PassWord=s1&pass%77ord=s2", "postgres://h/db?PassWord=xxxxx&pass%77ord=xxxxx"},
		{"raw & inside a query password", "postgres://h/db?password=ab&cd&sslmode=require", "postgres://h/db?password=xxxxx&sslmode=require"},
		{"raw = and # inside a query password", "postgres://h/db?password=a=b#c", "postgres://h/db?password=xxxxx"},
		{"raw @ inside a query password", "postgres://u@h/db?password=p@ss#w?&x=1", "postgres://u@h/db?password=xxxxx&x=1"},
		{"password with '/' and empty host", "postgres://u:12/34@/connect", "postgres://u:xxxxx@/connect"},
		{"both places", "postgres://u:one@h/db?password=two", "postgres://u:xxxxx@h/db?password=xxxxx"},
		{"missing host: password looks like a port", "postgres://u:secret", "postgres://u:xxxxx"},
		{"missing host, password with slash", "postgres://u:sec/ret", "postgres://u:xxxxx"},
		{"empty port: maybe a password starting with '?'", "postgres://u:?sslmode=x", "postgres://u:xxxxx"},
		{"numeric port kept", "postgres://h:5432,h2:5433/db", "postgres://h:5432,h2:5433/db"},
		{"IPv6 kept", "postgres://[::1]:5432/db", "postgres://[::1]:5432/db"},
		{"conservative: raw @ in the query after host:port", "postgres://h:5432/db?application_name=a@b", "postgres://h:xxxxx@b"},
		{"not postgres, still redacted", "mysql://u:secret@h/db", "mysql://u:xxxxx@h/db"},
		{"keyword/value", "host=h user=u password=secret sslmode=require", "host=h user=u password=xxxxx sslmode=require"},
		{"keyword/value quoted", "host=h password = 'a b\\' c' sslpassword=k dbname=d", "host=h password = xxxxx sslpassword=xxxxx dbname=d"},
		{"keyword/value unterminated quote", "password='abc def", "password=xxxxx"},
		{"schemeless URL", "u:secret@h/db", "u:xxxxx@h/db"},
		{"empty", "", ""},
		{"just the scheme", "postgres://", "postgres://"},
		{"already redacted", "postgres://u:xxxxx@h/db", "postgres://u:xxxxx@h/db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// sentinelPasswords are passwords whose text must never appear in output.
var sentinelPasswords = []string{
	"Sentinel-s3cr3t", "p@ss#w/rd?", "with space!$", "%41%zz%", "pässwörd😀", "a:b:c:d", "?sslmode=verify-ca",
	"x&password=y", "12/34", "']\\\"",
}

// TestSecretsNeverLeak feeds sentinel passwords through every entry point,
// in well-formed and broken URLs, and checks every error, diagnosis,
// warning and String output.
func TestSecretsNeverLeak(t *testing.T) {
	for _, pw := range sentinelPasswords {
		enc := EncodePassword(pw)
		raws := []string{
			"postgres://u:" + enc + "@db.example.com/connect",
			"postgres://u:" + pw + "@db.example.com/connect",
			"postgres://u:" + pw + "@db.example.com:5432/connect?sslmode=disable",
			"postgres://u:" + pw + "@/connect",
			"postgres://u:" + pw + "@db.example.com/connect#frag",
			"postgres://u:" + pw + "@db.example.com/connect?broken",
			"mysql://u:" + pw + "@h/db",
			"POSTGRES://u:" + pw + "@h/db",
			"postgres://u@db.example.com/connect?password=" + enc,
			"postgres://u@db.example.com/connect?password=" + pw,
			"postgres://u@db.example.com/connect?sslpassword=" + pw + "&sslmode=require",
			"postgres://me@corp:" + pw + "@h/db",
			"host=h password=" + pw,
			"u:" + pw + "@h/db",
		}
		// Without an '@', "postgres://u:12/34" is a valid URL (host u, port 12,
		// database 34): nothing can tell that it holds a password. Such
		// shapes are checked only when they do not parse.
		for _, raw := range []string{"postgres://u:" + pw, "postgres://u:" + pw + "/connect"} {
			if _, err := Parse(raw); err != nil {
				raws = append(raws, raw)
			}
		}
		for _, raw := range raws {
			var out []string
			out = append(out, Redact(raw))
			if info, err := Parse(raw); err != nil {
				out = append(out, err.Error())
			} else {
				out = append(out, fmt.Sprintf("%v %+v %#v", info, info, info))
			}
			diags, repaired, err := Diagnose(raw)
			if err != nil {
				out = append(out, err.Error())
			}
			for _, d := range diags {
				out = append(out, d.String(), fmt.Sprintf("%+v", d))
			}
			out = append(out, Redact(repaired))
			for _, sep := range []string{"", "other-secret-value"} {
				c, err := Combine(raw, sep, "connectdb")
				if err != nil {
					out = append(out, err.Error())
					continue
				}
				out = append(out, c.String(), fmt.Sprint(c), fmt.Sprintf("%v %+v %#v", c, c, c))
				out = append(out, c.Warnings...)
			}
			for _, o := range out {
				for _, secret := range []string{pw, enc, "other-secret-value"} {
					if len(secret) >= 4 && strings.Contains(o, secret) {
						t.Errorf("password leaked for URL shape %q:\n%s", Redact(raw), o)
					}
				}
			}
		}
		parts := Parts{User: "u", Password: pw, Host: "h", Params: []Param{{"sslpassword", pw}}}
		for _, o := range []string{parts.String(), parts.Redacted(), fmt.Sprint(parts), fmt.Sprintf("%v %+v %#v", parts, parts, parts)} {
			if strings.Contains(o, pw) || strings.Contains(o, enc) {
				t.Errorf("Parts output leaks the password: %s", o)
			}
		}
	}
}

func FuzzRedact(f *testing.F) {
	for _, s := range sentinelPasswords {
		f.Add(s)
	}
	f.Add("@h/db?password=")
	f.Fuzz(func(t *testing.T, pw string) {
		const template = "postgres://u:xxxxx@h/db"
		raw := "postgres://u:" + pw + "@h/db"
		got := Redact(raw)
		if len(pw) >= 4 && !strings.Contains(template, pw) && strings.Contains(got, pw) {
			t.Fatalf("Redact(%q) = %q keeps the password", raw, got)
		}
		// Every other entry point's messages for the same URL.
		if len(pw) >= 4 && !strings.Contains(messageCatalogue, pw) {
			var out []string
			if info, err := Parse(raw); err != nil {
				out = append(out, err.Error())
			} else {
				out = append(out, fmt.Sprintf("%+v", info))
			}
			diags, repaired, _ := Diagnose(raw)
			for _, d := range diags {
				out = append(out, d.String())
			}
			out = append(out, Redact(repaired))
			if c, err := Combine(raw, "", "a"); err != nil {
				out = append(out, err.Error())
			} else {
				out = append(out, fmt.Sprintf("%v %#v", c, c))
				out = append(out, c.Warnings...)
			}
			for _, o := range out {
				if strings.Contains(o, pw) {
					t.Fatalf("password leaked for %q:\n%s", raw, o)
				}
			}
		}
		// Redact must not panic on anything, and the encoded form must be
		// redacted the same way.
		_ = Redact(pw)
		if got := Redact(Parts{User: "u", Password: pw, Host: "h", Database: "db"}.URL()); pw != "" && got != template {
			t.Fatalf("Redact(Parts.URL()) = %q, want %q", got, template)
		}
	})
}

// messageCatalogue is the fixed text of this package's messages, collected
// from broken URLs whose password is a neutral "N". A fuzzed password that
// occurs in it (such as " %00" or "must") cannot be told apart from the
// message, so the leak check skips it.
var messageCatalogue = func() string {
	var b strings.Builder
	b.WriteString("postgres://u:xxxxx@h/db?sslmode=require&application_name=a\n")
	special := "@#/?%!$ []\"\x01\x7fé%zz%4%00"
	for _, raw := range []string{"postgres://u:N@h/db", "postgres://u:N", "postgres://u:N@/db", "postgres://u:N@h/db#x",
		"postgres://u:N@h/a b?x&=y&&z=%zz", "postgres://u:N@h/a@b:x", "postgres://u:N@[x/db", "mysql://x", "x"} {
		for _, c := range append(strings.Split(special, ""), "") {
			r := strings.Replace(raw, "N", "N"+c, 1)
			diags, _, err := Diagnose(r)
			if err != nil {
				b.WriteString(err.Error() + "\n")
			}
			for _, d := range diags {
				b.WriteString(d.String() + "\n")
			}
			if _, err := Parse(r); err != nil {
				b.WriteString(err.Error() + "\n")
			}
			if c, err := Combine(r, "N", "a"); err == nil {
				b.WriteString(strings.Join(c.Warnings, "\n") + fmt.Sprintf("%#v", c) + "\n")
			}
			if c, err := Combine("postgres://u:N@h/db?password=N&sslmode=prefer", "N", "a"); err == nil {
				b.WriteString(strings.Join(c.Warnings, "\n") + fmt.Sprintf("%#v", c) + "\n")
			}
		}
	}
	return b.String()
}()

func TestRedactInputHidesNonConnectionStrings(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"SentArgPw6t", "(xxxxx: not a connection string)"},
		{"", ""},
		{"postgres://u:secret@h/db", "postgres://u:xxxxx@h/db"},
		{"host=h password=secret", "host=h password=xxxxx"},
		{"u:secret@h/db", "u:xxxxx@h/db"},
	} {
		if got := RedactInput(tt.in); got != tt.want {
			t.Errorf("RedactInput(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
