// Package probe reads from a live PostgreSQL server what the pool sizing
// rules need: its connection limits and the connections other clients hold
// now. It only reads settings and pg_stat_activity; it changes nothing.
package probe

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ClientGroup counts the client connections of one application and user.
type ClientGroup struct {
	Application string `json:"application"`
	User        string `json:"user"`
	Connections int    `json:"connections"`
	// Connect is true when the user is the one Connect connects as: these
	// are taken to be Connect's own pools, already in the worst case, so
	// they are not subtracted from what the server can give.
	Connect bool `json:"connect_user"`
	// Hidden counts the sessions whose backend type this role may not see
	// (no pg_read_all_stats): counted as clients to be safe.
	Hidden int `json:"hidden_backend_type,omitempty"`
}

// Facts is what the server said.
type Facts struct {
	Version           string        `json:"server_version"`
	MaxConnections    int           `json:"max_connections"`
	SuperuserReserved int           `json:"superuser_reserved_connections"`
	Reserved          int           `json:"reserved_connections"` // 0 before PostgreSQL 16
	Clients           []ClientGroup `json:"clients"`
	// Identity tells servers apart: the postmaster's start time and port,
	// the same whatever host name, address or pooler reaches it (a standby
	// has its own).
	Identity string `json:"-"`
}

// Others is the number of connections held by clients other than Connect.
func (f Facts) Others() int {
	n := 0
	for _, g := range f.Clients {
		if !g.Connect {
			n += g.Connections
		}
	}
	return n
}

// Hidden is the number of sessions counted as clients although their
// backend type was hidden from this role.
func (f Facts) Hidden() int {
	n := 0
	for _, g := range f.Clients {
		n += g.Hidden
	}
	return n
}

// ConnectHeld is the number of connections Connect's user holds now.
func (f Facts) ConnectHeld() int {
	n := 0
	for _, g := range f.Clients {
		if g.Connect {
			n += g.Connections
		}
	}
	return n
}

const settingsSQL = `SELECT current_setting('server_version'),
       current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int,
       coalesce(current_setting('reserved_connections', true), '0')::int,
       ` + IdentitySQL

// IdentitySQL is an expression that tells servers apart, whatever host
// name, address or pooler reaches them: the postmaster's start time and
// port (a standby has its own). It needs no privilege, unlike
// pg_control_system().
const IdentitySQL = `pg_postmaster_start_time()::text || ' port ' || current_setting('port')`

// Identity returns the server identity of Facts.Identity over conn.
func Identity(ctx context.Context, conn *pgx.Conn) (string, error) {
	var id string
	err := conn.QueryRow(ctx, "SELECT "+IdentitySQL, pgx.QueryExecModeSimpleProtocol).Scan(&id)
	return id, err
}

// ClientSessions is a condition on pg_stat_activity that keeps every
// session that may hold one of max_connections' slots, whether or not the
// reading role may see its details. Only client backends take those slots:
// background workers, autovacuum and WAL senders have slots of their own.
// Without pg_read_all_stats a role sees backend_type only for its own
// sessions, but datid and usesysid for all: a hidden row connected to a
// database as a user is counted as a client (it may be a parallel worker of
// that user, so the count errs on the safe side). Hidden rows without a
// database (the logical replication launcher, physical WAL senders) or
// without a user (checkpointer, autovacuum launcher) never take a slot.
// Every query that counts sessions uses this one rule.
const ClientSessions = `(backend_type = 'client backend' OR (backend_type IS NULL AND datid IS NOT NULL AND usesysid IS NOT NULL))`

const clientsSQL = `SELECT coalesce(nullif(application_name, ''), '(none)'),
       coalesce(usename, '(none)'),
       count(*)::int,
       count(*) FILTER (WHERE backend_type IS NULL)::int
  FROM pg_stat_activity
 WHERE ` + ClientSessions + `
   AND pid <> pg_backend_pid()
 GROUP BY 1, 2
 ORDER BY 3 DESC, 1, 2`

// Read asks the server over conn for its limits and current clients,
// excluding conn's own backend. connectUser is the database user Connect
// connects as ("" when unknown). The queries use the simple protocol, so
// they also work through a transaction-mode PgBouncer, which cannot keep
// named prepared statements.
func Read(ctx context.Context, conn *pgx.Conn, connectUser string) (Facts, error) {
	var f Facts
	if err := conn.QueryRow(ctx, settingsSQL, pgx.QueryExecModeSimpleProtocol).Scan(&f.Version, &f.MaxConnections, &f.SuperuserReserved, &f.Reserved, &f.Identity); err != nil {
		return Facts{}, fmt.Errorf("reading max_connections and reserved connections: %w", err)
	}
	rows, err := conn.Query(ctx, clientsSQL, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return Facts{}, fmt.Errorf("reading pg_stat_activity: %w", err)
	}
	f.Clients, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ClientGroup, error) {
		var g ClientGroup
		err := r.Scan(&g.Application, &g.User, &g.Connections, &g.Hidden)
		g.Connect = connectUser != "" && g.User == connectUser
		return g, err
	})
	if err != nil {
		return Facts{}, fmt.Errorf("reading pg_stat_activity: %w", err)
	}
	return f, nil
}
