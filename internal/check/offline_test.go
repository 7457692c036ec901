package check

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connectdb/connectdb/internal/config"
)

// offline runs only the offline checks on in.
func offline(t *testing.T, in *Input) *Report {
	t.Helper()
	rep, err := Run(t.Context(), Options{Input: in, LiveSkipReason: "skipped: --offline"})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func baseInput(url string) *Input {
	return &Input{ConfigPath: "rstudio-connect.gcfg", Provider: "postgres", MaxOpenConnections: 10, MaxIdleConnections: 5,
		Where: func(key string) string { return "rstudio-connect.gcfg:7" }, IsSet: func(string) bool { return true },
		Primary: &URLInput{Scope: ScopePrimary, URL: url}}
}

const (
	azTenant = "11111111-2222-3333-4444-555555555555"
	azClient = "66666666-7777-8888-9999-000000000000"
	azSecret = "lSrfWpPGtbb8Yl2bmUIlR5KbSuF61BY7Y6f2QLkM+pJ9LNWSvXAmdonq0KYZJ9s="
)

func TestOfflineChecks(t *testing.T) {
	const good = "postgres://connect@db.example.com/connect?sslmode=require"
	dir := t.TempDir()
	tests := []struct {
		name   string
		scope  Scope
		id     string
		mod    func(in *Input)
		want   Status
		substr []string
	}{
		{"provider postgres", ScopeConfig, "config.provider", nil, Pass, nil},
		{"provider sqlite", ScopeConfig, "config.provider", func(in *Input) { in.Provider = "sqlite" }, Fail, []string{"migrate", "[Database] Provider = postgres (rstudio-connect.gcfg:7)"}},
		{"max open ok", ScopeConfig, "pool.max-open", nil, Pass, nil},
		{"max open unlimited", ScopeConfig, "pool.max-open", func(in *Input) { in.MaxOpenConnections = 0 }, Warn, []string{"no limit", "[Database] MaxOpenConnections = 10"}},
		{"idle ok", ScopeConfig, "pool.max-idle", nil, Pass, nil},
		{"idle above open", ScopeConfig, "pool.max-idle", func(in *Input) { in.MaxIdleConnections = 20 }, Warn, []string{"no effect", "[Database] MaxIdleConnections = 10 (rstudio-connect.gcfg:7)"}},
		{"idle zero", ScopeConfig, "pool.max-idle", func(in *Input) { in.MaxIdleConnections = 0 }, Warn, []string{"--pooler session", "MaxIdleConnections = 5"}},
		{"idle zero behind session pooler", ScopeConfig, "pool.max-idle", func(in *Input) { in.MaxIdleConnections = 0; in.Pooler = "session" }, Pass, []string{"session-mode pooler"}},
		{"no pooler", ScopeConfig, "pool.pooler", nil, Skip, nil},
		{"session pooler", ScopeConfig, "pool.pooler", func(in *Input) { in.Pooler = "session" }, Pass, nil},
		{"transaction pooler", ScopeConfig, "pool.pooler", func(in *Input) { in.Pooler = "transaction" }, Warn, []string{"advisory lock", "pool_mode = session"}},
		{"key unreadable by connectdb", ScopeConfig, "secret.key", func(in *Input) { in.KeyError = "permission denied reading secret key file /x" }, Warn, []string{"permission denied", "--secret-key"}},
		{"two keys stop Connect", ScopeConfig, "secret.key", func(in *Input) {
			in.KeyError, in.KeyBlocks = "both Server.EncryptionKeyFile and Server.EncryptionKey are set (...): Connect refuses to start with both; remove one of them", true
		}, Fail, []string{"Connect refuses to start", "exactly one key"}},
		{"key open to others", ScopeConfig, "secret.key", func(in *Input) {
			in.Decrypt = func(string, string) (string, error) { return "", nil }
			in.KeyWarnings = []string{"secret key file /k is readable by group or others (mode 0644); run chmod 600 /k"}
		}, Warn, []string{"chmod 600"}},
		{"key fine", ScopeConfig, "secret.key", func(in *Input) { in.Decrypt = func(string, string) (string, error) { return "", nil } }, Pass, nil},
		{"lifetime ok", ScopeConfig, "pool.max-lifetime", func(in *Input) { in.ConnectionMaxLifetime = "1000000000" }, Pass, []string{"1s"}},
		{"lifetime bad", ScopeConfig, "pool.max-lifetime", func(in *Input) { in.ConnectionMaxLifetime = "sixty" }, Fail, []string{"ConnectionMaxLifetime = 60s"}},
		{"azure none", ScopeConfig, "azure.principal", nil, Skip, nil},
		{"azure partial", ScopeConfig, "azure.principal", func(in *Input) { in.AzureTenantID = azTenant }, Fail, []string{"AzureClientId is not set", "AzureClientSecret is not set"}},
		{"azure mixed with password", ScopeConfig, "azure.principal", func(in *Input) {
			in.AzureTenantID, in.AzureClientID, in.AzureClientSecret = azTenant, azClient, azSecret
			in.Primary.Password = "pw"
		}, Fail, []string{"Postgres.Password is set together", "rstudio-connect.gcfg:7"}},
		{"azure other principal for instrumentation", ScopeConfig, "azure.principal", func(in *Input) {
			in.AzureTenantID, in.AzureClientID, in.AzureClientSecret = azTenant, azClient, azSecret
			in.Primary.URL = "postgres://sp@x.postgres.database.azure.com/connect?sslmode=require"
			in.Instrumentation = &URLInput{Scope: ScopeInstrumentation, URL: "postgres://other@x.postgres.database.azure.com/metrics?sslmode=require", Password: "pw"}
		}, Fail, []string{"same service principal"}},
		{"azure secret wrong key", ScopeConfig, "azure.principal", func(in *Input) {
			in.AzureTenantID, in.AzureClientID, in.AzureClientSecret = azTenant, azClient, azSecret
			in.Primary.URL = "postgres://sp@x.postgres.database.azure.com/connect?sslmode=require"
			in.Decrypt = func(string, string) (string, error) { return "", errors.New("wrong key") }
		}, Fail, []string{"does not decrypt"}},
		{"azure complete", ScopeConfig, "azure.principal", func(in *Input) {
			in.AzureTenantID, in.AzureClientID, in.AzureClientSecret = azTenant, azClient, azSecret
			in.Primary.URL = "postgres://sp@x.postgres.database.azure.com/connect?sslmode=require"
			in.Decrypt = func(string, string) (string, error) { return "secret", nil }
		}, Pass, nil},
		{"url unset", ScopePrimary, "url.parse", func(in *Input) { in.Primary.URL = "" }, Fail, []string{"not set", "[Postgres] URL ="}},
		{"url scheme", ScopePrimary, "url.parse", func(in *Input) { in.Primary.URL = "mysql://u@h/db" }, Fail, []string{"postgres"}},
		{"url ok", ScopePrimary, "url.parse", nil, Pass, []string{"db.example.com"}},
		{"url without database", ScopePrimary, "url.parse", func(in *Input) { in.Primary.URL = "postgres://connect@db.example.com" }, Warn, []string{"dedicated database"}},
		{"encoding ok", ScopePrimary, "url.encoding", nil, Pass, nil},
		{"encoding hash in password", ScopePrimary, "url.encoding", func(in *Input) { in.Primary.URL = "postgres://connect:pa#ss@db.example.com/connect" }, Fail, []string{"Postgres.Password"}},
		{"inline password", ScopePrimary, "url.inline-password", func(in *Input) { in.Primary.URL = "postgres://connect:pw@db.example.com/connect" }, Warn, []string{"[Postgres] Password = <encrypted value>"}},
		{"no inline password", ScopePrimary, "url.inline-password", nil, Pass, nil},
		{"two passwords", ScopePrimary, "url.password-conflict", func(in *Input) {
			in.Primary.URL = "postgres://connect:pw@db.example.com/connect"
			in.Primary.Password = "other"
		}, Warn, []string{"both"}},
		{"one password", ScopePrimary, "url.password-conflict", func(in *Input) { in.Primary.Password = "pw" }, Pass, nil},
		{"plain Password", ScopePrimary, "secret.password", func(in *Input) { in.Primary.Password = "hunter2" }, Warn, []string{"plain text"}},
		{"encrypted no key", ScopePrimary, "secret.password", func(in *Input) {
			in.Primary.Password = "lSrfWpPGtbb8Yl2bmUIlR5KbSuF61BY7Y6f2QLkM+pJ9LNWSvXAmdonq0KYZJ9s="
		}, Warn, []string{"--secret-key"}}, // connectdb's limit, not Connect's: the missing key is an input error (exit 2) when it connects
		{"long alphanumeric password, no key", ScopePrimary, "secret.password", func(in *Input) {
			in.Primary.Password = "Q7hLk2PzX9aVbN4mR8sT1uW6yC3dE5fG0jH2kL4nP6qS8tV0xZ2bD4fH6jK8mN0p"
		}, Warn, []string{"could be a long plain-text password", "takes it as plain text"}},
		{"long alphanumeric password, key", ScopePrimary, "secret.password", func(in *Input) {
			in.Primary.Password = "Q7hLk2PzX9aVbN4mR8sT1uW6yC3dE5fG0jH2kL4nP6qS8tV0xZ2bD4fH6jK8mN0p"
			in.Decrypt = func(string, string) (string, error) { return "", errors.New("wrong key") }
		}, Warn, []string{"plain text in the config file (it does not decrypt"}},
		{"placeholder", ScopePrimary, "url.placeholder", func(in *Input) { in.Primary.URL = "postgres://connect:{$}@db.example.com/connect" }, Fail, []string{"{$}", "1.8.2", "rscadmin encrypt-config-value"}},
		{"placeholder encoded", ScopePrimary, "url.placeholder", func(in *Input) { in.Primary.URL = "postgres://connect:%7b%24%7d@db.example.com/connect" }, Fail, []string{"{$}"}},
		{"encrypted no key offline", ScopePrimary, "secret.password", func(in *Input) {
			in.Primary.Password = "lSrfWpPGtbb8Yl2bmUIlR5KbSuF61BY7Y6f2QLkM+pJ9LNWSvXAmdonq0KYZJ9s="
			in.Offline = true
		}, Warn, []string{"--secret-key"}},
		{"encrypted wrong key", ScopePrimary, "secret.password", func(in *Input) {
			in.Primary.Password = "lSrfWpPGtbb8Yl2bmUIlR5KbSuF61BY7Y6f2QLkM+pJ9LNWSvXAmdonq0KYZJ9s="
			in.Decrypt = func(string, string) (string, error) { return "", errors.New("wrong key") }
		}, Fail, []string{"does not decrypt"}},
		{"encrypted decrypts", ScopePrimary, "secret.password", func(in *Input) {
			in.Primary.Password = "lSrfWpPGtbb8Yl2bmUIlR5KbSuF61BY7Y6f2QLkM+pJ9LNWSvXAmdonq0KYZJ9s="
			in.Decrypt = func(string, string) (string, error) { return "hunter2", nil }
		}, Pass, nil},
		{"sslmode disable remote", ScopePrimary, "url.sslmode", func(in *Input) { in.Primary.URL = "postgres://connect@db.example.com/connect?sslmode=disable" }, Warn, []string{"in clear"}},
		{"sslmode disable loopback", ScopePrimary, "url.sslmode", func(in *Input) { in.Primary.URL = "postgres://connect@127.0.0.1/connect?sslmode=disable" }, Pass, nil},
		{"sslmode default", ScopePrimary, "url.sslmode", func(in *Input) { in.Primary.URL = "postgres://connect@db.example.com/connect" }, Pass, []string{"requires SSL"}},
		{"rds without sslmode", ScopePrimary, "url.hosted-ssl", func(in *Input) { in.Primary.URL = "postgres://connect@a.b.us-east-1.rds.amazonaws.com/connect" }, Warn, []string{"AWS RDS", "sslmode=require"}},
		{"azure prefer", ScopePrimary, "url.hosted-ssl", func(in *Input) {
			in.Primary.URL = "postgres://connect@a.postgres.database.azure.com/connect?sslmode=prefer"
		}, Warn, []string{"Azure"}},
		{"cosmos require", ScopePrimary, "url.hosted-ssl", func(in *Input) {
			in.Primary.URL = "postgres://connect@c.postgres.cosmos.azure.com/connect?sslmode=require"
		}, Pass, nil},
		{"not hosted", ScopePrimary, "url.hosted-ssl", nil, Skip, nil},
		{"missing cert file", ScopePrimary, "url.ssl-files", func(in *Input) {
			in.Primary.URL = "postgres://connect@db.example.com/connect?sslcert=" + filepath.Join(dir, "nope.crt") + "&sslkey=" + filepath.Join(dir, "nope.key")
		}, Fail, []string{"cannot be found"}},
		{"cert without key", ScopePrimary, "url.ssl-files", func(in *Input) { in.Primary.URL = "postgres://connect@db.example.com/connect?sslcert=/etc/hostname" }, Fail, []string{"both"}},
		{"search path ok", ScopePrimary, "url.search-path", func(in *Input) { in.Primary.URL = good + "&options=-csearch_path=connect_schema" }, Pass, []string{"connect_schema"}},
		{"search path no -c", ScopePrimary, "url.search-path", func(in *Input) { in.Primary.URL = good + "&options=search_path%3Dconnect_schema" }, Fail, []string{"-c"}},
		{"search path empty", ScopePrimary, "url.search-path", func(in *Input) { in.Primary.URL = good + "&options=-csearch_path=" }, Fail, []string{"empty"}},
		{"search path upper", ScopePrimary, "url.search-path", func(in *Input) { in.Primary.URL = good + "&options=-csearch_path=Connect" }, Warn, []string{"folds"}},
		{"search path list", ScopePrimary, "url.search-path", func(in *Input) { in.Primary.URL = good + "&options=-csearch_path=a,b" }, Warn, []string{"several"}},
		{"migration file", ScopeConfig, "config.migration-file", func(in *Input) { in.MigrationFile = "/etc/rstudio-connect/rstudio-connect-migration.gcfg" }, Warn, []string{"read-only", "rscadmin encrypt-config-value"}},
		{"no migration file", ScopeConfig, "config.migration-file", nil, Skip, nil},
		{"env file lines ignored", ScopeConfig, "config.environment", func(in *Input) {
			in.EnvWarnings = []string{"/etc/default/rstudio-connect:4: ignored: not a valid variable name"}
		}, Warn, []string{"rstudio-connect:4"}},
		{"overrides listed", ScopeConfig, "config.environment", func(in *Input) { in.Overrides = []string{"Postgres.Password from CONNECT_POSTGRES_PASSWORD"} }, Pass, []string{"Postgres.Password from CONNECT_POSTGRES_PASSWORD"}},
		{"password from the environment is not nagged", ScopePrimary, "secret.password", func(in *Input) {
			in.Primary.Password = "hunter2"
			in.Where = func(string) string { return "CONNECT_POSTGRES_PASSWORD" }
		}, Pass, []string{"plain text from the environment"}},
		{"instrumentation has the same checks", ScopeInstrumentation, "url.inline-password", func(in *Input) {
			in.Instrumentation = &URLInput{Scope: ScopeInstrumentation, URL: "postgres://m:pw@db.example.com/metrics"}
		}, Warn, []string{"Postgres.InstrumentationURL", "[Postgres] InstrumentationPassword"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput(good)
			if tc.mod != nil {
				tc.mod(in)
			}
			wantStatus(t, offline(t, in), tc.scope, tc.id, tc.want, tc.substr...)
		})
	}
}

func TestOfflineSkipsLiveWithReason(t *testing.T) {
	rep := offline(t, baseInput("postgres://connect@db.example.com/connect"))
	r := wantStatus(t, rep, ScopePrimary, "pg.connect", Skip, "--offline")
	_ = r
	if rep.Unreachable() || rep.ExitCode(false) != 0 {
		t.Fatalf("offline run exit %d", rep.ExitCode(false))
	}
}

func TestEncodingFailureBlocksConnect(t *testing.T) {
	in := baseInput("postgres://connect:pa#ss@db.example.com/connect")
	rep, err := Run(t.Context(), Options{Input: in})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, rep, ScopePrimary, "url.encoding", Fail)
	if c := rep.Counts(); c[Fail] != 1 {
		t.Errorf("one root cause, %d failures", c[Fail])
	}
}

func TestClientCertOffline(t *testing.T) {
	now := time.Now()
	cert, key, root := srv.ClientCert(t, "connect", now.Add(-time.Hour), now.Add(365*24*time.Hour))
	url := "postgres://connect@db.example.com/connect?sslmode=verify-full&sslcert=" + cert + "&sslkey=" + key + "&sslrootcert=" + root
	in := baseInput(url)
	in.Now = now.Add(400 * 24 * time.Hour) // the clock moves past expiry
	wantStatus(t, offline(t, in), ScopePrimary, "url.client-cert", Fail, "expired")
	in = baseInput(url)
	rep := offline(t, in)
	wantStatus(t, rep, ScopePrimary, "url.client-cert", Pass)
	wantStatus(t, rep, ScopePrimary, "url.cert-user", Pass)
	in.Primary.URL = strings.Replace(url, "connect@", "other@", 1)
	wantStatus(t, offline(t, in), ScopePrimary, "url.cert-user", Warn, "pg_ident.conf")
}

func TestSelect(t *testing.T) {
	sel, unknown := Select([]string{"pg.*", "url.parse"}, []string{"pg.latency"})
	if len(unknown) != 0 || !sel["pg.version"] || !sel["url.parse"] || sel["pg.latency"] || sel["url.encoding"] {
		t.Fatalf("select %v unknown %v", sel, unknown)
	}
	if _, unknown := Select([]string{"nope"}, nil); len(unknown) != 1 {
		t.Fatal("unknown ID accepted")
	}
}

func TestOnlyShowsConnectWithLiveChecks(t *testing.T) {
	sel, _ := Select([]string{"pg.privileges"}, nil)
	in := baseInput("postgres://connect:pw@127.0.0.1:1/connect?sslmode=disable")
	rep := liveRunInput(t, in, func(o *Options) { o.Selected = sel })
	r := wantStatus(t, rep, ScopePrimary, "pg.connect", Fail)
	if r.Cause == "" || len(rep.Results) != 2 || rep.ExitCode(false) != 3 {
		t.Fatalf("results %+v", rep.Results)
	}
}

func TestOnlyOfflineChecksDoNotConnect(t *testing.T) {
	sel, _ := Select([]string{"url.*"}, nil)
	in := baseInput("postgres://connect@db.invalid/connect")
	rep, err := Run(t.Context(), Options{Input: in, Selected: sel})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if !strings.HasPrefix(r.ID, "url.") {
			t.Errorf("unselected %s ran", r.ID)
		}
	}
}

func TestRegistryIDsUniqueAndDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Registry() {
		if seen[c.ID] {
			t.Errorf("duplicate %s", c.ID)
		}
		seen[c.ID] = true
		if c.Title == "" || c.Verifies == "" {
			t.Errorf("%s lacks title or description", c.ID)
		}
	}
}

func TestCutValueCheck(t *testing.T) {
	cutPassword := config.CutValue{Path: "rstudio-connect.gcfg", Line: 7, Key: "Postgres.Password", Read: 4, Column: 16, Secret: true}
	cutDir := config.CutValue{Path: "rstudio-connect.gcfg", Line: 7, Key: "Server.DataDir", Read: 5, Column: 16, Quoted: `"/data#x"`}
	in := baseInput("postgres://connect@db.example.com/connect")
	in.CutValues = []config.CutValue{cutPassword, cutDir}
	r := wantStatus(t, offline(t, in), ScopeConfig, "config.inline-comment", Fail,
		"rstudio-connect.gcfg:7: the unquoted value of Postgres.Password is cut at column 16", "first 4 characters",
		`On line 7 write Password = "<the whole value`, `On line 7 write DataDir = "/data#x"`)
	if r.Consequence != BlocksStart {
		t.Errorf("consequence %s", r.Consequence)
	}
	// A later assignment (or an override) wins: the cut value is not used.
	in = baseInput("postgres://connect@db.example.com/connect")
	in.CutValues = []config.CutValue{cutPassword}
	in.Where = func(string) string { return "CONNECT_POSTGRES_PASSWORD" }
	r = wantStatus(t, offline(t, in), ScopeConfig, "config.inline-comment", Fail, "CONNECT_POSTGRES_PASSWORD sets Postgres.Password again and wins")
	if r.Consequence != Hygiene {
		t.Errorf("overridden: consequence %s", r.Consequence)
	}
	// On SQLite, a cut Postgres password stops nothing.
	in = baseInput("postgres://connect@db.example.com/connect")
	in.Provider, in.CutValues = "sqlite", []config.CutValue{cutPassword}
	rep := offline(t, in)
	if r := wantStatus(t, rep, ScopeConfig, "config.inline-comment", Fail); r.Consequence != Hygiene {
		t.Errorf("sqlite: consequence %s", r.Consequence)
	}
	if v := rep.Verdict(false); !strings.Contains(v.Summary, "Connect runs, on SQLite") {
		t.Errorf("sqlite verdict %q", v.Summary)
	}
}
