package check

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/pooler"
)

// poolerChecks are the live checks about what sits between Connect and
// PostgreSQL: a pooler and its mode, and whether the URL's search_path
// reached the server through it.
func poolerChecks() []Check {
	return []Check{
		{ID: "pg.pooler", Title: "No transaction pooler in the way", Kind: Live, Needs: []string{"pg.connect"},
			Verifies: "Finds a pooler live (the login's cancel key is not the backend's; a second client gets the first one's backend only behind transaction pooling) and fails for transaction pooling, declared or not: Connect's upgrade lock and session settings need a backend per connection.",
			live:     checkPoolerLive},
		{ID: "pg.search-path", Title: "search_path from the URL reaches the server", Kind: Live, Needs: []string{"pg.connect"},
			Verifies: "The session's search_path (SHOW search_path, current_schemas) starts with the schema named in the URL's options=-csearch_path=; a pooler that drops options makes Connect create its tables in public.",
			live:     checkSearchPathLive},
	}
}

func checkPoolerLive(lc *liveCtx) Outcome {
	ctx, cancel := lc.bounded()
	defer cancel()
	dial := func(ctx context.Context) (*pgx.Conn, error) { return lc.target.Connect(ctx, lc.env.opts.Timeout) }
	port := lc.target.Port
	if strings.HasPrefix(lc.target.Host, "/") {
		port = 0 // a Unix socket has no port to compare
	}
	f := pooler.Observed(ctx, lc.conn, lc.facts.BackendPID, lc.facts.ServerPort, port, dial)
	details := f.Evidence
	declared := lc.env.in.Pooler
	if declared != "" && declared != string(pooler.None) && f.Mode == pooler.None {
		details = append(details, "--pooler "+declared+" was declared, but no pooler answered the login")
	}
	switch f.Mode {
	case pooler.Transaction:
		o := fail("A transaction-mode pooler sits between Connect and PostgreSQL: Connect's connections share backends between transactions, so its session-level upgrade lock and session settings such as search_path are lost between statements.",
			"Run the pooler in session mode for this database (PgBouncer: pool_mode = session), or point "+lc.urlKey()+" at PostgreSQL directly.")
		o.Details = details
		return o
	case pooler.Unknown:
		o := warn("A pooler answered the login, but its pool mode could not be told.",
			"Make sure it runs in session mode (PgBouncer: pool_mode = session) and declare it with --pooler session.")
		o.Details = details
		return o
	case pooler.Session:
		return pass("A session-mode pooler sits between Connect and PostgreSQL: each connection keeps its own backend.", details...)
	}
	if f.Forwarded {
		return pass("A proxy forwards the connection to the server, passing PostgreSQL's own login through: no pooler.", details...)
	}
	return pass("Connect talks to PostgreSQL directly: no pooler.", details...)
}

func checkSearchPathLive(lc *liveCtx) Outcome {
	want := lc.schemaName()
	if want == "" {
		return notApplicable("skipped: the URL names no schema (options=-csearch_path=), so tables go into the role's default schema; see pg.schema")
	}
	f := lc.facts
	details := []string{"SHOW search_path: " + f.SearchPath, "current_schemas(false): {" + f.EffectiveSchemas + "}"}
	effective := ""
	if f.CurrentSchema != nil {
		effective = *f.CurrentSchema
	}
	if effective == want || firstPathElem(f.SearchPath) == want {
		// A missing schema is pg.schema's failure.
		return pass("The session's search_path starts with "+want+", as the URL asks.", details...)
	}
	where := "no schema (none on the search_path exists)"
	if effective != "" {
		where = "schema " + effective
	}
	msg := fmt.Sprintf("The URL asks for search_path %s, but the session got %q: Connect would create its tables in %s.", want, f.SearchPath, where)
	if uint32(f.BackendPID) != lc.conn.PgConn().PID() { // the login's cancel key is a pooler's
		msg += " The pooler in front of PostgreSQL dropped the options parameter."
	} else {
		msg += " Something between Connect and PostgreSQL (a pooler such as PgBouncer with ignore_startup_parameters = options) dropped the options parameter."
	}
	o := fail(msg, "Give the role its schema on the server, which holds through any pooler: ALTER ROLE "+quoteIdent(f.CurrentUser)+" IN DATABASE "+quoteIdent(f.Database)+
		" SET search_path = "+quoteIdent(want)+"; then let the pooler open new server connections (PgBouncer: RECONNECT in its admin console, or a restart). Or point "+lc.urlKey()+" at PostgreSQL directly.")
	o.Details = details
	return o
}

// refusedParameter explains a pooler's refusal of a startup parameter at
// login, such as PgBouncer's refusal of options.
func (lc *liveCtx) refusedParameter(err error) (Outcome, bool) {
	name, ok := pooler.RefusedStartupParameter(err)
	if !ok {
		return Outcome{}, false
	}
	where := lc.target.Host + fmt.Sprintf(":%d", lc.target.Port)
	if name != "options" {
		o := fail(fmt.Sprintf("A connection pooler at %s refuses the startup parameter %s, so Connect cannot log in.", where, orDash(name)),
			"Add "+orDash(name)+" to the pooler's ignore_startup_parameters (PgBouncer), or remove it from "+lc.urlKey()+".")
		o.Cause = "pooler-refused-startup-parameter"
		return o, true
	}
	remedy := "Add options to ignore_startup_parameters in pgbouncer.ini"
	if s := lc.schemaName(); s != "" {
		remedy += " and give the role its schema on the server, since the pooler then drops it: ALTER ROLE " + quoteIdent(lc.target.User) + " IN DATABASE " + quoteIdent(lc.target.Database) + " SET search_path = " + quoteIdent(s) + ";"
	} else {
		remedy += "."
	}
	remedy += " Or point " + lc.urlKey() + " at PostgreSQL directly."
	o := fail("A connection pooler at "+where+" (PgBouncer) refuses the options startup parameter that "+lc.urlKey()+" sends, so Connect cannot log in.", remedy)
	o.Cause = "pooler-refused-options"
	return o, true
}
