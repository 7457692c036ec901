package check

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/connectdb/connectdb/internal/azure"
	"github.com/connectdb/connectdb/internal/locks"
	"github.com/connectdb/connectdb/internal/pool"
	"github.com/connectdb/connectdb/internal/pool/probe"
	"github.com/connectdb/connectdb/internal/target"
)

// Supported PostgreSQL majors, from Connect's admin guide.
const (
	minMajor = 13
	maxMajor = 17
)

// facts are read once per target, in one round trip.
type facts struct {
	VersionNum    int
	ServerVersion string
	InRecovery    bool
	DefaultRO     string
	Encoding      string
	CurrentUser   string
	Database      string
	CurrentSchema *string
	SearchPath    string
	// EffectiveSchemas is current_schemas(false), comma-separated.
	EffectiveSchemas string
	BackendPID       int
	Identity         string // probe.IdentitySQL
	ServerPort       int    // inet_server_port(), 0 over a Unix socket
	// SchemaOwner and SchemaMember describe the URL's schema (nil when
	// it names none or the schema does not exist).
	SchemaOwner  *string
	SchemaMember *bool
	// Timeouts are the migration-relevant timeouts as current_setting()
	// shows them ("0", "30s", "5min"), in the order of timeoutNames.
	Timeouts       []string
	MaxConnections int
	SuperReserved  int
	Reserved       int
	OthersUsing    int
	// HiddenOthers of OthersUsing are sessions of other roles whose
	// details this role may not see (no pg_read_all_stats).
	HiddenOthers  int
	RoleConnLimit int
	DBConnLimit   int
	SSL           bool
	SSLVersion    string
	SSLCipher     string
}

func (f facts) major() int { return f.VersionNum / 10000 }

// timeoutNames are the settings pg.timeouts reads, ordered by name.
var timeoutNames = []string{"idle_in_transaction_session_timeout", "lock_timeout", "statement_timeout"}

// factsSQL is sent in one round trip (QueryExecModeExec: an unnamed
// statement, no prepare), which also holds behind a transaction pooler.
// Every check's server work is paid in a backend that has just started,
// with cold catalog caches, so the query reads the functions under the
// system views rather than the views (pg_stat_get_activity for
// pg_stat_activity and pg_stat_ssl: the same rows and columns, without
// loading and planning the views' joins), reads each catalog row once, and
// leaves pg_settings (every setting of the server, formatted) to
// pg.timeouts, which asks for the sources only when a timeout is set.
// withSchema adds the owner of the schema named by $1; without it the
// query takes no parameter.
func factsSQL(withSchema bool) string {
	schema := `NULL::text, NULL::bool`
	if withSchema {
		schema = `(SELECT pg_get_userbyid(nspowner)::text FROM pg_namespace WHERE nspname = $1),
  (SELECT pg_has_role(current_user, nspowner, 'MEMBER') FROM pg_namespace WHERE nspname = $1)`
	}
	timeouts := make([]string, len(timeoutNames))
	for i, n := range timeoutNames {
		timeouts[i] = "current_setting('" + n + "')"
	}
	return `SELECT current_setting('server_version_num')::int,
  split_part(current_setting('server_version'), ' ', 1),
  pg_is_in_recovery(),
  current_setting('default_transaction_read_only'),
  pg_encoding_to_char(d.encoding),
  current_user::text, current_database()::text, current_schema()::text, current_setting('search_path'),
  array_to_string(current_schemas(false), ','), pg_backend_pid(), coalesce(inet_server_port(), 0), ` + probe.IdentitySQL + `,
  ` + schema + `,
  ARRAY[` + strings.Join(timeouts, ", ") + `],
  current_setting('max_connections')::int,
  current_setting('superuser_reserved_connections')::int,
  coalesce(nullif(current_setting('reserved_connections', true), ''), '0')::int,
  a.others, a.hidden,
  (SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user),
  d.datconnlimit,
  coalesce(s.ssl, false), coalesce(s.sslversion, ''), coalesce(s.sslcipher, '')
FROM pg_database d,
  (SELECT count(*)::int AS others, (count(*) FILTER (WHERE backend_type IS NULL))::int AS hidden
    FROM pg_stat_get_activity(NULL) WHERE ` + probe.ClientSessions + ` AND pid <> pg_backend_pid()) a
  LEFT JOIN pg_stat_get_activity(pg_backend_pid()) s ON true
WHERE d.datname = current_database()`
}

func liveChecks() []Check {
	all := []Check{
		{ID: "pg.connect", Title: "Connects as Connect would", Kind: Live,
			Verifies: "Connect's URL reaches the server and logs in, with Connect's SSL rules (SSL required unless the URL sets sslmode); a failure is explained in plain words.",
			Needs:    []string{"url.parse", "url.encoding", "url.ssl-files", "url.client-cert", "secret.password"},
			live:     checkConnect},
		{ID: "pg.tls", Title: "Connection encryption", Kind: Live, Needs: []string{"pg.connect"},
			Verifies: "Reports the TLS version in use (pg_stat_ssl) and warns when a non-loopback connection is not encrypted.",
			live:     checkTLS},
		{ID: "pg.version", Title: "PostgreSQL version supported", Kind: Live, Needs: []string{"pg.connect"},
			Verifies: "The server runs PostgreSQL 13.x to 17.x: older fails, newer warns as untested.",
			live:     checkVersion},
		{ID: "pg.read-write", Title: "Server accepts writes", Kind: Live, Needs: []string{"pg.connect"},
			Verifies: "The server is not a read-only standby (pg_is_in_recovery) and default_transaction_read_only is off.",
			live:     checkReadWrite},
		{ID: "pg.encoding", Title: "Database encoding UTF8", Kind: Live, Needs: []string{"pg.connect"},
			Verifies: "The database encoding is UTF8.",
			live:     checkDBEncoding},
		{ID: "pg.schema", Title: "Schema exists and is owned", Kind: Live, Needs: []string{"pg.connect"},
			Verifies: "The schema from options=-csearch_path= exists (Connect refuses to start otherwise) and is owned by the user or a role the user belongs to; without a schema, search_path names an existing schema.",
			live:     checkSchema},
		{ID: "pg.privileges", Title: "Can create and change tables", Kind: Live, Needs: []string{"pg.connect", "pg.read-write", "pg.schema"},
			Verifies: "Proves by doing, in a transaction that is always rolled back, CREATE TABLE, ALTER TABLE, CREATE INDEX, INSERT, SELECT, UPDATE and DELETE in the target schema.",
			live:     checkPrivileges},
		{ID: "pg.timeouts", Title: "Timeouts leave room for migrations", Kind: Live, Needs: []string{"pg.connect"},
			Verifies: "statement_timeout, lock_timeout and idle_in_transaction_session_timeout are not set low enough to break schema migrations or the 5-minute upgrade lock wait.",
			live:     checkTimeouts},
		{ID: "pool.max-connections", Title: "Connection slots for every node", Kind: Live, Needs: []string{"pg.connect"},
			Verifies: "max_connections minus reserved slots and connections used by others leaves room for nodes x MaxOpenConnections (doubled when operational metrics share the database), within role and database connection limits.",
			live:     checkMaxConnections},
		{ID: "pg.upgrade-lock", Title: "Upgrade lock is free", Kind: Live, Needs: []string{"pg.connect"},
			Verifies: "No session holds or waits for Connect's upgrade advisory lock (needs --lock-id or CONNECTDB_LOCK_ID).",
			live:     checkUpgradeLock},
		{ID: "pg.latency", Title: "Round-trip latency", Kind: Live, Needs: []string{"pg.connect"},
			Verifies: "Measures the query round trip; warns above 50 ms, which slows every Connect request.",
			live:     checkLatency},
	}
	// The pooler checks follow pg.tls and pg.schema.
	pc := poolerChecks()
	all = slices.Insert(all, slices.IndexFunc(all, func(c Check) bool { return c.ID == "pg.version" }), pc[0])
	return slices.Insert(all, slices.IndexFunc(all, func(c Check) bool { return c.ID == "pg.privileges" }), pc[1])
}

func checkConnect(lc *liveCtx) Outcome {
	ctx, cancel := lc.bounded()
	defer cancel()
	start := time.Now()
	conn, err := lc.target.Connect(ctx, lc.env.opts.Timeout)
	if err != nil {
		if lc.target.Token != nil {
			// Azure service principal: token and Entra login failures first.
			if summary, remedy, ok := azure.Classify(err); ok {
				o := fail(summary, remedy)
				o.Cause = "azure-service-principal"
				return o
			}
		}
		if o, ok := lc.refusedParameter(err); ok {
			return o
		}
		c := lc.target.Classify(err)
		o := fail(c.Summary, c.Remedy)
		o.Cause = c.ID
		return o
	}
	took := time.Since(start)
	lc.reached = true
	var args []any
	if name := lc.schemaName(); name != "" {
		args = append(args, name)
	}
	f := &lc.facts
	if err := conn.QueryRow(ctx, factsSQL(len(args) > 0), append([]any{pgx.QueryExecModeExec}, args...)...).Scan(&f.VersionNum, &f.ServerVersion, &f.InRecovery,
		&f.DefaultRO, &f.Encoding, &f.CurrentUser, &f.Database, &f.CurrentSchema,
		&f.SearchPath, &f.EffectiveSchemas, &f.BackendPID, &f.ServerPort, &f.Identity,
		&f.SchemaOwner, &f.SchemaMember, &f.Timeouts, &f.MaxConnections, &f.SuperReserved, &f.Reserved,
		&f.OthersUsing, &f.HiddenOthers, &f.RoleConnLimit, &f.DBConnLimit, &f.SSL, &f.SSLVersion, &f.SSLCipher); err != nil {
		_ = conn.Close(context.Background())
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "57014" {
			return fail("Connected, but statement_timeout cancels even a short query; Connect's queries and migrations would be cancelled too.",
				"Reset it for Connect's user: ALTER ROLE "+quoteIdent(lc.target.User)+" RESET statement_timeout; (or ALTER DATABASE "+quoteIdent(lc.target.Database)+" RESET statement_timeout;)")
		}
		return fail("Connected, but reading the server's settings failed: "+oneLine(err)+".",
			"Check that the role may read pg_database, pg_namespace and pg_roles and run pg_stat_get_activity (the defaults allow it).")
	}
	lc.conn = conn
	o := pass(fmt.Sprintf("Connected to database %s on %s as %s.", lc.facts.Database, reachedHost(lc.target), lc.facts.CurrentUser),
		"connect time: "+took.Round(time.Millisecond).String())
	o.Perf = connectPerf(took, lc.facts)
	return o
}

func checkTLS(lc *liveCtx) Outcome {
	f := lc.facts
	if f.SSL {
		return pass("Encrypted with "+f.SSLVersion+".", "cipher: "+f.SSLCipher)
	}
	if isLoopback(lc.target.Host) {
		return pass(titleCase(lc.target.Connection().TLS) + "; acceptable on a loopback connection or socket.")
	}
	remedy := "Enable SSL on the server and remove sslmode=disable from " + lc.urlKey() + "."
	if m := lc.target.SSLMode; m != "disable" {
		remedy = "Enable SSL on the server and set sslmode=require (or verify-full) in " + lc.urlKey() + " instead of sslmode=" + m + "."
	}
	return warn("The connection to "+lc.target.Host+" is "+lc.target.Connection().TLS+"; the password and all data travel in clear.", remedy)
}

func checkVersion(lc *liveCtx) Outcome {
	f := lc.facts
	m := f.major()
	switch {
	case m < minMajor:
		return fail(fmt.Sprintf("PostgreSQL %s is older than the oldest version Connect supports (%d).", f.ServerVersion, minMajor),
			fmt.Sprintf("Upgrade the server to PostgreSQL %d.x to %d.x.", minMajor, maxMajor))
	case m > maxMajor:
		return warn(fmt.Sprintf("PostgreSQL %s is newer than the versions Connect is tested with (%d.x to %d.x).", f.ServerVersion, minMajor, maxMajor),
			"Check Connect's release notes for PostgreSQL "+strconv.Itoa(m)+" support before relying on it.")
	}
	return pass(fmt.Sprintf("PostgreSQL %s is supported (%d.x to %d.x).", f.ServerVersion, minMajor, maxMajor))
}

func checkReadWrite(lc *liveCtx) Outcome {
	f := lc.facts
	if f.InRecovery {
		return fail("The server is a read-only standby (pg_is_in_recovery() is true); Connect needs to write.",
			"Point "+lc.urlKey()+" at the primary server, not a replica.")
	}
	if f.DefaultRO == "on" {
		src := lc.settingSource("default_transaction_read_only")
		return fail("default_transaction_read_only is on"+src.describe()+", so every transaction of Connect would be read-only.",
			src.resetRemedy("default_transaction_read_only", lc))
	}
	return pass("The server accepts writes.")
}

func checkDBEncoding(lc *liveCtx) Outcome {
	if lc.facts.Encoding == "UTF8" {
		return pass("Database " + lc.facts.Database + " uses UTF8.")
	}
	return warn("Database "+lc.facts.Database+" uses encoding "+lc.facts.Encoding+", not UTF8: text outside that character set cannot be stored.",
		"Create the database with UTF8 while it is still blank: CREATE DATABASE "+quoteIdent(lc.facts.Database)+" ENCODING 'UTF8' TEMPLATE template0;")
}

// schemaName is the schema Connect was told to use, "" when none.
func (lc *liveCtx) schemaName() string {
	if lc.target.Schema != "" {
		return firstPathElem(lc.target.Schema)
	}
	if lc.url != nil {
		if info, err := parseURL(lc.url.URL); err == nil && info.Schema != "" {
			return firstPathElem(info.Schema)
		}
	}
	return ""
}

// firstPathElem returns the first schema of a search_path value, unquoted.
func firstPathElem(p string) string {
	p = strings.TrimSpace(p)
	if strings.HasPrefix(p, `"`) {
		if end := strings.Index(p[1:], `"`); end >= 0 {
			return p[1 : end+1]
		}
	}
	first, _, _ := strings.Cut(p, ",")
	return strings.ToLower(strings.TrimSpace(first))
}

// workSchema is where Connect's tables go: the configured schema or
// current_schema(); "" when none exists.
func (lc *liveCtx) workSchema() string {
	if s := lc.schemaName(); s != "" {
		return s
	}
	if lc.facts.CurrentSchema != nil {
		return *lc.facts.CurrentSchema
	}
	return ""
}

func checkSchema(lc *liveCtx) Outcome {
	user := lc.facts.CurrentUser
	name := lc.schemaName()
	if name == "" {
		if lc.facts.CurrentSchema == nil {
			return fail("No schema on the search_path ("+lc.facts.SearchPath+") exists, so Connect has nowhere to create its tables.",
				"Create one owned by the user: CREATE SCHEMA "+quoteIdent(user)+" AUTHORIZATION "+quoteIdent(user)+";")
		}
		return pass("Tables go into schema " + *lc.facts.CurrentSchema + " (search_path " + lc.facts.SearchPath + ").")
	}
	if lc.facts.SchemaOwner == nil || lc.facts.SchemaMember == nil {
		return fail("Schema "+name+" (from options=-csearch_path=) does not exist; Connect refuses to start without it.",
			"Create it: CREATE SCHEMA "+quoteIdent(name)+" AUTHORIZATION "+quoteIdent(user)+";")
	}
	owner, member := *lc.facts.SchemaOwner, *lc.facts.SchemaMember
	if !member {
		return fail("Schema "+name+" is owned by "+owner+"; Connect needs it owned by "+user+" or by a role "+user+" belongs to.",
			"ALTER SCHEMA "+quoteIdent(name)+" OWNER TO "+quoteIdent(user)+"; or GRANT "+quoteIdent(owner)+" TO "+quoteIdent(user)+";")
	}
	if owner == user {
		return pass("Schema " + name + " exists and is owned by " + user + ".")
	}
	return pass("Schema " + name + " exists and is owned by " + owner + ", a role " + user + " belongs to.")
}

// probeStep is one statement of the privilege probe.
type probeStep struct{ name, privilege, sql string }

// probeSteps are run in order in one transaction that is always rolled back.
// The table is the least that proves each statement: no serial, primary key
// or text column, whose sequence, index and TOAST table would each be one
// more relation (and file) to create and drop, and half the probe's server
// time in a new backend, without proving any other privilege (a sequence
// needs CREATE on the schema, as the table does; an index needs ownership,
// as CREATE INDEX proves).
func probeSteps(table string) []probeStep {
	return []probeStep{
		{"CREATE TABLE", "CREATE on the schema", "CREATE TABLE " + table + " (id bigint, note integer)"},
		{"ALTER TABLE", "ownership of its tables", "ALTER TABLE " + table + " ADD COLUMN extra integer"},
		{"CREATE INDEX", "ownership of its tables", "CREATE INDEX ON " + table + " (note)"},
		{"INSERT", "INSERT", "INSERT INTO " + table + " (id, note) VALUES (1, 1)"},
		{"SELECT", "SELECT", "SELECT count(*) FROM " + table},
		{"UPDATE", "UPDATE", "UPDATE " + table + " SET note = 2 WHERE id = 1"},
		{"DELETE", "DELETE", "DELETE FROM " + table + " WHERE id = 1"},
	}
}

// ProbeTablePrefix starts the name of the privilege probe's table.
const ProbeTablePrefix = "connectdb_probe_"

// probePauseLock is the advisory lock the test-only pause step waits for
// (Options.probeHook set), so a test can end the backend mid-probe.
const probePauseLock = 0x636f6e6e

// checkPrivileges sends the whole probe as one pipeline: BEGIN, every step
// and ROLLBACK in one round trip, with the extended protocol and a single
// Sync, so the steps run in order inside one transaction that is never
// committed. A failing step stops the rest (the server skips to the Sync)
// and its result names it; the rollback is then sent on its own. If the
// connection dies mid-probe, the server rolls the transaction back.
func checkPrivileges(lc *liveCtx) Outcome {
	schema := lc.workSchema()
	if schema == "" {
		return skip("skipped: no schema to create tables in")
	}
	ctx, cancel := lc.bounded()
	defer cancel()
	name := ProbeTablePrefix + strconv.FormatInt(time.Now().UnixNano()%1e12, 36)
	table := quoteIdent(schema) + "." + quoteIdent(name)
	steps := probeSteps(table)
	hook := lc.env.opts.probeHook
	if hook != nil {
		steps = slices.Insert(steps, 3, probeStep{"test pause", "", "SELECT pg_advisory_xact_lock(" + strconv.Itoa(probePauseLock) + ")"})
	}
	b := &pgconn.Batch{}
	b.ExecParams("BEGIN", nil, nil, nil, nil)
	for _, st := range steps {
		b.ExecParams(st.sql, nil, nil, nil, nil)
	}
	b.ExecParams("ROLLBACK", nil, nil, nil, nil)
	pc := lc.conn.PgConn()
	mrr := pc.ExecBatch(ctx, b)
	if hook != nil {
		hook("test pause", lc.conn)
	}
	results, err := mrr.ReadAll()
	if err == nil && len(results) == len(steps)+2 {
		var done []string
		for _, st := range steps {
			if st.privilege != "" {
				done = append(done, st.name)
			}
		}
		return pass(fmt.Sprintf("%s can create, alter, index, read and write tables in schema %s (probe rolled back).", lc.facts.CurrentUser, schema),
			"proved: "+strings.Join(done, ", "))
	}
	// The transaction is never committed. If the rollback cannot be sent,
	// closing the connection makes the server roll back.
	rctx, rcancel := context.WithTimeout(context.Background(), lc.env.opts.Timeout)
	defer rcancel()
	if _, rerr := pc.Exec(rctx, "ROLLBACK").ReadAll(); rerr != nil {
		_ = lc.conn.Close(rctx)
	}
	failed := len(results) - 1 // results[0] is BEGIN's
	for i, r := range results {
		if r.Err != nil {
			failed, err = i-1, r.Err
			break
		}
	}
	if err == nil {
		err = errors.New("the server sent fewer results than statements")
	}
	if failed < 0 {
		return fail("Could not start a transaction: "+oneLine(err)+".", "Run the check again.")
	}
	if failed >= len(steps) {
		return fail("The privilege probe's ROLLBACK failed: "+oneLine(err)+".", "Run the check again; the connection was closed, so the server rolled the probe back.")
	}
	st := steps[failed]
	return lc.privilegeFailure(schema, st.name, st.privilege, err)
}

func (lc *liveCtx) privilegeFailure(schema, step, privilege string, err error) Outcome {
	user := quoteIdent(lc.facts.CurrentUser)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return fail(fmt.Sprintf("The privilege probe's %s failed: %s.", step, oneLine(err)), "Run the check again; the probe changes nothing.")
	}
	if pgErr.Code != "42501" {
		return fail(fmt.Sprintf("%s in schema %s failed: %s (SQLSTATE %s).", step, schema, pgErr.Message, pgErr.Code),
			"Fix the cause above; Connect runs the same statements when it creates its tables.")
	}
	msg := fmt.Sprintf("%s cannot %s in schema %s: permission denied (needs %s).", lc.facts.CurrentUser, step, schema, privilege)
	remedy := "GRANT USAGE, CREATE ON SCHEMA " + quoteIdent(schema) + " TO " + user + "; or make the user the owner: ALTER SCHEMA " + quoteIdent(schema) + " OWNER TO " + user + ";"
	if step == "CREATE TABLE" && schema == "public" && lc.facts.major() >= 15 {
		msg += " Since PostgreSQL 15, schema public no longer grants CREATE to every role."
		remedy = "As the database owner or a superuser run: GRANT CREATE ON SCHEMA public TO " + user + "; or ALTER SCHEMA public OWNER TO " + user + "; (or use a schema of its own with options=-csearch_path=)."
	}
	return fail(msg, remedy)
}

// settingSource says where a setting's value comes from.
type settingSource struct {
	Source string // pg_settings.source
	Value  string
}

func (lc *liveCtx) settingSource(name string) settingSource {
	ctx, cancel := lc.bounded()
	defer cancel()
	var s settingSource
	_ = lc.conn.QueryRow(ctx, "SELECT source, setting FROM pg_settings WHERE name = $1", pgx.QueryExecModeExec, name).Scan(&s.Source, &s.Value)
	return s
}

func (s settingSource) describe() string {
	switch s.Source {
	case "user":
		return " (set on the role)"
	case "database":
		return " (set on the database)"
	case "database user":
		return " (set on the role in this database)"
	case "client":
		return " (set by the URL's options)"
	case "configuration file":
		return " (set in postgresql.conf)"
	case "":
		return ""
	}
	return " (source: " + s.Source + ")"
}

func (s settingSource) resetRemedy(name string, lc *liveCtx) string {
	u, d := quoteIdent(lc.facts.CurrentUser), quoteIdent(lc.facts.Database)
	switch s.Source {
	case "user":
		return "ALTER ROLE " + u + " RESET " + name + ";"
	case "database":
		return "ALTER DATABASE " + d + " RESET " + name + ";"
	case "database user":
		return "ALTER ROLE " + u + " IN DATABASE " + d + " RESET " + name + ";"
	case "client":
		return "Remove -c" + name + " from options= in " + lc.urlKey() + "."
	}
	return "Set " + name + " for Connect's user only: ALTER ROLE " + u + " SET " + name + " = 0;"
}

// migrationRoom is how long a migration statement or lock wait may take:
// Connect waits up to 5 minutes for the upgrade lock.
const migrationRoom = 5 * time.Minute

func checkTimeouts(lc *liveCtx) Outcome {
	type tv struct {
		name   string
		ms     int64
		source string
	}
	if len(lc.facts.Timeouts) != len(timeoutNames) {
		return fail(fmt.Sprintf("Reading timeouts failed: the server sent %d values for %d settings.", len(lc.facts.Timeouts), len(timeoutNames)), "Run the check again.")
	}
	var vals []tv
	set := false
	for i, name := range timeoutNames {
		ms, err := gucMillis(lc.facts.Timeouts[i])
		if err != nil {
			return fail("Reading timeouts failed: "+name+" is "+strconv.Quote(lc.facts.Timeouts[i])+", not a duration.", "Run the check again.")
		}
		vals = append(vals, tv{name, ms, ""})
		set = set || ms != 0
	}
	// Where a timeout is set matters for the remedy; a timeout that is
	// off needs no source, so pg_settings is read only when one is set.
	if set {
		src := lc.settingSources(timeoutNames)
		for i := range vals {
			vals[i].source = src[vals[i].name]
		}
	}
	var problems, remedies, details []string
	for _, v := range vals {
		d := time.Duration(v.ms) * time.Millisecond
		detail := v.name + " = " + fmtMillis(v.ms)
		if v.source != "" {
			detail += " (" + v.source + ")"
		}
		details = append(details, detail)
		if v.ms > 0 && d < migrationRoom {
			s := settingSource{Source: v.source}
			problems = append(problems, fmt.Sprintf("%s is %s%s", v.name, fmtMillis(v.ms), s.describe()))
			remedies = append(remedies, s.resetRemedy(v.name, lc))
		}
	}
	if len(problems) > 0 {
		o := warn(strings.Join(problems, "; ")+": long schema migrations or the 5-minute upgrade lock wait can be cut short.",
			strings.Join(remedies, " "))
		o.Details = details
		return o
	}
	return pass("No timeout is short enough to interrupt migrations.", details...)
}

// settingSources returns pg_settings.source of each named setting; a
// setting is missing when it cannot be read (the remedy is then generic).
func (lc *liveCtx) settingSources(names []string) map[string]string {
	ctx, cancel := lc.bounded()
	defer cancel()
	src := map[string]string{}
	rows, err := lc.conn.Query(ctx, "SELECT name, source FROM pg_settings WHERE name = ANY($1)", pgx.QueryExecModeExec, names)
	if err != nil {
		return src
	}
	var name, source string
	_, _ = pgx.ForEachRow(rows, []any{&name, &source}, func() error {
		src[name] = source
		return nil
	})
	return src
}

// gucMillis reads a time setting as current_setting() shows it: a whole
// number of milliseconds ("0", "1500") or of the largest unit that holds
// it exactly ("2s", "5min", "1h", "1d").
func gucMillis(v string) (int64, error) {
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || i == 0 && v[i] == '-') {
		i++
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading %q as a duration: %w", v, err)
	}
	unit := map[string]int64{"": 1, "ms": 1, "s": 1000, "min": 60 * 1000, "h": 60 * 60 * 1000, "d": 24 * 60 * 60 * 1000}
	m, ok := unit[strings.TrimSpace(v[i:])]
	if !ok {
		return 0, fmt.Errorf("reading %q as a duration: unknown unit %q", v, v[i:])
	}
	return n * m, nil
}

func fmtMillis(ms int64) string {
	if ms == 0 {
		return "0 (off)"
	}
	return (time.Duration(ms) * time.Millisecond).String()
}

func checkMaxConnections(lc *liveCtx) Outcome {
	in := lc.env.in
	f := lc.facts
	maxOpen := in.MaxOpenConnections
	if maxOpen <= 0 {
		return notApplicable("skipped: Database.MaxOpenConnections is " + strconv.Itoa(maxOpen) + " (unlimited), so no budget can be computed; see pool.max-open")
	}
	why := fmt.Sprintf("%d %s x MaxOpenConnections %d", in.Nodes, plural(in.Nodes, "node", "nodes"), maxOpen)
	shared := lc.scope == ScopePrimary && lc.env.opts.SharedMetrics
	switch {
	case shared:
		why += " x 2 (operational metrics share this database)"
	case lc.sameServerAsOther():
		shared = true
		why += " x 2 (the primary and instrumentation databases are on the same server)"
	}
	metrics := pool.MetricsSeparate
	if shared {
		metrics = pool.MetricsSame
	}
	server := pool.Server{MaxConnections: f.MaxConnections, SuperuserReserved: f.SuperReserved, Reserved: f.Reserved, Others: f.OthersUsing}
	need, _ := pool.WorstCase(in.Nodes, maxOpen, metrics)
	avail := server.Available()
	details := []string{
		fmt.Sprintf("max_connections %d, superuser_reserved_connections %d, reserved_connections %d, in use by others %d", f.MaxConnections, f.SuperReserved, f.Reserved, f.OthersUsing),
		fmt.Sprintf("Connect needs up to %d: %s", need, why),
	}
	if f.HiddenOthers > 0 {
		details = append(details, hiddenCount(f)+" counted as client connections although "+f.CurrentUser+
			" may not inspect them (no pg_read_all_stats); grant it pg_monitor (or check as a superuser) for an exact count")
	}
	if f.RoleConnLimit >= 0 && f.RoleConnLimit < need {
		o := fail(fmt.Sprintf("Role %s may open only %d connections (CONNECTION LIMIT), but Connect may open %d.", f.CurrentUser, f.RoleConnLimit, need),
			fmt.Sprintf("ALTER ROLE %s CONNECTION LIMIT %d; or lower Database.MaxOpenConnections.", quoteIdent(f.CurrentUser), need))
		o.Details = details
		return o
	}
	if f.DBConnLimit >= 0 && f.DBConnLimit < need {
		o := fail(fmt.Sprintf("Database %s allows only %d connections (CONNECTION LIMIT), but Connect may open %d.", f.Database, f.DBConnLimit, need),
			fmt.Sprintf("ALTER DATABASE %s CONNECTION LIMIT %d; or lower Database.MaxOpenConnections.", quoteIdent(f.Database), need))
		o.Details = details
		return o
	}
	if need > avail {
		perNodeFit := pool.PerNodeBudget(in.Nodes, metrics, server)
		required, _ := pool.RequiredMaxConnections(in.Nodes, maxOpen, metrics, server)
		remedy := fmt.Sprintf("Raise max_connections to at least %d (ALTER SYSTEM SET max_connections = %d; then restart PostgreSQL)", required, required)
		if perNodeFit >= 1 {
			remedy += fmt.Sprintf(", or write [Database] MaxOpenConnections = %d%s", perNodeFit, in.at("Database.MaxOpenConnections"))
		}
		o := fail(fmt.Sprintf("Connect may open %d connections but only %d slots are free (max_connections %d)%s.", need, avail, f.MaxConnections, hiddenNote(f)), remedy+".")
		o.Details = details
		return o
	}
	return pass(fmt.Sprintf("%d of %d free connection slots needed%s.", need, avail, hiddenNote(f)), details...)
}

// hiddenNote says how many sessions were counted without their details.
func hiddenNote(f facts) string {
	if f.HiddenOthers == 0 {
		return ""
	}
	return "; " + hiddenCount(f) + " counted although " + f.CurrentUser + " may not see their details"
}

func hiddenCount(f facts) string {
	if f.HiddenOthers == 1 {
		return "1 session of other roles is"
	}
	return strconv.Itoa(f.HiddenOthers) + " sessions of other roles are"
}

// sameServerAsOther reports whether another target of this run is on the
// same server, so both pools draw from one max_connections. A target with
// another host name or port is asked who it is: localhost and 127.0.0.1,
// or a service name and its address, reach the same server.
func (lc *liveCtx) sameServerAsOther() bool {
	for _, t := range lc.env.opts.Targets {
		if t == lc.target {
			continue
		}
		if t.Host == lc.target.Host && t.Port == lc.target.Port {
			return true
		}
		if lc.facts.Identity != "" && lc.identityOf(t) == lc.facts.Identity {
			return true
		}
	}
	return false
}

// identityOf returns probe.IdentitySQL on t's server, "" when it cannot be
// reached (its own scope reports why).
func (lc *liveCtx) identityOf(t *target.Target) string {
	ctx, cancel := lc.bounded()
	defer cancel()
	c, err := t.Connect(ctx, lc.env.opts.Timeout)
	if err != nil {
		return ""
	}
	defer c.Close(context.WithoutCancel(ctx))
	id, err := probe.Identity(ctx, c)
	if err != nil {
		return ""
	}
	return id
}

func checkUpgradeLock(lc *liveCtx) Outcome {
	k := lc.env.opts.Lock
	if k == nil {
		return notApplicable("skipped: the upgrade lock ID is not known; pass --lock-id or set CONNECTDB_LOCK_ID")
	}
	ctx, cancel := lc.bounded()
	defer cancel()
	rows, err := locks.List(ctx, lc.conn, locks.ListOptions{Key: k})
	if err != nil {
		return fail("Reading pg_locks failed: "+oneLine(err)+".", "Run the check again.")
	}
	held, waiting := locks.HeldBy(rows, *k), locks.Waiting(rows, *k)
	now := time.Now()
	perf := lockWaitPerf(now, waiting)
	if len(held) == 0 && len(waiting) == 0 {
		o := pass("Upgrade lock " + k.String() + " is free.")
		o.Perf = perf
		return o
	}
	var details []string
	for _, l := range append(held, waiting...) {
		state := "waits for"
		if l.Granted {
			state = "holds"
		}
		who := fmt.Sprintf("pid %d", l.PID)
		if s := l.Session; s != nil {
			who += fmt.Sprintf(" (%s, %s, session age %s)", orDash(s.User), locks.Describe(s), locks.FormatAge(locks.Age(now, s.BackendStart)))
		}
		details = append(details, who+" "+state+" it")
	}
	msg := "Upgrade lock " + k.String() + " is held: an upgrade is running or a lock is stuck: see connectdb show-locks."
	if len(held) == 0 {
		msg = "Sessions are waiting for upgrade lock " + k.String() + ": an upgrade is starting: see connectdb show-locks."
	}
	o := warn(msg, "Run 'connectdb show-locks' to see who holds it; release it with 'connectdb release-locks' only when no Connect node is migrating.")
	o.Details = details
	o.Perf = perf
	return o
}

// slowRoundTrip is the round trip above which pg.latency warns.
const slowRoundTrip = 50 * time.Millisecond

func checkLatency(lc *liveCtx) Outcome {
	ctx, cancel := lc.bounded()
	defer cancel()
	var samples []time.Duration
	for range 3 {
		start := time.Now()
		if _, err := lc.conn.Exec(ctx, ";"); err != nil {
			return fail("A round trip failed: "+oneLine(err)+".", "Check the network to the server and run the check again.")
		}
		samples = append(samples, time.Since(start))
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	med := samples[len(samples)/2]
	limit := slowRoundTrip
	if l := lc.env.opts.latencyLimit; l > 0 {
		limit = l
	}
	if med > limit {
		return warn(fmt.Sprintf("Round trip to the server takes %s; every Connect request makes several queries.", fmtLatency(med)),
			"Run Connect close to its database (same region or data centre).")
	}
	return pass("Round trip " + fmtLatency(med) + ".")
}

func fmtLatency(d time.Duration) string {
	if d < time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}

func (lc *liveCtx) urlKey() string {
	if lc.url != nil && lc.url.Key != "" {
		return lc.url.Key
	}
	if lc.scope == ScopeInstrumentation {
		return "Postgres.InstrumentationURL"
	}
	return "Postgres.URL"
}

// quoteIdent quotes a PostgreSQL identifier when it needs quoting.
func quoteIdent(s string) string {
	plain := s != ""
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && (r >= '0' && r <= '9' || r == '$')) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func oneLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimSuffix(s, ".")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
