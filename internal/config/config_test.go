package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRealisticFile(t *testing.T) {
	c, err := Load("testdata/rstudio-connect.gcfg", nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Path", c.Path, "testdata/rstudio-connect.gcfg"},
		{"DataDir", c.Server.DataDir, "/srv/connect-data"},
		{"SQLite.Dir", c.SQLite.Dir, "/srv/connect-data/db"},
		{"Provider", c.Database.Provider, "postgres"},
		{"MaxIdle", c.Database.MaxIdleConnections, 8},
		{"MaxOpen", c.Database.MaxOpenConnections, 32},
		{"Lifetime", c.Database.ConnectionMaxLifetime, 90 * time.Minute},
		{"LifetimeRaw", c.Database.ConnectionMaxLifetimeRaw, "1h30m"},
		{"URL", c.Postgres.URL, "postgres://connect@db.example.com:5432/connect?sslmode=require&options=-csearch_path=connect_schema"},
		{"Password", c.Postgres.Password, "lSrfWpPGtbb8Yl2bmUIlR5KbSuF61BY7Y6f2QLkM+pJ9LNWSvXAmdonq0KYZJ9s="},
		{"InstrumentationPassword", c.Postgres.InstrumentationPassword, `p@ss;word#"quoted"`},
		{"Line Provider", c.Line("Database.Provider"), 82},
		{"Line database section", c.Line("DATABASE"), 81},
		{"Line Password", c.Line("postgres.password"), 91},
		{"Line subsection", c.Line("LDAP.corp ldap.BindDN"), 33},
		{"IsSet AzureTenantId", c.IsSet("Postgres.AzureTenantId"), false},
		{"IsSet python executable", c.IsSet("python.executable"), true},
		{"Line python executable (last)", c.Line("Python.Executable"), 56},
		{"Where", c.Where("Database.MaxOpenConnections"), "testdata/rstudio-connect.gcfg:86"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("x.gcfg", strings.NewReader("[Server]\nAddress = http://x\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	d.Path = "x.gcfg"
	if c.Server != d.Server || c.Database != d.Database || c.Postgres != d.Postgres || c.SQLite != d.SQLite {
		t.Errorf("got %+v, want defaults %+v", c, d)
	}
	if d.SQLite.Dir != "/var/lib/rstudio-connect/db" || d.Database.Provider != "sqlite" ||
		d.Database.MaxIdleConnections != 5 || d.Database.MaxOpenConnections != 10 || d.Database.ConnectionMaxLifetime != 0 {
		t.Errorf("bad defaults %+v", d)
	}
	if c.IsSet("Database.Provider") || c.Line("Database.Provider") != 0 {
		t.Error("Provider reported as set")
	}
	if !c.IsSet("server.ADDRESS") || c.Line("Server.Address") != 2 {
		t.Error("Server.Address not reported as set on line 2")
	}
}

func TestSemantics(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want func(*Config) bool
	}{
		{"case-insensitive names", "[DATABASE]\nPROVIDER = POSTGRES\nmaxidleconnections = 3\n",
			func(c *Config) bool { return c.Database.Provider == "postgres" && c.Database.MaxIdleConnections == 3 }},
		{"repeated section adds up", "[Database]\nMaxIdleConnections = 3\n[HTTP]\nListen=:1\n[Database]\nMaxOpenConnections = 4\n",
			func(c *Config) bool { return c.Database.MaxIdleConnections == 3 && c.Database.MaxOpenConnections == 4 }},
		{"last value wins", "[Postgres]\nURL = postgres://a\nURL = postgres://b\n[Postgres]\nURL = postgres://c\n",
			func(c *Config) bool { return c.Postgres.URL == "postgres://c" && c.Line("Postgres.URL") == 5 }},
		{"last value wins across case", "[Database]\nprovider = postgres\nProvider = sqlite\n",
			func(c *Config) bool { return c.Database.Provider == "sqlite" && c.Line("Database.Provider") == 3 }},
		{"quoted escapes", `[Postgres]` + "\n" + `Password = "a\"b\\c;d#e"` + "\n",
			func(c *Config) bool { return c.Postgres.Password == `a"b\c;d#e` }},
		{"comments", "; top\n# also\n[Postgres] ; here\nURL = postgres://x ; trailing\nPassword = pw # trailing\n",
			func(c *Config) bool { return c.Postgres.URL == "postgres://x" && c.Postgres.Password == "pw" }},
		{"unquoted inner spaces kept", "[Postgres]\nAzureTenantId =   my tenant   \n",
			func(c *Config) bool { return c.Postgres.AzureTenantId == "my tenant" }},
		{"empty value", "[Postgres]\nPassword =\n",
			func(c *Config) bool { return c.Postgres.Password == "" && c.IsSet("Postgres.Password") }},
		{"line continuation", "[Postgres]\nURL = postgres://a\\\n@b\nPassword = x\n",
			func(c *Config) bool { return c.Postgres.URL == "postgres://a@b" && c.Line("Postgres.Password") == 4 }},
		{"CRLF", "[Database]\r\nProvider = postgres\r\nMaxOpenConnections = 7\r\n",
			func(c *Config) bool { return c.Database.Provider == "postgres" && c.Database.MaxOpenConnections == 7 }},
		{"BOM", "\ufeff[Database]\nProvider = postgres\n",
			func(c *Config) bool { return c.Database.Provider == "postgres" }},
		{"duration nanoseconds", "[Database]\nConnectionMaxLifetime = 1000000000\n",
			func(c *Config) bool { return c.Database.ConnectionMaxLifetime == time.Second }},
		{"duration ms", "[Database]\nConnectionMaxLifetime = 500ms\n",
			func(c *Config) bool { return c.Database.ConnectionMaxLifetime == 500*time.Millisecond }},
		{"duration compound", "[Database]\nConnectionMaxLifetime = \"1h30m\"\n",
			func(c *Config) bool { return c.Database.ConnectionMaxLifetime == 90*time.Minute }},
		{"negative idle", "[Database]\nMaxIdleConnections = -1\n",
			func(c *Config) bool { return c.Database.MaxIdleConnections == -1 }},
		{"SQLite dir follows DataDir", "[Server]\nDataDir = /data\n",
			func(c *Config) bool { return c.SQLite.Dir == "/data/db" }},
		{"SQLite dir explicit", "[Server]\nDataDir = /data\n[SQLite]\nDir = /fast/db\n",
			func(c *Config) bool { return c.SQLite.Dir == "/fast/db" }},
		{"unknown sections and subsections", "[LDAP \"a b\"]\nX = 1\n[Database \"odd\"]\nProvider = nonsense\n[Python]\nExecutable = /a\nExecutable = /b\n",
			func(c *Config) bool { return c.Database.Provider == "sqlite" && c.IsSet(`Database.odd.Provider`) }},
		{"unknown variable in known section", "[Postgres]\nFutureSetting = 1\nURL = postgres://x\n",
			func(c *Config) bool { return c.Postgres.URL == "postgres://x" }},
		{"blank variable elsewhere", "[Python]\nEnabled\n",
			func(c *Config) bool { return c.IsSet("Python.Enabled") }},
		{"all postgres fields", "[Postgres]\nURL=u\nPassword=p\nInstrumentationURL=iu\nInstrumentationPassword=ip\nAzureTenantId=t\nAzureClientId=c\nAzureClientSecret=s\n",
			func(c *Config) bool {
				return c.Postgres == Postgres{"u", "p", "iu", "ip", "t", "c", "s"}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("t.gcfg", strings.NewReader(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(c) {
				t.Errorf("unexpected result %+v", c)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
		want      string
	}{
		{"bad duration", "[Database]\nProvider = postgres\nConnectionMaxLifetime = 6os\n", 3,
			`t.gcfg:3: invalid duration "6os" for Database.ConnectionMaxLifetime; write a Go duration such as 60s`},
		{"bad integer", "[Database]\nMaxIdleConnections = five\n", 2,
			`t.gcfg:2: invalid integer "five" for Database.MaxIdleConnections; write a whole number such as 5`},
		{"bad integer last wins", "[Database]\nMaxOpenConnections = x\nMaxOpenConnections = 12.5\n", 3,
			`invalid integer "12.5" for Database.MaxOpenConnections`},
		{"bad provider", "[Database]\nProvider = mysql\n", 2,
			`t.gcfg:2: unknown Database.Provider "mysql"; write Provider = postgres or Provider = sqlite`},
		{"blank known variable", "[Postgres]\nPassword\n", 2,
			`Postgres.Password has no value; write Password = VALUE or delete the line`},
		{"unterminated quote", "[Postgres]\nURL = \"postgres://x\n", 2, `a quoted value is not closed`},
		{"bad escape", "[Postgres]\nPassword = \"a\\qb\"\n", 2, `unknown escape sequence`},
		{"no section", "URL = x\n", 1, `a setting is not inside a section; put a [Section] header`},
		{"missing equals", "[Database]\nProvider postgres\n", 2, `expected "=" after the setting name; write Name = value`},
		{"unclosed header", "\n\n[Database\nProvider = postgres\n", 3, `section header is not closed`},
		{"illegal char", "[Database]\n_x = 1\n", 2, `illegal character`},
		{"empty subsection", "[LDAP \"\"]\n", 1, `empty subsection name`},
		{"text after header", "[Database] x\n", 1, `unexpected text after the section header`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.gcfg", strings.NewReader(tt.src))
			if err == nil {
				t.Fatal("no error")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if ce.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", ce.Line, tt.line, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "t.gcfg:") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one FILE:LINE: line", err)
			}
		})
	}
}

func TestLoadStdin(t *testing.T) {
	c, err := Load("-", strings.NewReader("[Database]\nProvider = postgres\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != "<stdin>" || c.Database.Provider != "postgres" {
		t.Errorf("got %+v", c)
	}
	_, err = Load("-", strings.NewReader("[Database]\nMaxIdleConnections = x\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "<stdin>:2: ") {
		t.Errorf("stdin error = %v", err)
	}
	if _, err := Load("-", nil); err == nil {
		t.Error("Load(-, nil) succeeded")
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.gcfg")
	_, err := Load(missing, nil)
	if err == nil || !errors.Is(err, fs.ErrNotExist) ||
		!strings.HasPrefix(err.Error(), "config file "+missing+" not found; pass --config PATH or --url URL") {
		t.Errorf("missing file error = %v", err)
	}
	if _, err := Load(dir, nil); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory error = %v", err)
	}
	if os.Geteuid() != 0 {
		locked := filepath.Join(dir, "locked.gcfg")
		if err := os.WriteFile(locked, []byte("[Server]\n"), 0o000); err != nil {
			t.Fatal(err)
		}
		_, err := Load(locked, nil)
		if err == nil || !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("permission error = %v", err)
		}
	}
	if err := openError("/x", "--config", "config file", fs.ErrPermission); !strings.HasPrefix(err.Error(), "permission denied reading config file /x;") {
		t.Errorf("openError = %v", err)
	}
}

func TestNormKey(t *testing.T) {
	tests := map[string]string{
		"Database":                    "database",
		"Database.MaxIdleConnections": "database.maxidleconnections",
		"LDAP.Corp LDAP.BindDN":       "ldap.Corp LDAP.binddn",
		"a.b.c.D":                     "a.b.c.d",
	}
	for in, want := range tests {
		if got := normKey(in); got != want {
			t.Errorf("normKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLastWinsProperty writes random sequences of assignments, spread over
// repeated sections with random case, and checks the last one wins.
func TestLastWinsProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	cases := []string{"MaxOpenConnections", "maxopenconnections", "MAXOPENCONNECTIONS", "MaxOpenconnections"}
	for i := 0; i < 300; i++ {
		var b strings.Builder
		n := 1 + rng.Intn(6)
		want, wantLine, line := 0, 0, 0
		for j := 0; j < n; j++ {
			if j == 0 || rng.Intn(2) == 0 {
				b.WriteString([]string{"[Database]\n", "[database]\n", "[HTTP]\nListen = :1\n[DATABASE]\n"}[rng.Intn(3)])
			}
			want = rng.Intn(1000) - 100
			b.WriteString(cases[rng.Intn(len(cases))] + " = " + strconv.Itoa(want) + "\n")
			line = strings.Count(b.String(), "\n")
			wantLine = line
		}
		c, err := Parse("p", strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("%q: %v", b.String(), err)
		}
		if c.Database.MaxOpenConnections != want || c.Line("Database.MaxOpenConnections") != wantLine {
			t.Fatalf("%q: got %d at line %d, want %d at %d", b.String(),
				c.Database.MaxOpenConnections, c.Line("Database.MaxOpenConnections"), want, wantLine)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1000000000", time.Second, true},
		{"0", 0, true},
		{"60s", time.Minute, true},
		{" 3m ", 3 * time.Minute, true},
		{"1h30m", 90 * time.Minute, true},
		{"6os", 0, false},
		{"", 0, false},
		{"1d", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile("testdata/rstudio-connect.gcfg")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	for _, s := range []string{"", "[", "[a \"", "[a]\nb", "[a]\nb=\"\\", "[a]\nb=\\x", "[Database]\nProvider\n",
		"[Database]\nConnectionMaxLifetime = 9999999999999999999999\n", "\x00", "[a]\nb=\"\\n\\t\"\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.gcfg", strings.NewReader(string(data)))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.gcfg") {
				t.Errorf("error without file name: %v", err)
			}
			return
		}
		if c.Database.Provider != "sqlite" && c.Database.Provider != "postgres" {
			t.Errorf("provider %q", c.Database.Provider)
		}
	})
}

func TestPostgresNeverPrintsSecrets(t *testing.T) {
	const sentinel = "S3ntinel"
	c, err := Parse("t.gcfg", strings.NewReader("[Postgres]\nURL = postgres://u:"+sentinel+"@h/db\n"+
		"InstrumentationURL = postgres://u:"+sentinel+"@h/i\nPassword = "+sentinel+"\n"+
		"InstrumentationPassword = "+sentinel+"\nAzureClientSecret = "+sentinel+"\nAzureTenantId = tenant\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Postgres.Password != sentinel {
		t.Fatal("value not kept")
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{
		fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s", c.Postgres),
		fmt.Sprint(c.Postgres), c.Postgres.String(), c.Postgres.GoString(), string(j),
	} {
		if strings.Contains(out, sentinel) {
			t.Errorf("leaks: %s", out)
		}
		if !strings.Contains(out, "tenant") || !strings.Contains(out, "xxxxx") {
			t.Errorf("too much hidden: %s", out)
		}
	}
	if got := RedactURL("postgres://u@h/db?sslmode=require"); got != "postgres://u@h/db?sslmode=require" {
		t.Errorf("RedactURL without password = %q", got)
	}
	if got := RedactURL("postgres://u:p%zz@h"); strings.Contains(got, "p%zz") {
		t.Errorf("RedactURL on bad URL = %q", got)
	}
}
