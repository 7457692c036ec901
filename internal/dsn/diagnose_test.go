package dsn

import (
	"errors"
	"strings"
	"testing"
)

type wantDiag struct {
	offset   int
	field    string
	severity Severity
	problem  string // substring of Problem
}

func TestDiagnose(t *testing.T) {
	// "postgres://" is 11 bytes, so "u:" puts the password at byte 13.
	tests := []struct {
		name     string
		raw      string
		diags    []wantDiag
		repaired string // "" when no repair is possible
		user     string // what pgx reads from the repaired URL
		password string
	}{
		{
			name: "clean URL", raw: "postgres://u:secret@db.example.com/connect",
			repaired: "postgres://u:secret@db.example.com/connect", user: "u", password: "secret",
		},
		{
			name: "raw @ in the password", raw: "postgres://u:p@ss@h/db",
			diags:    []wantDiag{{14, "password", SeverityError, "'@'"}},
			repaired: "postgres://u:p%40ss@h/db", user: "u", password: "p@ss",
		},
		{
			name: "raw # makes the rest a fragment", raw: "postgres://u:pa#ss@h/db",
			diags:    []wantDiag{{15, "password", SeverityError, "fragment"}},
			repaired: "postgres://u:pa%23ss@h/db", user: "u", password: "pa#ss",
		},
		{
			name: "raw / moves the password into the path", raw: "postgres://u:pa/ss@h/db",
			diags:    []wantDiag{{15, "password", SeverityError, "database path"}},
			repaired: "postgres://u:pa%2Fss@h/db", user: "u", password: "pa/ss",
		},
		{
			name: "raw / after digits looks like a port", raw: "postgres://u:12/34@h:5432/db",
			diags:    []wantDiag{{15, "password", SeverityError, "'/'"}},
			repaired: "postgres://u:12%2F34@h:5432/db", user: "u", password: "12/34",
		},
		{
			name: "raw ? moves the password into the query", raw: "postgres://u:pa?ss@h/db",
			diags:    []wantDiag{{15, "password", SeverityError, "query"}},
			repaired: "postgres://u:pa%3Fss@h/db", user: "u", password: "pa?ss",
		},
		{
			name: "invalid escape %zz", raw: "postgres://u:pa%zzss@h/db",
			diags:    []wantDiag{{15, "password", SeverityError, "valid escape"}},
			repaired: "postgres://u:pa%25zzss@h/db", user: "u", password: "pa%zzss",
		},
		{
			name: "truncated escape %4 at the end", raw: "postgres://u:pa%4@h/db",
			diags:    []wantDiag{{15, "password", SeverityError, "valid escape"}},
			repaired: "postgres://u:pa%254@h/db", user: "u", password: "pa%4",
		},
		{
			name: "%00 is not accepted as an escape", raw: "postgres://u:a%00b@h/db",
			diags:    []wantDiag{{14, "password", SeverityError, "%00"}},
			repaired: "postgres://u:a%2500b@h/db", user: "u", password: "a%00b",
		},
		{
			name: "valid escapes are kept, not double-encoded", raw: "postgres://u:p%40s%2fs%41@h/db",
			repaired: "postgres://u:p%40s%2fs%41@h/db", user: "u", password: "p@s/sA",
		},
		{
			name: "! and $ are warnings, encoded for Connect", raw: "postgres://u:pa!s$s@h/db",
			diags: []wantDiag{
				{15, "password", SeverityWarning, "Connect's guide"},
				{17, "password", SeverityWarning, "Connect's guide"},
			},
			repaired: "postgres://u:pa%21s%24s@h/db", user: "u", password: "pa!s$s",
		},
		{
			name: "email-style user with raw @ (multiple @)", raw: "postgres://me@corp.com:pw@h/db",
			diags:    []wantDiag{{13, "user", SeverityError, "'@'"}},
			repaired: "postgres://me%40corp.com:pw@h/db", user: "me@corp.com", password: "pw",
		},
		{
			name: "user only, raw @", raw: "postgres://me@corp@h/db",
			diags:    []wantDiag{{13, "user", SeverityError, "'@'"}},
			repaired: "postgres://me%40corp@h/db", user: "me@corp",
		},
		{
			name: "space and non-ASCII", raw: "postgres://u:p é@h/db",
			diags: []wantDiag{
				{14, "password", SeverityError, "space"},
				{15, "password", SeverityError, "non-ASCII"},
			},
			repaired: "postgres://u:p%20%C3%A9@h/db", user: "u", password: "p é",
		},
		{
			name: "everything at once, with port and query", raw: "postgres://u:a#b/c?d@e[f]@h:5432/db?sslmode=disable",
			diags: []wantDiag{
				{14, "password", SeverityError, "'#'"},
				{16, "password", SeverityError, "'/'"},
				{18, "password", SeverityError, "'?'"},
				{20, "password", SeverityError, "'@'"},
				{22, "password", SeverityError, "'['"},
				{24, "password", SeverityError, "']'"},
			},
			repaired: "postgres://u:a%23b%2Fc%3Fd%40e%5Bf%5D@h:5432/db?sslmode=disable", user: "u", password: "a#b/c?d@e[f]",
		},
		{
			name: "'@' in a known query parameter is not the userinfo end", raw: "postgres://u:pw@h/db?application_name=a@b",
			repaired: "postgres://u:pw@h/db?application_name=a@b", user: "u", password: "pw",
		},
		{
			name: "IPv6 host", raw: "postgres://u:p@ss@[::1]:5432/db",
			diags:    []wantDiag{{14, "password", SeverityError, "'@'"}},
			repaired: "postgres://u:p%40ss@[::1]:5432/db", user: "u", password: "p@ss",
		},
		{
			name: "seed example with schema and sslmode", raw: "postgres://username:password@db.seed.co/connect?sslmode=disable&options=-csearch_path=connect_schema",
			repaired: "postgres://username:password@db.seed.co/connect?sslmode=disable&options=-csearch_path=connect_schema",
			user:     "username", password: "password",
		},
		{
			name: "empty host", raw: "postgres://u:pw@/db",
			diags: []wantDiag{{16, "url", SeverityError, "no host"}},
		},
		{
			name: "missing @host: the password looks like a port", raw: "postgres://u:secret/db",
			diags: []wantDiag{{13, "url", SeverityError, "not a port number"}},
		},
		{
			name: "empty port: the password may start with '?'", raw: "postgres://u:?sslmode=verify-ca",
			diags: []wantDiag{{13, "url", SeverityError, "not a port number"}},
		},
		{
			name: "'@' in the database name: the password had a '/' and the host is empty", raw: "postgres://u:12/34@/connect",
			diags: []wantDiag{
				{15, "password", SeverityError, "'/'"},
				{19, "url", SeverityError, "no host"},
			},
		},
		{
			name: "'@' in the database name", raw: "postgres://h/a@b:x",
			diags: []wantDiag{{14, "url", SeverityError, "database name contains a raw '@'"}},
		},
		{
			// The heuristic reads the last '@' before a plausible host as the
			// end of the userinfo, so this is user h, password 5432/a, host b.
			name: "'@' before a plausible host wins over a database name", raw: "postgres://h:5432/a@b",
			diags:    []wantDiag{{17, "password", SeverityError, "'/'"}},
			repaired: "postgres://h:5432%2Fa@b", user: "h", password: "5432/a",
		},
		{
			name: "'@' inside a query password stays in the query", raw: "postgres://u@h/db?password=p@ss",
			repaired: "postgres://u@h/db?password=p@ss", user: "u", password: "p@ss",
		},
		{
			name: "'@' after an sslmode value ends the userinfo", raw: "postgres://u:?sslmode=x@h/db",
			diags:    []wantDiag{{13, "password", SeverityError, "'?'"}},
			repaired: "postgres://u:%3Fsslmode=x@h/db", user: "u", password: "?sslmode=x",
		},
		{
			name: "fragment after the database", raw: "postgres://u@h/db#x",
			diags: []wantDiag{{17, "url", SeverityError, "fragment"}},
		},
		{
			name: "query parameter without '='", raw: "postgres://u@h/db?sslmode",
			diags: []wantDiag{{18, "url", SeverityError, "no '='"}},
		},
		{
			name: "space in the database name", raw: "postgres://u@h/my db",
			diags: []wantDiag{{17, "url", SeverityError, "space"}},
		},
		{
			name: "trailing '&' is only a warning", raw: "postgres://u:pw@h/db?sslmode=require&",
			diags:    []wantDiag{{37, "url", SeverityWarning, "empty"}},
			repaired: "postgres://u:pw@h/db?sslmode=require&", user: "u", password: "pw",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diags, repaired, err := Diagnose(tt.raw)
			if err != nil {
				t.Fatalf("Diagnose: %v", err)
			}
			if len(diags) != len(tt.diags) {
				t.Fatalf("got %d diagnoses, want %d:\n%s", len(diags), len(tt.diags), diagLines(diags))
			}
			for i, w := range tt.diags {
				d := diags[i]
				if d.Offset != w.offset || d.Field != w.field || d.Severity != w.severity || !strings.Contains(d.Problem, w.problem) {
					t.Errorf("diagnosis %d = %s\nwant offset %d field %s severity %s problem containing %q", i, d, w.offset, w.field, w.severity, w.problem)
				}
				if d.Fix == "" || !strings.HasSuffix(d.Problem, ".") || !strings.HasSuffix(d.Fix, ".") {
					t.Errorf("diagnosis %d is not complete sentences: %s", i, d)
				}
			}
			if repaired != tt.repaired {
				t.Fatalf("repaired = %q, want %q", repaired, tt.repaired)
			}
			if repaired == "" {
				if _, err := Parse(tt.raw); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrEmptyHost) {
					t.Errorf("Parse of an unrepairable URL: err = %v, want ErrMalformed or ErrEmptyHost", err)
				}
				return
			}
			// The repaired URL means what the admin meant, to Connect's rules
			// (Parse) and to pgx (through Combine, which makes the query
			// pgx-safe; with an already pgx-safe query, pgx reads it directly).
			info, err := Parse(repaired)
			if err != nil {
				t.Fatalf("Parse(repaired): %v", err)
			}
			if info.User != tt.user || info.HasPassword != (tt.password != "") {
				t.Errorf("Parse(repaired) user %q hasPassword %v, want %q %v", info.User, info.HasPassword, tt.user, tt.password != "")
			}
			c, err := Combine(repaired, "", "connectdb")
			if err != nil {
				t.Fatalf("Combine(repaired): %v", err)
			}
			cfg := pgxParse(t, c.ConnString)
			if cfg.User != tt.user || cfg.Password != tt.password {
				t.Errorf("pgx via Combine read user %q, password match %v; want user %q", cfg.User, cfg.Password == tt.password, tt.user)
			}
			if !strings.Contains(repaired, "options=") {
				cfg := pgxParse(t, repaired)
				if cfg.User != tt.user || cfg.Password != tt.password {
					t.Errorf("pgx read repaired user %q, password match %v; want user %q", cfg.User, cfg.Password == tt.password, tt.user)
				}
			}
		})
	}
}

func diagLines(diags []Diagnosis) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString("  " + d.String() + "\n")
	}
	return b.String()
}

func TestDiagnoseErrors(t *testing.T) {
	tests := []struct {
		raw     string
		err     error
		message string // exact error text
	}{
		{"mysql://u:secret@h/db", ErrUnsupportedScheme,
			"mysql://…: connectdb supports postgres:// and postgresql:// URLs (lowercase); write the URL as postgres://user@host/database: unsupported URL scheme"},
		{"POSTGRES://u:secret@h/db", ErrUnsupportedScheme,
			"POSTGRES://…: connectdb supports postgres:// and postgresql:// URLs (lowercase); write the URL as postgres://user@host/database: unsupported URL scheme"},
		{"sec ret://u@h/db", ErrUnsupportedScheme,
			"the URL: connectdb supports postgres:// and postgresql:// URLs (lowercase); write the URL as postgres://user@host/database: unsupported URL scheme"},
		{"u:secret@h/db", ErrNotURL,
			"the database URL has no scheme: write it as postgres://user@host/database: not a URL"},
	}
	for _, tt := range tests {
		for name, run := range map[string]func() error{
			"Diagnose": func() error { _, _, err := Diagnose(tt.raw); return err },
			"Parse":    func() error { _, err := Parse(tt.raw); return err },
			"Combine":  func() error { _, err := Combine(tt.raw, "x", "y"); return err },
		} {
			err := run()
			if !errors.Is(err, tt.err) || err.Error() != tt.message {
				t.Errorf("%s(%q) error = %v\nwant %q (wrapping %v)", name, tt.raw, err, tt.message, tt.err)
			}
		}
	}
}

func FuzzDiagnose(f *testing.F) {
	for _, s := range []string{
		"postgres://u:p@ss@h/db", "postgres://u:a#b/c?d@e@h:5432/db?sslmode=disable",
		"postgres://u:pw@h/db?application_name=a@b", "postgresql://[::1]:5432,h2/db?options=-csearch_path=x",
		"postgres://u:%zz%4@h", "postgres://@", "postgres://u:pw@/db", "postgres://a@b@c@d/e?f=g&h",
		"postgres://u:é😀@h/db#frag", "postgres://u:x?sslmode=y@h/db@z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		diags, repaired, err := Diagnose(raw)
		if err != nil {
			if diags != nil || repaired != "" {
				t.Fatalf("error with results: %v", err)
			}
			return
		}
		for _, d := range diags {
			if d.Offset < 0 || d.Offset > len(raw) {
				t.Fatalf("offset %d outside the URL (%d bytes)", d.Offset, len(raw))
			}
		}
		if hasError(diags) != (repaired != raw) && repaired != "" {
			// A repair changes the URL exactly when an error (or a Connect
			// warning) was found in the userinfo.
			if !hasWarningInUserinfo(diags) {
				t.Fatalf("repaired differs from raw = %v, but error diagnoses = %v", repaired != raw, hasError(diags))
			}
		}
		if repaired == "" {
			if !hasError(diags) {
				t.Fatal("no repair although there is no error")
			}
			return
		}
		info, err := Parse(repaired)
		if err != nil {
			t.Fatalf("Parse(repaired): %v", err)
		}
		again, again2, _ := Diagnose(repaired)
		if hasError(again) || again2 != repaired {
			t.Fatalf("repaired URL still has errors:\n%s", diagLines(again))
		}
		c, err := Combine(repaired, "", "")
		if err != nil {
			t.Fatalf("Combine(repaired): %v", err)
		}
		// Query parameters can make pgx read files or reject values; the
		// credentials, hosts and database are what this test is about.
		base, _, _ := strings.Cut(c.ConnString, "?")
		if strings.ContainsRune(info.User, 0) || info.User == "" {
			return
		}
		cfg, err := pgxParseErr(base)
		if err != nil {
			t.Fatalf("pgx rejected the combined repaired URL: %v", err)
		}
		if cfg.User != info.User || cfg.Database != info.Database {
			t.Fatalf("pgx read user %q db %q, Parse read %q %q", cfg.User, cfg.Database, info.User, info.Database)
		}
	})
}

func hasWarningInUserinfo(diags []Diagnosis) bool {
	for _, d := range diags {
		if d.Severity == SeverityWarning && d.Field != "url" {
			return true
		}
	}
	return false
}

func BenchmarkDiagnose(b *testing.B) {
	for name, raw := range map[string]string{
		"clean":  "postgres://username:password@db.seed.co:5432/connect?sslmode=require&options=-csearch_path=connect_schema",
		"broken": "postgres://me@corp.com:p@ss#w/rd?!$é@db.seed.co:5432/connect?sslmode=require",
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _, _ = Diagnose(raw)
			}
		})
	}
}
