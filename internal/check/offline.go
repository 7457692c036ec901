package check

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/connectdb/connectdb/internal/azure"
	"github.com/connectdb/connectdb/internal/config"
	"github.com/connectdb/connectdb/internal/secrets"
)

func configChecks() []Check {
	return []Check{
		{ID: "config.provider", Title: "Database provider is postgres", Kind: Config, config: checkProvider,
			Verifies: "Database.Provider is postgres; with sqlite, points to Connect's migrate utility."},
		{ID: "pool.max-open", Title: "Open connections are bounded", Kind: Config, config: checkMaxOpen,
			Verifies: "Database.MaxOpenConnections is positive (zero or less means unlimited)."},
		{ID: "pool.max-idle", Title: "Idle connections make sense", Kind: Config, config: checkMaxIdle,
			Verifies: "Database.MaxIdleConnections is not above MaxOpenConnections (no effect) and not zero or less unless --pooler session is declared."},
		{ID: "pool.pooler", Title: "Pooler mode suits Connect", Kind: Config, config: checkPooler,
			Verifies: "A declared --pooler is session mode: a transaction-mode pooler breaks session-level advisory locks such as Connect's upgrade lock."},
		{ID: "pool.max-lifetime", Title: "Connection lifetime parses", Kind: Config, config: checkMaxLifetime,
			Verifies: "Database.ConnectionMaxLifetime is a duration such as 60s or a whole number of nanoseconds."},
		{ID: "azure.principal", Title: "Azure service principal complete", Kind: Config, config: checkAzure,
			Verifies: "AzureTenantId, AzureClientId and AzureClientSecret are all set or none, not mixed with Password, the secret decrypts, and the instrumentation URL uses the same principal."},
		{ID: "secret.key", Title: "Secret key found and private", Kind: Config, config: checkSecretKey,
			Verifies: "Connect's secret key is found where Connect looks (--secret-key, Server.EncryptionKeyFile, Server.EncryptionKey, {Server.DataDir}/db/secret.key), not set twice, and not readable by group or others."},
		{ID: "config.inline-comment", Title: "No value cut by a comment", Kind: Config, config: checkCutValues,
			Verifies: "No unquoted value of a setting connectdb reads is cut short by a # or ; written right after it."},
		{ID: "config.migration-file", Title: "No leftover migration config", Kind: Config, config: checkMigrationFile,
			Verifies: "rstudio-connect-migration.gcfg beside the config holds no settings (later Connect releases refuse them)."},
		{ID: "config.environment", Title: "Environment overrides", Kind: Config, config: checkEnvironment,
			Verifies: "Lists Connect's CONNECT_* overrides in effect (from the environment or --env-file) and the --env-file lines that were ignored."},
	}
}

func urlChecks() []Check {
	return []Check{
		{ID: "url.placeholder", Title: "No {$} password placeholder", Kind: URL, url: checkPlaceholder,
			Verifies: "The URL does not hold the {$} password placeholder, which Connect no longer supports (since 1.8.2)."},
		{ID: "url.parse", Title: "URL is a PostgreSQL URL", Kind: URL, url: checkParse, Needs: []string{"url.placeholder"},
			Verifies: "The URL is set, parses, and its scheme is postgres or postgresql."},
		{ID: "url.encoding", Title: "Credentials are percent-encoded", Kind: URL, url: checkEncoding, Needs: []string{"url.parse"},
			Verifies: "Special characters in the user name and password are percent-encoded (RFC 3986 section 3.2.1)."},
		{ID: "url.inline-password", Title: "No password inside the URL", Kind: URL, url: checkInlinePassword, Needs: []string{"url.parse", "url.encoding"},
			Verifies: "The URL carries no password; use the encrypted Postgres.Password instead."},
		{ID: "url.password-conflict", Title: "One password source", Kind: URL, url: checkPasswordConflict, Needs: []string{"url.parse", "url.encoding"},
			Verifies: "The password is not given both inside the URL and as a separate Password setting."},
		{ID: "secret.password", Title: "Encrypted password resolves", Kind: URL, url: checkSecretPassword,
			Verifies: "Password or InstrumentationPassword decrypts with Connect's secret key when it is ciphertext; a plain-text one in the file is flagged, and a long letters-and-digits one without a key is taken as plain text."},
		{ID: "url.sslmode", Title: "Credentials are not sent in clear", Kind: URL, url: checkSSLMode, Needs: []string{"url.parse", "url.encoding"},
			Verifies: "sslmode=disable (or allow/prefer) is not used towards a non-loopback host."},
		{ID: "url.hosted-ssl", Title: "Hosted database uses SSL", Kind: URL, url: checkHostedSSL, Needs: []string{"url.parse", "url.encoding"},
			Verifies: "Hosted services (AWS RDS, Azure, Google Cloud SQL and others) are reached with sslmode=require or stronger."},
		{ID: "url.ssl-files", Title: "SSL files readable", Kind: URL, url: checkSSLFiles, Needs: []string{"url.parse", "url.encoding"},
			Verifies: "sslcert, sslkey and sslrootcert name readable files and the key is not readable by group or others."},
		{ID: "url.client-cert", Title: "Client certificate valid", Kind: URL, url: checkClientCert, Needs: []string{"url.ssl-files"},
			Verifies: "The client certificate has not expired (warns under 30 days), is already valid, and matches its key."},
		{ID: "url.cert-user", Title: "Certificate CN matches the user", Kind: URL, url: checkCertUser, Needs: []string{"url.client-cert"},
			Verifies: "The client certificate's CN equals the URL's user, or says that a pg_ident.conf map is needed."},
		{ID: "url.search-path", Title: "Schema option well-formed", Kind: URL, url: checkSearchPath, Needs: []string{"url.parse", "url.encoding"},
			Verifies: "options=-csearch_path=<schema> is written so PostgreSQL accepts it and names one schema."},
	}
}

// gcfgLine formats a config line to write, with where it is today.
func (in *Input) gcfgLine(section, name, value string) string {
	return fmt.Sprintf("[%s] %s = %s%s", section, name, value, in.at(section+"."+name))
}

func checkProvider(in *Input) Outcome {
	switch in.Provider {
	case "", "postgres":
		if in.ConfigPath == "" && !in.isSet("Database.Provider") {
			return pass("No config file: checking the PostgreSQL URL given on the command line.")
		}
		return pass("Database.Provider is postgres" + in.from("Database.Provider") + ".")
	case "sqlite":
		how := "Database.Provider is sqlite" + in.from("Database.Provider")
		if !in.isSet("Database.Provider") {
			how += " (the default when the [Database] section does not set it)"
		}
		return fail(how+", so Connect runs on SQLite and does not use PostgreSQL at all.",
			"Stop Connect, copy the data with Connect's migrate utility (/opt/rstudio-connect/bin/migrate, see 'connectdb migrate'), then write "+in.gcfgLine("Database", "Provider", "postgres")+".")
	}
	return fail("Database.Provider is "+strconv.Quote(in.Provider)+", which Connect does not know.", "Write "+in.gcfgLine("Database", "Provider", "postgres")+".")
}

func checkMaxOpen(in *Input) Outcome {
	if in.MaxOpenConnections <= 0 {
		return warn(fmt.Sprintf("Database.MaxOpenConnections is %d, which means no limit: a busy node can use up every connection slot of the server.", in.MaxOpenConnections),
			"Write "+in.gcfgLine("Database", "MaxOpenConnections", "10")+" (or a value sized with 'connectdb size-pool').")
	}
	return pass(fmt.Sprintf("Database.MaxOpenConnections is %d%s.", in.MaxOpenConnections, in.from("Database.MaxOpenConnections")))
}

func checkMaxIdle(in *Input) Outcome {
	idle, open := in.MaxIdleConnections, in.MaxOpenConnections
	switch {
	case idle <= 0 && in.Pooler == "session":
		return pass(fmt.Sprintf("Database.MaxIdleConnections is %d: each operation opens a new connection, which is intended behind the declared session-mode pooler.", idle))
	case idle <= 0:
		return warn(fmt.Sprintf("Database.MaxIdleConnections is %d: Connect opens and closes a connection for every database operation, which loads a directly connected PostgreSQL.", idle),
			"Write "+in.gcfgLine("Database", "MaxIdleConnections", "5")+", or pass --pooler session if a session-mode pooler such as PgBouncer sits in between and this is intended.")
	case open > 0 && idle > open:
		return warn(fmt.Sprintf("Database.MaxIdleConnections (%d) is above MaxOpenConnections (%d); idle connections are a subset of open ones, so the extra has no effect.", idle, open),
			"Write "+in.gcfgLine("Database", "MaxIdleConnections", strconv.Itoa(open))+", or raise MaxOpenConnections with it.")
	}
	return pass(fmt.Sprintf("Database.MaxIdleConnections is %d%s (MaxOpenConnections %d).", idle, in.from("Database.MaxIdleConnections"), open))
}

// parseDuration reads a Connect duration: Go syntax or whole nanoseconds.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n), nil
	}
	return time.ParseDuration(s)
}

func checkMaxLifetime(in *Input) Outcome {
	raw := in.ConnectionMaxLifetime
	if raw == "" {
		return pass("Database.ConnectionMaxLifetime is not set.")
	}
	d, err := parseDuration(raw)
	if err != nil {
		return fail("Database.ConnectionMaxLifetime "+strconv.Quote(raw)+" is not a duration.",
			"Write "+in.gcfgLine("Database", "ConnectionMaxLifetime", "60s")+" (Go durations such as 60s, 5m, 1h30m, or whole nanoseconds).")
	}
	if d <= 0 {
		return pass("Database.ConnectionMaxLifetime is " + raw + ": connections are reused without a time limit.")
	}
	return pass("Database.ConnectionMaxLifetime is " + d.String() + ".")
}

func checkAzure(in *Input) Outcome {
	pg := config.Postgres{AzureTenantId: in.AzureTenantID, AzureClientId: in.AzureClientID, AzureClientSecret: in.AzureClientSecret}
	if in.Primary != nil {
		pg.URL, pg.Password = in.Primary.URL, in.Primary.Password
	}
	if in.Instrumentation != nil {
		pg.InstrumentationURL, pg.InstrumentationPassword = in.Instrumentation.URL, in.Instrumentation.Password
	}
	if !azure.Configured(pg) {
		return notApplicable("Azure service principal authentication is not configured.")
	}
	var errs, warns []azure.Problem
	for _, p := range azure.Validate(pg) {
		if p.Severity == azure.SeverityError {
			errs = append(errs, p)
		} else {
			warns = append(warns, p)
		}
	}
	join := func(ps []azure.Problem) (msg, remedy string) {
		var ms, rs []string
		for _, p := range ps {
			ms = append(ms, p.Message)
			rs = append(rs, strings.TrimSuffix(p.Remedy, ".")+in.at(p.Setting)+".")
		}
		return strings.Join(ms, " "), strings.Join(rs, " ")
	}
	if len(errs) > 0 {
		return fail(join(errs))
	}
	if secrets.LooksEncrypted(in.AzureClientSecret) && in.Decrypt != nil {
		if _, err := in.Decrypt(azure.SettingClientSecret, in.AzureClientSecret); err != nil {
			return fail("AzureClientSecret does not decrypt with the given key: "+err.Error()+".",
				"Use the secret key of this Connect server, or encrypt the client secret again with rscadmin encrypt-config-value.")
		}
	}
	if len(warns) > 0 {
		return warn(join(warns))
	}
	if secrets.LooksEncrypted(in.AzureClientSecret) && in.Decrypt == nil {
		return warn("AzureClientSecret is encrypted and no secret key was given, so connectdb cannot prove it decrypts.",
			"Pass Connect's key file with --secret-key (usually /var/lib/rstudio-connect/db/secret.key).")
	}
	return pass("Azure service principal is complete and used for every database.")
}

func checkPooler(in *Input) Outcome {
	switch in.Pooler {
	case "", "none":
		return notApplicable("No connection pooler declared (--pooler).")
	case "session":
		return pass("Session-mode pooler declared: session-level advisory locks and session settings keep working.")
	}
	return warn("A "+in.Pooler+"-mode pooler hands each transaction to any server connection: Connect's session-level upgrade advisory lock and session settings such as search_path can be lost between statements.",
		"Use pool_mode = session for Connect's database in the pooler (Connect's guide describes session-mode poolers only), or connect Connect directly to PostgreSQL.")
}

func checkSecretKey(in *Input) Outcome {
	if in.KeyError != "" {
		if in.KeyBlocks {
			return fail(in.KeyError+".", "Fix the key settings so that Connect finds exactly one key; every node of a cluster must use the same key.")
		}
		return warn("connectdb could not use the secret key: "+in.KeyError+".",
			"Run connectdb as root (for example with sudo), or pass the key file of this Connect server with --secret-key PATH.").as(Hygiene)
	}
	if in.Decrypt == nil {
		return notApplicable("No secret key found (looked at " + orDefault(in.KeyPlaces, "--secret-key") + "); Connect creates its own at first start.")
	}
	if len(in.KeyWarnings) > 0 {
		return warn(strings.Join(in.KeyWarnings, "; ")+".", "Keep the key readable by its owner only: chmod 600 the key file (Connect expects mode 0600).").as(Hygiene)
	}
	return pass("Connect's secret key loads and is private: " + in.KeyFrom + ".")
}

func checkCutValues(in *Input) Outcome {
	if len(in.CutValues) == 0 {
		return pass("No unquoted value of a setting connectdb reads is cut by a comment.")
	}
	var msgs, fixes []string
	consequence := Hygiene
	for _, cv := range in.CutValues {
		name := cv.Key[strings.IndexByte(cv.Key, '.')+1:]
		msg := fmt.Sprintf("%s:%d: the unquoted value of %s is cut at column %d by a comment character, so gcfg (and Connect) reads only its first %d characters.", cv.Path, cv.Line, cv.Key, cv.Column, cv.Read)
		if in.where(cv.Key) != fmt.Sprintf("%s:%d", cv.Path, cv.Line) {
			msg += " " + in.where(cv.Key) + " sets " + cv.Key + " again and wins, so Connect does not use this value."
		} else if !(in.Provider == "sqlite" && strings.HasPrefix(cv.Key, "Postgres.")) {
			consequence = BlocksStart
		}
		msgs = append(msgs, msg)
		quoted := cv.Quoted
		if cv.Secret {
			quoted = `"<the whole value, with \ and " written as \\ and \">"`
		}
		fixes = append(fixes, fmt.Sprintf("On line %d write %s = %s.", cv.Line, name, quoted))
	}
	return fail(strings.Join(msgs, " "), strings.Join(fixes, " ")+" In double quotes, # and ; are part of the value.").as(consequence)
}

// migrationFileName is the file Connect 1.8.0 and later read beside the config.
const migrationFileName = "rstudio-connect-migration.gcfg"

func checkMigrationFile(in *Input) Outcome {
	if in.MigrationFile == "" {
		return notApplicable("No " + migrationFileName + " with settings beside the config.")
	}
	return warn(in.MigrationFile+" holds settings: Connect's guide calls this file read-only and says settings there will stop a future release from starting.",
		"Move the settings into "+orDefault(in.ConfigPath, "rstudio-connect.gcfg")+" (encrypt secrets with rscadmin encrypt-config-value), then empty "+in.MigrationFile+".")
}

func checkEnvironment(in *Input) Outcome {
	if len(in.EnvWarnings) > 0 {
		o := warn("--env-file lines ignored, as systemd ignores them: "+strings.Join(in.EnvWarnings, "; ")+".",
			"Write each line as NAME=VALUE with a name of letters, digits and underscores.")
		o.Details = in.Overrides
		return o
	}
	if len(in.Overrides) == 0 {
		return notApplicable("No CONNECT_* environment override is set.")
	}
	return pass("Connect's environment overrides in effect: "+strings.Join(in.Overrides, "; ")+".", in.Overrides...)
}

// placeholder is the password placeholder Connect replaced in URLs before 1.8.2.
const placeholder = "{$}"

func checkPlaceholder(u *URLInput) Outcome {
	raw := u.URL
	if !strings.Contains(raw, placeholder) && !strings.Contains(strings.ToUpper(raw), "%7B%24%7D") {
		return pass(u.Key + " holds no {$} placeholder.")
	}
	return fail(u.Key+u.in.from(u.Key)+" holds the {$} password placeholder: Connect 1.8.2 and later do not replace it, so Connect would log in with the literal password {$} (or refuse the URL).",
		"Remove \":{$}\" from the URL, leaving postgres://USER@HOST/DATABASE, and keep the password in "+u.PasswordKey+", encrypted with rscadmin encrypt-config-value: Connect adds it to the URL itself.")
}

func checkParse(u *URLInput) Outcome {
	if strings.TrimSpace(u.URL) == "" {
		return fail(u.Key+" is not set.", "Write [Postgres] URL = \"postgres://USER@HOST:5432/DATABASE\" in "+orDefault(u.in.ConfigPath, "the config")+".")
	}
	diags, err := diagnoseURL(u.URL)
	if err != nil {
		return fail(u.Key+" is not a PostgreSQL URL: "+err.Error()+".", "Write it as postgres://USER@HOST:5432/DATABASE (scheme postgres or postgresql).")
	}
	for _, d := range diags {
		if d.Field == "url" && d.Error {
			return fail(u.Key+": "+d.Problem, d.Fix)
		}
	}
	info, err := parseURL(u.URL)
	if err != nil && !hasUserinfoError(diags) {
		return fail(u.Key+" does not parse: "+err.Error()+".", "Write it as postgres://USER@HOST:5432/DATABASE; 'connectdb encode-url' builds one.")
	}
	if info == nil {
		return pass(u.Key + " is a PostgreSQL URL.")
	}
	if info.Database == "" {
		return warn(u.Key+" names no database, so PostgreSQL picks the one named like the user ("+orDefault(info.User, "the login user")+"); Connect needs its own, dedicated database.",
			"Add the database to the path: postgres://USER@"+orDefault(info.Host, "HOST")+"/connect"+u.in.at(u.Key)+".")
	}
	return pass(fmt.Sprintf("%s is a %s URL for host %s, database %s.", u.Key, info.Scheme, info.Host, orDefault(info.Database, "(default)")))
}

func hasUserinfoError(diags []urlDiag) bool {
	for _, d := range diags {
		if d.Field != "url" && d.Error {
			return true
		}
	}
	return false
}

func checkEncoding(u *URLInput) Outcome {
	diags, err := diagnoseURL(u.URL)
	if err != nil {
		return skip("skipped: the URL does not parse")
	}
	var errs, warns []urlDiag
	for _, d := range diags {
		if d.Field == "url" {
			if !d.Error {
				warns = append(warns, d)
			}
			continue
		}
		if d.Error {
			errs = append(errs, d)
		} else {
			warns = append(warns, d)
		}
	}
	remedy := func(ds []urlDiag) string {
		var fixes []string
		for _, d := range ds {
			if f := strings.TrimSpace(d.Fix); f != "" && !slices.Contains(fixes, f) {
				fixes = append(fixes, f)
			}
		}
		return strings.TrimSpace(strings.Join(fixes, " ") + " Or move the password to " + u.PasswordKey + ", which needs no encoding; 'connectdb encode-url --check' repairs the URL.")
	}
	problems := func(ds []urlDiag) string {
		var ps []string
		for _, d := range ds {
			ps = append(ps, d.Problem)
		}
		return strings.Join(ps, " ")
	}
	if len(errs) > 0 {
		return fail(problems(errs), remedy(errs))
	}
	if len(warns) > 0 {
		return warn(problems(warns), remedy(warns))
	}
	return pass("User name and password need no further encoding.")
}

func checkInlinePassword(u *URLInput) Outcome {
	info, err := parseURL(u.URL)
	if err != nil || !info.HasPassword {
		return pass(u.Key + " carries no password.")
	}
	return warn(u.Key+" contains a password in clear: anyone who can read the config file can read it.",
		"Remove the password from the URL and write it encrypted (rscadmin encrypt-config-value) as "+u.in.gcfgLine("Postgres", strings.TrimPrefix(u.PasswordKey, "Postgres."), "<encrypted value>")+".")
}

func checkPasswordConflict(u *URLInput) Outcome {
	info, err := parseURL(u.URL)
	if err != nil || !info.HasPassword || u.Password == "" {
		return pass("The password has one source.")
	}
	return warn("A password is given both in "+u.Key+" and in "+u.PasswordKey+"; "+u.PasswordKey+" is used and the URL's password is ignored.",
		"Remove the password from "+u.Key+u.in.at(u.Key)+".")
}

func checkSecretPassword(u *URLInput) Outcome {
	if u.Password == "" {
		return notApplicable(u.PasswordKey + " is not set.")
	}
	named := u.PasswordKey + u.in.from(u.PasswordKey)
	fromEnv := strings.HasPrefix(u.in.where(u.PasswordKey), "CONNECT_") || strings.HasPrefix(u.in.where(u.PasswordKey), "--env-file")
	writeEncrypted := "Encrypt it with rscadmin encrypt-config-value and write " + u.in.gcfgLine("Postgres", strings.TrimPrefix(u.PasswordKey, "Postgres."), "<encrypted value>") + "."
	plain := func(why string) Outcome {
		if fromEnv {
			return pass(named + " is plain text from the environment, as Posit's Helm chart and operator pass it" + why + ".")
		}
		return warn(named+" is plain text in the config file"+why+": Connect accepts it, but anyone who can read the file can read it.", writeEncrypted).as(Hygiene)
	}
	shape := secrets.CiphertextShape(u.Password)
	if u.in.Decrypt != nil {
		if _, err := u.in.Decrypt(u.PasswordKey, u.Password); err == nil {
			return pass(named + " is encrypted and decrypts with Connect's secret key (" + u.in.KeyFrom + ").")
		}
		switch shape {
		case secrets.ShapeCiphertext:
			return fail(named+" has the structure of an encrypted value but does not decrypt with the secret key from "+u.in.KeyFrom+": it was encrypted with another key, or it is a plain-text password that looks like ciphertext.",
				"Encrypt the password again with rscadmin encrypt-config-value on this server; if it is plain text, check that Connect logs in with it (pg.connect).")
		case secrets.ShapeAmbiguous:
			return plain(" (it does not decrypt with the secret key from " + u.in.KeyFrom + ")")
		}
		return plain("")
	}
	switch shape {
	case secrets.ShapeCiphertext:
		o := warn(named+" is encrypted and no secret key was found (looked at "+orDefault(u.in.KeyPlaces, "--secret-key")+"), so connectdb cannot prove that Connect's value decrypts.",
			"Pass Connect's key file with --secret-key PATH (or CONNECTDB_SECRET_KEY), or run connectdb as root on the Connect host so that it finds the key where Connect does.")
		return o
	case secrets.ShapeAmbiguous:
		return warn(named+" could be a long plain-text password or an encrypted value, and no secret key was found, so connectdb takes it as plain text.",
			"If Connect decrypts it, pass the key with --secret-key; if it is plain text, "+strings.ToLower(writeEncrypted[:1])+writeEncrypted[1:]).as(Hygiene)
	}
	return plain("")
}

func checkSSLMode(u *URLInput) Outcome {
	info, err := parseURL(u.URL)
	if err != nil {
		return skip("skipped: the URL does not parse")
	}
	mode := info.SSLMode
	if !info.SSLModeSet {
		return pass("No sslmode: Connect requires SSL.")
	}
	if isLoopback(info.Host) {
		return pass("sslmode=" + mode + " on a loopback connection.")
	}
	switch mode {
	case "disable":
		return warn("sslmode=disable towards "+info.Host+": the password and all data travel in clear over the network.",
			"Enable SSL on the server and remove sslmode=disable from "+u.Key+u.in.at(u.Key)+".")
	case "allow", "prefer":
		return warn("sslmode="+mode+" towards "+info.Host+" falls back to an unencrypted connection without telling anyone.",
			"Use sslmode=require (or verify-full with sslrootcert=) in "+u.Key+u.in.at(u.Key)+".")
	}
	return pass("sslmode=" + mode + ".")
}

// hostedSuffixes are host name endings of hosted PostgreSQL services that
// expect encrypted connections.
var hostedSuffixes = []struct{ suffix, name string }{
	{".rds.amazonaws.com", "AWS RDS"},
	{".rds.amazonaws.com.cn", "AWS RDS"},
	{".postgres.database.azure.com", "Azure Database for PostgreSQL"},
	{".postgres.cosmos.azure.com", "Azure Cosmos DB for PostgreSQL"},
	{".cloudsql.goog", "Google Cloud SQL"},
	{".sql.goog", "Google Cloud SQL"},
	{".alloydb.goog", "Google AlloyDB"},
	{".supabase.co", "Supabase"},
	{".supabase.com", "Supabase"},
	{".neon.tech", "Neon"},
	{".db.ondigitalocean.com", "DigitalOcean"},
	{".aivencloud.com", "Aiven"},
	{".postgresbridge.com", "Crunchy Bridge"},
	{".tsdb.cloud.timescale.com", "Timescale"},
}

// HostedProvider returns the hosted service a host belongs to, or "".
func HostedProvider(host string) string {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	for _, s := range hostedSuffixes {
		if strings.HasSuffix(h, s.suffix) {
			return s.name
		}
	}
	return ""
}

func checkHostedSSL(u *URLInput) Outcome {
	info, err := parseURL(u.URL)
	if err != nil {
		return skip("skipped: the URL does not parse")
	}
	name := HostedProvider(info.Host)
	if name == "" {
		return notApplicable(info.Host + " is not a known hosted PostgreSQL service.")
	}
	switch info.SSLMode {
	case "require", "verify-ca", "verify-full":
		return pass(name + " host with sslmode=" + info.SSLMode + ".")
	}
	what := "no sslmode"
	if info.SSLModeSet {
		what = "sslmode=" + info.SSLMode
	}
	return warn(info.Host+" is "+name+", which requires or strongly encourages encrypted connections, but the URL has "+what+".",
		"Add sslmode=require to "+u.Key+u.in.at(u.Key)+", e.g. postgres://USER@"+info.Host+":5432/"+orDefault(info.Database, "connect")+"?sslmode=require.")
}

type sslFile struct{ param, path string }

func sslFiles(info *urlInfo) []sslFile {
	var fs []sslFile
	for _, f := range []sslFile{{"sslcert", info.SSLCert}, {"sslkey", info.SSLKey}, {"sslrootcert", info.SSLRootCert}} {
		if f.path != "" && !(f.param == "sslrootcert" && f.path == "system") {
			fs = append(fs, f)
		}
	}
	return fs
}

func checkSSLFiles(u *URLInput) Outcome {
	info, err := parseURL(u.URL)
	if err != nil {
		return skip("skipped: the URL does not parse")
	}
	files := sslFiles(info)
	if len(files) == 0 {
		return notApplicable("The URL names no sslcert, sslkey or sslrootcert file.")
	}
	if (info.SSLCert == "") != (info.SSLKey == "") {
		return fail("The URL gives only one of sslcert and sslkey; certificate authentication needs both.",
			"Add the missing parameter to "+u.Key+u.in.at(u.Key)+".")
	}
	var details []string
	for _, f := range files {
		st, err := os.Stat(f.path)
		if err != nil {
			return fail(f.param+" file "+f.path+" cannot be found or read.", "Fix the path in "+u.Key+u.in.at(u.Key)+"; it must be readable by the account that runs Connect.")
		}
		if st.IsDir() {
			return fail(f.param+" "+f.path+" is a directory, not a file.", "Point "+f.param+"= at the file itself.")
		}
		fh, err := os.Open(f.path)
		if err != nil {
			return fail(f.param+" file "+f.path+" is not readable: permission denied.", "Make it readable by the account that runs Connect (usually root).")
		}
		fh.Close()
		details = append(details, fmt.Sprintf("%s %s (mode %04o)", f.param, f.path, st.Mode().Perm()))
		if f.param == "sslkey" && st.Mode().Perm()&0o077 != 0 {
			o := warn(fmt.Sprintf("Private key %s is readable by group or others (mode %04o); libpq refuses such keys.", f.path, st.Mode().Perm()),
				"chmod 600 "+f.path)
			o.Details = details
			return o
		}
	}
	return pass("SSL files exist and are readable.", details...)
}

func readCert(path string) (*x509.Certificate, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	block, _ := pem.Decode(data)
	for block != nil && block.Type != "CERTIFICATE" {
		block, _ = pem.Decode(nil)
	}
	if block == nil {
		return nil, data, fmt.Errorf("no PEM certificate in %s", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	return c, data, err
}

// certWarnDays is how close to expiry a certificate gets a warning.
const certWarnDays = 30

func checkClientCert(u *URLInput) Outcome {
	info, err := parseURL(u.URL)
	if err != nil {
		return skip("skipped: the URL does not parse")
	}
	if info.SSLCert == "" {
		return notApplicable("No client certificate in the URL.")
	}
	cert, certPEM, err := readCert(info.SSLCert)
	if err != nil {
		return fail("sslcert "+info.SSLCert+" is not a PEM certificate.", "Point sslcert= at the client certificate in PEM format.")
	}
	now := u.in.Now
	details := []string{fmt.Sprintf("subject CN %s, valid %s to %s", cert.Subject.CommonName, cert.NotBefore.UTC().Format(time.DateOnly), cert.NotAfter.UTC().Format(time.DateOnly))}
	if keyPEM, err := os.ReadFile(info.SSLKey); err == nil {
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			if strings.Contains(err.Error(), "does not match") {
				return fail("sslkey "+info.SSLKey+" is not the private key of sslcert "+info.SSLCert+".",
					"Point sslkey= at the key the certificate was issued for.")
			}
			if !strings.Contains(string(keyPEM), "ENCRYPTED") {
				return fail("sslkey "+info.SSLKey+" cannot be read as a private key: "+err.Error()+".", "Point sslkey= at an unencrypted PEM private key.")
			}
		}
	}
	switch {
	case now.After(cert.NotAfter):
		return fail("Client certificate "+info.SSLCert+" expired on "+cert.NotAfter.UTC().Format(time.DateOnly)+"; the server will refuse it.",
			"Issue a new client certificate for "+cert.Subject.CommonName+" and replace "+info.SSLCert+".")
	case now.Before(cert.NotBefore):
		return fail("Client certificate "+info.SSLCert+" is not valid before "+cert.NotBefore.UTC().Format(time.DateOnly)+".",
			"Check this machine's clock, or issue a certificate valid from today.")
	case cert.NotAfter.Sub(now) < certWarnDays*24*time.Hour:
		days := int(cert.NotAfter.Sub(now).Hours() / 24)
		o := warn(fmt.Sprintf("Client certificate %s expires in %d days (%s).", info.SSLCert, days, cert.NotAfter.UTC().Format(time.DateOnly)),
			"Renew it before then; Connect cannot connect once it expires.")
		o.Details = details
		return o
	}
	return pass("Client certificate is valid and matches its key.", details...)
}

func checkCertUser(u *URLInput) Outcome {
	info, err := parseURL(u.URL)
	if err != nil {
		return skip("skipped: the URL does not parse")
	}
	if info.SSLCert == "" {
		return notApplicable("No client certificate in the URL.")
	}
	cert, _, err := readCert(info.SSLCert)
	if err != nil {
		return skip("skipped: the certificate does not parse")
	}
	cn := cert.Subject.CommonName
	if cn == info.User {
		return pass("Certificate CN " + cn + " equals the database user.")
	}
	return warn("Certificate CN "+cn+" differs from the database user "+info.User+": the server accepts it only through a pg_ident.conf map.",
		"Add to pg_ident.conf: 'posit-connect "+cn+" "+info.User+"' and use 'cert map=posit-connect' on the hostssl line of pg_hba.conf; or issue a certificate with CN "+info.User+".")
}

func checkSearchPath(u *URLInput) Outcome {
	info, err := parseURL(u.URL)
	if err != nil {
		return skip("skipped: the URL does not parse")
	}
	opts, ok := optionsParam(info)
	if !ok {
		return notApplicable("No options= in the URL: tables go into the default search_path.")
	}
	example := "options=-csearch_path=connect_schema"
	fields := strings.Fields(opts)
	if len(fields) == 0 {
		return fail("options= is empty.", "Remove it, or write "+example+".")
	}
	if !strings.HasPrefix(fields[0], "-") {
		return fail("options="+opts+" is not a PostgreSQL command-line option: the server rejects the connection.",
			"Write "+example+" (note the -c).")
	}
	schema, found := searchPathOf(opts)
	if !found {
		return notApplicable("options= sets no search_path.")
	}
	if schema == "" {
		return fail("options= sets an empty search_path.", "Write "+example+" with the schema name.")
	}
	if strings.Contains(schema, ",") {
		return warn("search_path "+schema+" names several schemas; Connect creates its tables in the first that exists.",
			"Name one schema: options=-csearch_path="+strings.TrimSpace(strings.Split(schema, ",")[0])+".")
	}
	if !strings.HasPrefix(schema, `"`) && strings.ToLower(schema) != schema {
		return warn("search_path "+schema+" has capital letters; PostgreSQL folds it to "+strings.ToLower(schema)+".",
			"Write the schema in lower case, or quote it: options=-csearch_path=\""+schema+"\" (percent-encoded in the URL).")
	}
	return pass("Connect keeps its tables in schema " + schema + ".")
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
