package dsn

import (
	"reflect"
	"strings"
	"testing"
)

func TestCombine(t *testing.T) {
	tests := []struct {
		name       string
		url, sep   string
		app        string
		conn       string
		source     string
		warnings   []string // substrings, one per warning
		pgUser     string
		pgPassword string
		sslmode    string
	}{
		{
			name: "seed example with Postgres.Password, defaults added",
			url:  "postgres://username@db.seed.co/connect", sep: "p@ss#w/rd?!$ é", app: "connectdb",
			conn:   "postgres://username:p%40ss%23w%2Frd%3F%21%24%20%C3%A9@db.seed.co/connect?sslmode=require&application_name=connectdb",
			source: PasswordFromSetting, pgUser: "username", pgPassword: "p@ss#w/rd?!$ é", sslmode: "require",
		},
		{
			name: "separate password wins over the URL's, with a warning",
			url:  "postgres://u:fromurl@h/db", sep: "fromsetting", app: "connectdb",
			conn:   "postgres://u:fromsetting@h/db?sslmode=require&application_name=connectdb",
			source: PasswordFromSetting, warnings: []string{"separate setting is used"},
			pgUser: "u", pgPassword: "fromsetting", sslmode: "require",
		},
		{
			name: "separate password also beats a password query parameter",
			url:  "postgres://u@h/db?password=fromquery&sslmode=verify-full", sep: "fromsetting",
			conn:   "postgres://u:fromsetting@h/db?sslmode=verify-full",
			source: PasswordFromSetting, warnings: []string{"separate setting is used"},
			pgUser: "u", pgPassword: "fromsetting", sslmode: "verify-full",
		},
		{
			name: "URL password re-encoded, explicit disable kept silently",
			url:  "postgres://u:p%40ss!@h:5432/db?sslmode=disable", app: "connectdb",
			conn:   "postgres://u:p%40ss%21@h:5432/db?sslmode=disable&application_name=connectdb",
			source: PasswordFromURL, pgUser: "u", pgPassword: "p@ss!", sslmode: "disable",
		},
		{
			name:   "query password wins over userinfo, as in pgx",
			url:    "postgres://u:one@h/db?password=two&sslmode=require",
			conn:   "postgres://u:two@h/db?sslmode=require",
			source: PasswordFromURLQuery, warnings: []string{"pgx and libpq use the query parameter"},
			pgUser: "u", pgPassword: "two", sslmode: "require",
		},
		{
			name: "no password anywhere",
			url:  "postgres://u@h/db", app: "",
			conn:   "postgres://u@h/db?sslmode=require",
			source: PasswordNone, pgUser: "u", sslmode: "require",
		},
		{
			name: "prefer is kept but warned about",
			url:  "postgres://u@h/db?sslmode=prefer", app: "x",
			conn:   "postgres://u@h/db?sslmode=prefer&application_name=x",
			source: PasswordNone, warnings: []string{"sslmode=prefer"},
			pgUser: "u", sslmode: "prefer",
		},
		{
			name:   "ssl=true alias counts as sslmode",
			url:    "postgres://u@h/db?ssl=true",
			conn:   "postgres://u@h/db?ssl=true",
			source: PasswordNone, pgUser: "u", sslmode: "require",
		},
		{
			name: "application_name present is kept; search_path preserved and made pgx-safe",
			url:  "postgres://u@h/connect?application_name=rsconnect&options=-csearch_path=connect_schema", app: "connectdb",
			conn:   "postgres://u@h/connect?application_name=rsconnect&options=-csearch_path%3Dconnect_schema&sslmode=require",
			source: PasswordNone, pgUser: "u", sslmode: "require",
		},
		{
			name: "multiple hosts and IPv6",
			url:  "postgresql://u@h1:5432,[::1]:5433/db", sep: "pw",
			conn:   "postgresql://u:pw@h1:5432,[::1]:5433/db?sslmode=require",
			source: PasswordFromSetting, pgUser: "u", pgPassword: "pw", sslmode: "require",
		},
		{
			name:   "no database, '@' in a query value is encoded for pgx",
			url:    "postgres://h?application_name=a@b&user=u",
			conn:   "postgres://h?application_name=a%40b&user=u&sslmode=require",
			source: PasswordNone, pgUser: "u", sslmode: "require",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Combine(tt.url, tt.sep, tt.app)
			if err != nil {
				t.Fatalf("Combine: %v", err)
			}
			if c.ConnString != tt.conn {
				t.Errorf("ConnString = %q\nwant         %q", c.ConnString, tt.conn)
			}
			if c.PasswordSource != tt.source {
				t.Errorf("PasswordSource = %q, want %q", c.PasswordSource, tt.source)
			}
			if len(c.Warnings) != len(tt.warnings) {
				t.Fatalf("warnings = %q, want %d", c.Warnings, len(tt.warnings))
			}
			for i, w := range tt.warnings {
				if !strings.Contains(c.Warnings[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, c.Warnings[i], w)
				}
			}
			cfg := pgxParse(t, c.ConnString)
			if cfg.User != tt.pgUser || cfg.Password != tt.pgPassword {
				t.Errorf("pgx user %q password match %v, want user %q", cfg.User, cfg.Password == tt.pgPassword, tt.pgUser)
			}
			// pgx has no sslmode field; require and stronger modes leave no
			// plaintext fallback, prefer leaves one, disable has no TLS.
			plaintextFallback := false
			for _, fb := range cfg.Fallbacks {
				plaintextFallback = plaintextFallback || fb.TLSConfig == nil
			}
			switch tt.sslmode {
			case "disable":
				if cfg.TLSConfig != nil {
					t.Error("sslmode=disable but pgx uses TLS")
				}
			case "prefer":
				if cfg.TLSConfig == nil || !plaintextFallback {
					t.Error("sslmode=prefer but pgx has no TLS-then-plaintext order")
				}
			default:
				if cfg.TLSConfig == nil || plaintextFallback {
					t.Errorf("sslmode=%s but pgx may connect without TLS", tt.sslmode)
				}
			}
			if strings.Contains(tt.url, "search_path") && cfg.RuntimeParams["options"] != "-csearch_path=connect_schema" {
				t.Errorf("options = %q, want -csearch_path=connect_schema", cfg.RuntimeParams["options"])
			}
		})
	}
}

func TestParseInfo(t *testing.T) {
	raw := "postgresql://connect@db.example.com:5433,db2/connect?sslmode=verify-full&options=-c%20search_path%3Dconnect_schema" +
		"&sslcert=/etc/ssl/c.crt&sslkey=/etc/ssl/c.key&sslrootcert=/etc/ssl/root.crt&application_name=rsc&connect_timeout=10&password=pw&sslpassword=kp"
	info, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := &Info{
		Scheme: "postgresql", User: "connect", Host: "db.example.com", Port: 5433,
		Hosts:    []HostPort{{"db.example.com", 5433}, {"db2", 0}},
		Database: "connect", HasPassword: true, SSLMode: "verify-full", SSLModeSet: true, Schema: "connect_schema",
		SSLCert: "/etc/ssl/c.crt", SSLKey: "/etc/ssl/c.key", SSLRootCert: "/etc/ssl/root.crt",
		ApplicationName: "rsc", ConnectTimeout: "10",
		Params: []Param{
			{"sslmode", "verify-full"}, {"options", "-c search_path=connect_schema"}, {"sslcert", "/etc/ssl/c.crt"},
			{"sslkey", "/etc/ssl/c.key"}, {"sslrootcert", "/etc/ssl/root.crt"}, {"application_name", "rsc"},
			{"connect_timeout", "10"}, {"password", "xxxxx"}, {"sslpassword", "xxxxx"},
		},
	}
	if !reflect.DeepEqual(info, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", info, want)
	}
	if info, err := Parse("postgres://u:pw@h/db"); err != nil || !info.HasPassword || info.SSLModeSet {
		t.Errorf("Parse userinfo password: %+v, %v", info, err)
	}
}

func TestSearchPath(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"-csearch_path=connect_schema", "connect_schema", true},
		{"-c search_path=a,b", "a,b", true},
		{"--search_path=x", "x", true},
		{"-cstatement_timeout=5 -csearch_path=y", "y", true},
		{"-cstatement_timeout=5", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if got, ok := SearchPath(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("SearchPath(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
