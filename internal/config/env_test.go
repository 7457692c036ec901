package config

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{
		"Postgres.Password":                "CONNECT_POSTGRES_PASSWORD",
		"Postgres.InstrumentationPassword": "CONNECT_POSTGRES_INSTRUMENTATIONPASSWORD",
		"Server.EncryptionKey":             "CONNECT_SERVER_ENCRYPTIONKEY",
		"Database.MaxOpenConnections":      "CONNECT_DATABASE_MAXOPENCONNECTIONS",
		"SQLite.Dir":                       "CONNECT_SQLITE_DIR",
	} {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%s) = %s, want %s", key, got, want)
		}
	}
	if n := len(EnvNames()); n != len(readKeys) {
		t.Errorf("EnvNames has %d names for %d settings", n, len(readKeys))
	}
}

// TestEnvOverridesEveryReadSetting sets every CONNECT_* override over a
// file that sets every setting, and checks that each wins and says so.
func TestEnvOverridesEveryReadSetting(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeFile(t, dir, "rstudio-connect.gcfg", `[Server]
DataDir = /file/data
EncryptionKeyFile = /file/key
EncryptionKey = file-key
[Database]
Provider = sqlite
MaxIdleConnections = 1
MaxOpenConnections = 2
ConnectionMaxLifetime = 1s
[Postgres]
URL = postgres://file@h/db
Password = file-pw
InstrumentationURL = postgres://file@h/i
InstrumentationPassword = file-ipw
AzureTenantId = file-t
AzureClientId = file-c
AzureClientSecret = file-s
[SQLite]
Dir = /file/sqlite
`)
	env := map[string]string{
		"CONNECT_SERVER_DATADIR":                   "/env/data",
		"CONNECT_SERVER_ENCRYPTIONKEYFILE":         "/env/key",
		"CONNECT_SERVER_ENCRYPTIONKEY":             "env-key",
		"CONNECT_DATABASE_PROVIDER":                "Postgres",
		"CONNECT_DATABASE_MAXIDLECONNECTIONS":      "3",
		"CONNECT_DATABASE_MAXOPENCONNECTIONS":      "4",
		"CONNECT_DATABASE_CONNECTIONMAXLIFETIME":   "2m",
		"CONNECT_POSTGRES_URL":                     "postgres://env@h/db",
		"CONNECT_POSTGRES_PASSWORD":                "env-pw",
		"CONNECT_POSTGRES_INSTRUMENTATIONURL":      "postgres://env@h/i",
		"CONNECT_POSTGRES_INSTRUMENTATIONPASSWORD": "env-ipw",
		"CONNECT_POSTGRES_AZURETENANTID":           "env-t",
		"CONNECT_POSTGRES_AZURECLIENTID":           "env-c",
		"CONNECT_POSTGRES_AZURECLIENTSECRET":       "env-s",
		"CONNECT_SQLITE_DIR":                       "/env/sqlite",
	}
	if len(env) != len(readKeys) {
		t.Fatalf("the test sets %d overrides for %d settings", len(env), len(readKeys))
	}
	c, err := LoadOptions{Path: cfgPath, Getenv: mapEnv(env)}.Load()
	if err != nil {
		t.Fatal(err)
	}
	got := []any{c.Server.DataDir, c.Server.EncryptionKeyFile, c.Server.EncryptionKey, c.Database.Provider,
		c.Database.MaxIdleConnections, c.Database.MaxOpenConnections, c.Database.ConnectionMaxLifetime,
		c.Postgres.URL, c.Postgres.Password, c.Postgres.InstrumentationURL, c.Postgres.InstrumentationPassword,
		c.Postgres.AzureTenantId, c.Postgres.AzureClientId, c.Postgres.AzureClientSecret, c.SQLite.Dir}
	want := []any{"/env/data", "/env/key", "env-key", "postgres", 3, 4, 2 * time.Minute,
		"postgres://env@h/db", "env-pw", "postgres://env@h/i", "env-ipw", "env-t", "env-c", "env-s", "/env/sqlite"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s = %v, want %v", readKeys[i], got[i], want[i])
		}
	}
	for _, k := range readKeys {
		if w := c.Where(k); w != EnvName(k) {
			t.Errorf("Where(%s) = %q, want %q", k, w, EnvName(k))
		}
		if !c.IsSet(k) || c.Line(k) == 0 {
			t.Errorf("%s: IsSet %v, Line %d: the file line must stay known", k, c.IsSet(k), c.Line(k))
		}
	}
	// Without the environment, the file's values and lines are used.
	c, err = LoadOptions{Path: cfgPath}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Postgres.Password != "file-pw" || c.Where("Postgres.Password") != cfgPath+":12" {
		t.Errorf("file only: %q from %s", c.Postgres.Password, c.Where("Postgres.Password"))
	}
}

func TestEnvOverridesDefaults(t *testing.T) {
	// DataDir from the environment moves the default SQLite.Dir too.
	c, err := LoadOptions{Getenv: mapEnv(map[string]string{"CONNECT_SERVER_DATADIR": "/data", "CONNECT_POSTGRES_PASSWORD": "pw"})}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.SQLite.Dir != "/data/db" || c.Postgres.Password != "pw" || c.Path != "" {
		t.Errorf("got %+v", c)
	}
	if o := c.Origin("Postgres.Password"); o.Kind != FromEnv || o.String() != "CONNECT_POSTGRES_PASSWORD" {
		t.Errorf("origin %+v", o)
	}
	if o := c.Origin("Postgres.URL"); o.Kind != FromDefault || o.String() != "Connect's default" {
		t.Errorf("unset origin %+v %q", o, o)
	}
}

func TestEnvBadValueNamesTheVariable(t *testing.T) {
	dir := t.TempDir()
	ef := writeFile(t, dir, "connect.env", "# Connect\nCONNECT_DATABASE_MAXOPENCONNECTIONS=ten\n")
	_, err := LoadOptions{EnvFile: ef}.Load()
	if err == nil || !strings.HasPrefix(err.Error(), "--env-file "+ef+":2: invalid integer \"ten\" for Database.MaxOpenConnections") {
		t.Errorf("err = %v", err)
	}
	_, err = LoadOptions{Getenv: mapEnv(map[string]string{"CONNECT_DATABASE_PROVIDER": "mysql"})}.Load()
	if err == nil || !strings.HasPrefix(err.Error(), "CONNECT_DATABASE_PROVIDER: unknown Database.Provider") {
		t.Errorf("err = %v", err)
	}
}

func TestEnvFileWinsOverProcessEnv(t *testing.T) {
	dir := t.TempDir()
	ef := writeFile(t, dir, "rstudio-connect", "\n\nCONNECT_POSTGRES_PASSWORD=from-file\n")
	c, err := LoadOptions{EnvFile: ef, Getenv: mapEnv(map[string]string{"CONNECT_POSTGRES_PASSWORD": "from-shell", "CONNECT_POSTGRES_URL": "postgres://u@h/d"})}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Postgres.Password != "from-file" || c.Where("Postgres.Password") != "--env-file "+ef+":3" {
		t.Errorf("password %q from %s", c.Postgres.Password, c.Where("Postgres.Password"))
	}
	if c.Postgres.URL != "postgres://u@h/d" || c.Where("Postgres.URL") != "CONNECT_POSTGRES_URL" {
		t.Errorf("URL %q from %s", c.Postgres.URL, c.Where("Postgres.URL"))
	}
}

func TestParseEnvFile(t *testing.T) {
	src := "# comment\n" +
		"; also a comment\n" +
		"  A = plain value  \n" +
		"B=\"double \\\"quoted\\\" \\$HOME \\n\"\n" +
		"C='single \\ quoted # not a comment'\n" +
		"D=inline # is part of the value\n" +
		"E=\"multi\\\nline\"\n" +
		"F=cont\\\ninued\n" +
		"G=\n" +
		"not an assignment\n" +
		"1BAD=x\n" +
		"H=a\"b c\"d'e f'\r\n" +
		"# comment ends with backslash \\\n" +
		"I=after the comment\n" +
		"J=esc\\aped\n" +
		"A=second wins\n"
	ef := ParseEnvFile("/etc/default/rstudio-connect", []byte(src))
	want := []EnvVar{
		{"A", "plain value", 3},
		{"B", `double "quoted" $HOME \n`, 4},
		{"C", `single \ quoted # not a comment`, 5},
		{"D", "inline # is part of the value", 6},
		{"E", "multiline", 7},
		{"F", "continued", 9},
		{"G", "", 11},
		{"H", `a"b c"d'e f'`, 14}, // quotes count only at the start of a value
		{"I", "after the comment", 16},
		{"J", "escaped", 17},
		{"A", "second wins", 18},
	}
	if fmt.Sprint(ef.Vars) != fmt.Sprint(want) {
		t.Errorf("vars\n got %v\nwant %v", ef.Vars, want)
	}
	if v, _ := ef.Lookup("A"); v.Value != "second wins" {
		t.Errorf("Lookup(A) = %+v", v)
	}
	wantWarn := []string{
		"/etc/default/rstudio-connect:12: ignored: no \"=\" on the line",
		"/etc/default/rstudio-connect:13: ignored: not a valid variable name",
	}
	if fmt.Sprint(ef.Warnings) != fmt.Sprint(wantWarn) {
		t.Errorf("warnings\n got %q\nwant %q", ef.Warnings, wantWarn)
	}
}

// TestParseEnvFileKubectlEnv reads what `kubectl exec … env` prints.
func TestParseEnvFileKubectlEnv(t *testing.T) {
	src := "PATH=/usr/local/sbin:/usr/local/bin\nHOSTNAME=connect-0\nCONNECT_POSTGRES_PASSWORD=Zx9-a=b;c#d\nKUBERNETES_PORT=tcp://10.0.0.1:443\n"
	ef := ParseEnvFile("env.txt", []byte(src))
	if v, ok := ef.Lookup("CONNECT_POSTGRES_PASSWORD"); !ok || v.Value != "Zx9-a=b;c#d" || v.Line != 3 {
		t.Errorf("got %+v %v", v, ok)
	}
}

func FuzzParseEnvFile(f *testing.F) {
	f.Add([]byte("A=b\n'\"\\\n#x\\\nB='c\n"))
	f.Add([]byte("K=\"v\\\"\" tail\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ef := ParseEnvFile("f", data)
		lines := strings.Count(string(data), "\n") + 1
		for _, v := range ef.Vars {
			if !validEnvName(v.Name) || v.Line < 1 || v.Line > lines {
				t.Fatalf("bad var %+v (file has %d lines)", v, lines)
			}
		}
		for _, w := range ef.Warnings {
			if strings.Contains(w, "\n") {
				t.Fatalf("multi-line warning %q", w)
			}
		}
	})
}

func TestCutValues(t *testing.T) {
	src := `[Server]
DataDir = /data#main
; Docker image style comments are meant:
ServiceLogFormat = TEXT    ; TEXT or JSON
[Database]
Provider = postgres   # the database
[Postgres]
Password = p@ss#word
URL = postgres://connect@db/connect?sslmode=require;x
InstrumentationPassword = "quoted#is;fine"
[HTTP]
Listen = :3939#ignored
`
	c, err := Parse("rstudio-connect.gcfg", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.Postgres.Password != "p@ss" || c.Server.DataDir != "/data" || c.Database.Provider != "postgres" {
		t.Fatalf("gcfg should cut: %q %q", c.Postgres.Password, c.Server.DataDir)
	}
	want := []CutValue{
		{Path: "rstudio-connect.gcfg", Line: 2, Key: "Server.DataDir", Read: 5, Column: 16, Quoted: `"/data#main"`},
		{Path: "rstudio-connect.gcfg", Line: 8, Key: "Postgres.Password", Read: 4, Column: 16, Secret: true},
		{Path: "rstudio-connect.gcfg", Line: 9, Key: "Postgres.URL", Read: 45, Column: 52, Secret: true},
	}
	if fmt.Sprint(c.CutValues) != fmt.Sprint(want) {
		t.Errorf("cut values\n got %+v\nwant %+v", c.CutValues, want)
	}
	for _, out := range []string{fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(out, "#word") {
			t.Errorf("the cut-off part of a password is printed: %s", out)
		}
	}
}

func TestConfigFileLimits(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.gcfg")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := Load(fifo, nil); done <- err }()
	// A FIFO with no writer would block an open(2) forever: Load must
	// refuse it without opening it. The test waits for the answer only.
	if err := <-done; err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("FIFO: %v", err)
	}
	if c, err := Load(os.DevNull, nil); err != nil || c.Database.Provider != "sqlite" {
		t.Errorf("/dev/null is an empty config: %v", err)
	}
	for _, dev := range []string{"/dev/zero", "/dev/urandom"} {
		if _, err := Load(dev, nil); err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), "--config") {
			t.Errorf("%s: %v", dev, err)
		}
	}
	big := filepath.Join(dir, "big.gcfg")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxFileSize+1); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big, nil); err == nil || !strings.Contains(err.Error(), "16 MiB") {
		t.Errorf("big file: %v", err)
	}
	// Standard input has no size: it is read up to the cap.
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer zero.Close()
	if _, err := Load("-", zero); err == nil || !strings.Contains(err.Error(), "larger than the 16 MiB") {
		t.Errorf("stdin from /dev/zero: %v", err)
	}
	if _, err := (LoadOptions{EnvFile: "/dev/zero"}).Load(); err == nil || !strings.Contains(err.Error(), "--env-file") {
		t.Errorf("env file /dev/zero: %v", err)
	}
	if _, err := (LoadOptions{EnvFile: filepath.Join(dir, "none")}).Load(); err == nil || !strings.Contains(err.Error(), "environment file") {
		t.Errorf("missing env file: %v", err)
	}
}

// TestPasswordFileAsConfig: --config pointed at a password file by mistake
// must not show the password in the error.
func TestPasswordFileAsConfig(t *testing.T) {
	for _, pw := range []string{"hunter2", "S3cr3t-P@ss", "p@ss word", "[oops", "zyxw\tvuts = rqpo", "Zm9vYmFy+/=", "x=1", "ünïcode", "\x00bin"} {
		_, err := Parse("pw.txt", strings.NewReader(pw+"\n"))
		if err == nil {
			continue // some strings are valid gcfg; nothing is printed then
		}
		for _, tok := range strings.FieldsFunc(pw, func(r rune) bool { return strings.ContainsRune(" \t=[\x00", r) }) {
			if len(tok) >= 4 && strings.Contains(err.Error(), tok) {
				t.Errorf("error for %q shows %q: %v", pw, tok, err)
			}
		}
	}
}

func TestRootMapsConnectPaths(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/rstudio-connect/rstudio-connect.gcfg", "[Database]\nProvider = postgres\n")
	c, err := LoadOptions{Path: DefaultPath, Root: root}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != DefaultPath || c.Where("Database.Provider") != DefaultPath+":2" {
		t.Errorf("messages must show Connect's path: %q %q", c.Path, c.Where("Database.Provider"))
	}
	if got := c.HostPath("/var/lib/rstudio-connect/db/secret.key"); got != filepath.Join(root, "var/lib/rstudio-connect/db/secret.key") {
		t.Errorf("HostPath = %s", got)
	}
	_, err = LoadOptions{Path: "/etc/none.gcfg", Root: root}.Load()
	if err == nil || strings.Contains(err.Error(), root) || !strings.Contains(err.Error(), "/etc/none.gcfg") {
		t.Errorf("missing file under root: %v", err)
	}
}

func TestEnvSecretsNeverPrinted(t *testing.T) {
	const sentinel = "EnvS3ntinel"
	dir := t.TempDir()
	ef := writeFile(t, dir, "env", "CONNECT_SERVER_ENCRYPTIONKEY="+sentinel+"\nCONNECT_POSTGRES_INSTRUMENTATIONPASSWORD='"+sentinel+"'\n")
	c, err := LoadOptions{EnvFile: ef, Getenv: mapEnv(map[string]string{
		"CONNECT_POSTGRES_PASSWORD": sentinel, "CONNECT_POSTGRES_URL": "postgres://u:" + sentinel + "@h/d",
		"CONNECT_POSTGRES_AZURECLIENTSECRET": sentinel,
	})}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.EncryptionKey != sentinel || c.Postgres.InstrumentationPassword != sentinel {
		t.Fatal("values not read")
	}
	j, _ := json.Marshal(c)
	for _, out := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), string(j), c.Server.String(), fmt.Sprint(c.Server)} {
		if strings.Contains(out, sentinel) {
			t.Errorf("leaks: %s", out)
		}
	}
	for _, k := range readKeys {
		if strings.Contains(c.Where(k), sentinel) {
			t.Errorf("Where(%s) leaks", k)
		}
	}
}

// TestCutValueProperty: for random values written unquoted, gcfg's value
// and CutValues agree: a value is reported cut exactly when a # or ; is
// glued to what gcfg kept, and then quoting the whole value reads it back.
func TestCutValueProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	alphabet := "abcXYZ019@!/:?=&%#; "
	for i := 0; i < 2000; i++ {
		b := make([]byte, 1+rng.Intn(20))
		for j := range b {
			b[j] = alphabet[rng.Intn(len(alphabet))]
		}
		v := strings.TrimSpace(string(b))
		if v == "" || v[0] == '#' || v[0] == ';' {
			continue
		}
		c, err := Parse("t.gcfg", strings.NewReader("[Server]\nDataDir = "+v+"\n"))
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		kept := c.Server.DataDir
		cutIdx := strings.IndexAny(v, "#;")
		glued := cutIdx > 0 && v[cutIdx-1] != ' '
		if got := len(c.CutValues) == 1; got != glued {
			t.Fatalf("%q: kept %q, CutValues %+v, want cut=%v", v, kept, c.CutValues, glued)
		}
		if glued {
			q, err := Parse("t.gcfg", strings.NewReader("[Server]\nDataDir = "+c.CutValues[0].Quoted+"\n"))
			if err != nil || q.Server.DataDir != v || len(q.CutValues) != 0 {
				t.Fatalf("%q: the quoted form %s reads %q (%v)", v, c.CutValues[0].Quoted, q.Server.DataDir, err)
			}
		}
	}
}

// TestStdinBoundedByTimeout: --config - on a pipe that nobody writes to
// ends with an error after --timeout instead of hanging.
func TestStdinBoundedByTimeout(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer r.Close()
	_, err = LoadOptions{Path: "-", Stdin: r, Timeout: 50 * time.Millisecond}.Load()
	if err == nil || !strings.Contains(err.Error(), "did not arrive on standard input within 50ms") {
		t.Errorf("err = %v", err)
	}
	// A config that does arrive is read.
	c, err := LoadOptions{Path: "-", Stdin: strings.NewReader("[Database]\nProvider = postgres\n"), Timeout: time.Hour}.Load()
	if err != nil || c.Database.Provider != "postgres" || c.Path != "<stdin>" {
		t.Errorf("got %v, %v", c, err)
	}
}

// BenchmarkLoadWithOverrides: the realistic config plus a --env-file the
// size of a `kubectl exec … env` dump and every CONNECT_* override.
func BenchmarkLoadWithOverrides(b *testing.B) {
	dir := b.TempDir()
	var env strings.Builder
	for i := range 200 {
		fmt.Fprintf(&env, "KUBERNETES_VAR_%d=value-%d\n", i, i)
	}
	env.WriteString("CONNECT_POSTGRES_PASSWORD=\"s3cret # not a comment\"\n")
	ef := filepath.Join(dir, "env")
	if err := os.WriteFile(ef, []byte(env.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	proc := map[string]string{"CONNECT_DATABASE_MAXOPENCONNECTIONS": "40", "CONNECT_SERVER_DATADIR": "/data"}
	opts := LoadOptions{Path: "testdata/rstudio-connect.gcfg", EnvFile: ef, Getenv: mapEnv(proc)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := opts.Load(); err != nil {
			b.Fatal(err)
		}
	}
}
