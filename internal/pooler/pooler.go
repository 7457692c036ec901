// Package pooler finds out, over a live connection, whether a connection
// pooler or a proxy sits between a client and PostgreSQL, and in which
// mode the pooler hands out server connections. It uses signals that hold
// against a real PgBouncer, none of which needs privileges:
//
//   - The cancel key a server sends at login carries its backend's pid. A
//     pooler answers the login itself and sends a key of its own, so the
//     key's pid differs from pg_backend_pid(); a plain TCP proxy forwards
//     the server's key unchanged.
//   - inet_server_port() is the port the backend was reached on: behind a
//     proxy or pooler it differs from the port the client dialled (or is
//     NULL when the pooler uses a Unix socket).
//   - Behind a transaction pooler, a second client connection that runs a
//     transaction after the first one's gets the same backend, although the
//     first client is still connected; a session pooler keeps a backend per
//     client. A backend that changes between two transactions of one client
//     shows the same.
//   - PgBouncer refuses unknown startup parameters such as options (see
//     RefusedStartupParameter).
package pooler

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Mode is how server connections are shared.
type Mode string

const (
	// None: the client talks to its own PostgreSQL backend (maybe through
	// a TCP proxy that forwards bytes).
	None Mode = "none"
	// Session: a pooler keeps one backend per client connection.
	Session Mode = "session"
	// Transaction: a pooler hands out a backend per transaction (or per
	// statement): session state such as advisory locks and SET is lost.
	Transaction Mode = "transaction"
	// Unknown: a pooler is there but its mode could not be told.
	Unknown Mode = "unknown"
)

// Finding is what Detect saw.
type Finding struct {
	Mode Mode `json:"mode"`
	// Pooler is true when something other than PostgreSQL answered the
	// login (the cancel key's pid is not the backend's).
	Pooler bool `json:"pooler"`
	// Forwarded is true when the backend was reached on another port than
	// the one dialled, or over a Unix socket: a proxy or pooler forwards.
	Forwarded bool `json:"forwarded"`
	// BackendPID is pg_backend_pid() of the first transaction.
	BackendPID int `json:"backend_pid"`
	// KeyPID is the pid in the cancel key the login returned.
	KeyPID uint32 `json:"key_pid"`
	// ServerPort is inet_server_port(), 0 over a Unix socket.
	ServerPort int `json:"server_port,omitempty"`
	// Evidence lists, in plain words, what the verdict rests on.
	Evidence []string `json:"evidence"`
}

// Dial opens one more client connection the way the first was opened.
type Dial func(ctx context.Context) (*pgx.Conn, error)

// Probe is the one query Detect runs on each connection. It uses the simple
// protocol (no prepared statement that another client's backend would lack).
const probeSQL = `SELECT pg_backend_pid(), coalesce(inet_server_port(), 0)`

func backend(ctx context.Context, c *pgx.Conn) (pid, port int, err error) {
	err = c.QueryRow(ctx, probeSQL, pgx.QueryExecModeSimpleProtocol).Scan(&pid, &port)
	return pid, port, err
}

// Detect looks at conn, reached by dialling dialledPort (0 for a Unix
// socket). It opens a second connection with dial only when a pooler
// answered the login, to tell its mode. conn must not be in a transaction.
func Detect(ctx context.Context, conn *pgx.Conn, dialledPort int, dial Dial) (Finding, error) {
	pid, port, err := backend(ctx, conn)
	if err != nil {
		return Finding{}, fmt.Errorf("reading the backend's pid and port: %w", err)
	}
	return Observed(ctx, conn, pid, port, dialledPort, dial), nil
}

// Observed is Detect for a caller that already read pg_backend_pid() and
// coalesce(inet_server_port(), 0) over conn, outside a transaction, in a
// query of its own: no round trip is added unless a pooler answered.
func Observed(ctx context.Context, conn *pgx.Conn, pid, port, dialledPort int, dial Dial) Finding {
	f := Finding{Mode: None, BackendPID: pid, KeyPID: conn.PgConn().PID(), ServerPort: port}
	f.Forwarded = dialledPort != 0 && port != dialledPort
	switch {
	case !f.Forwarded:
	case port == 0:
		f.Evidence = append(f.Evidence, fmt.Sprintf("the backend was reached over a Unix socket, not on port %d dialled", dialledPort))
	default:
		f.Evidence = append(f.Evidence, fmt.Sprintf("the backend was reached on port %d, not on port %d dialled", port, dialledPort))
	}
	if uint32(pid) == f.KeyPID {
		f.Evidence = append(f.Evidence, fmt.Sprintf("the login's cancel key names backend pid %d itself: no pooler answered the login", pid))
		return f
	}
	f.Pooler = true
	f.Evidence = append(f.Evidence, fmt.Sprintf("the login's cancel key names pid %d, the backend is pid %d: a pooler answered the login", f.KeyPID, pid))
	if dial == nil {
		f.Mode = Unknown
		return f
	}
	mode, ev, err := poolMode(ctx, conn, pid, dial)
	f.Evidence = append(f.Evidence, ev...)
	if err != nil {
		f.Mode = Unknown
		f.Evidence = append(f.Evidence, "the pool mode is unknown: "+firstLine(err))
		return f
	}
	f.Mode = mode
	return f
}

// rounds is how often the two-client test runs before a pooler is called
// session-mode: another client of the pooler may take the freed backend.
const rounds = 3

func poolMode(ctx context.Context, a *pgx.Conn, firstPID int, dial Dial) (Mode, []string, error) {
	b, err := dial(ctx)
	if err != nil {
		return Unknown, nil, fmt.Errorf("a second connection failed: %w", err)
	}
	defer b.Close(context.WithoutCancel(ctx))
	pa := firstPID
	for i := range rounds {
		if i > 0 {
			if pa, _, err = backend(ctx, a); err != nil {
				return Unknown, nil, err
			}
		}
		pb, _, err := backend(ctx, b)
		if err != nil {
			return Unknown, nil, err
		}
		if pb == pa {
			return Transaction, []string{fmt.Sprintf("a second client connection ran its transaction on backend pid %d while the first client, still connected, had used it: the pooler shares backends between transactions", pb)}, nil
		}
		again, _, err := backend(ctx, a)
		if err != nil {
			return Unknown, nil, err
		}
		if again != pa {
			return Transaction, []string{fmt.Sprintf("one client connection ran two transactions on backends %d and %d: the pooler shares backends between transactions", pa, again)}, nil
		}
	}
	return Session, []string{fmt.Sprintf("over %d rounds, each client connection kept its own backend: the pooler keeps a backend per client (session mode)", rounds)}, nil
}

// RefusedStartupParameter reports whether err is a pooler's refusal of a
// startup parameter the client sent, such as PgBouncer's "unsupported
// startup parameter: options", and returns the parameter's name.
func RefusedStartupParameter(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	const marker = "unsupported startup parameter"
	msg := err.Error()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		msg = pgErr.Message
	}
	i := strings.Index(msg, marker)
	if i < 0 {
		return "", false
	}
	name := strings.TrimLeft(msg[i+len(marker):], ": ")
	if f := strings.FieldsFunc(name, func(r rune) bool { return r == ' ' || r == ')' || r == '\n' || r == '"' }); len(f) > 0 {
		return f[0], true
	}
	return "", true
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
