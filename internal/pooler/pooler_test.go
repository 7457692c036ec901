package pooler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/connectdb/connectdb/internal/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, pgtest.Options{}, &srv)) }

func dialer(url string) Dial {
	return func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, url) }
}

// TestDetectAgainstRealPgBouncer runs Detect directly against PostgreSQL
// and through a real PgBouncer in each mode.
func TestDetectAgainstRealPgBouncer(t *testing.T) {
	ctx := context.Background()
	role := srv.NewRole(t, "pw")
	db := srv.NewDatabase(t, role)
	type target struct {
		name      string
		url       string
		port      int
		want      Mode
		pooler    bool
		forwarded bool
	}
	targets := []target{{"direct", srv.URL(role, "pw", db, "sslmode=disable"), srv.Port, None, false, false}}
	for _, o := range []pgtest.BouncerOptions{
		{PoolMode: "session"},
		{PoolMode: "transaction"},
		{PoolMode: "session", IgnoreStartupParameters: []string{"options"}},
		{PoolMode: "transaction", IgnoreStartupParameters: []string{"options"}},
	} {
		b := srv.Bouncer(t, o)
		targets = append(targets, target{fmt.Sprintf("pgbouncer %s %v", o.PoolMode, o.IgnoreStartupParameters),
			b.URL(role, "pw", db), b.Port, Mode(o.PoolMode), true, true})
	}
	for _, tt := range targets {
		t.Run(tt.name, func(t *testing.T) {
			// The pooler's own other clients must not change the verdict.
			for range 2 {
				conn, err := pgx.Connect(ctx, tt.url)
				if err != nil {
					t.Fatal(err)
				}
				f, err := Detect(ctx, conn, tt.port, dialer(tt.url))
				conn.Close(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if f.Mode != tt.want || f.Pooler != tt.pooler || f.Forwarded != tt.forwarded {
					t.Fatalf("Detect = mode %s pooler %v forwarded %v, want %s %v %v; evidence %q", f.Mode, f.Pooler, f.Forwarded, tt.want, tt.pooler, tt.forwarded, f.Evidence)
				}
				if len(f.Evidence) == 0 {
					t.Error("no evidence")
				}
			}
		})
	}
}

// TestDetectWithoutDial: a pooler found, but no way to open a second
// connection, leaves the mode unknown rather than guessing.
func TestDetectWithoutDial(t *testing.T) {
	ctx := context.Background()
	role := srv.NewRole(t, "pw")
	db := srv.NewDatabase(t, role)
	b := srv.Bouncer(t, pgtest.BouncerOptions{PoolMode: "transaction"})
	conn, err := pgx.Connect(ctx, b.URL(role, "pw", db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	f, err := Detect(ctx, conn, b.Port, nil)
	if err != nil || f.Mode != Unknown || !f.Pooler {
		t.Fatalf("Detect = %+v, %v", f, err)
	}
	f, err = Detect(ctx, conn, b.Port, func(context.Context) (*pgx.Conn, error) { return nil, errors.New("too many connections") })
	if err != nil || f.Mode != Unknown || !f.Pooler {
		t.Fatalf("Detect with a failing dial = %+v, %v", f, err)
	}
}

func TestRefusedStartupParameterFromPgBouncer(t *testing.T) {
	role := srv.NewRole(t, "pw")
	db := srv.NewDatabase(t, role)
	b := srv.Bouncer(t, pgtest.BouncerOptions{PoolMode: "session"})
	_, err := pgx.Connect(context.Background(), b.URL(role, "pw", db, "options=-csearch_path%3Dconnect"))
	if name, ok := RefusedStartupParameter(err); !ok || name != "options" {
		t.Fatalf("RefusedStartupParameter(%v) = %q, %v", err, name, ok)
	}
	_, err = pgx.Connect(context.Background(), srv.URL(role, "wrong", db, "sslmode=disable"))
	if name, ok := RefusedStartupParameter(err); ok {
		t.Errorf("a wrong password read as a refused parameter %q", name)
	}
}

func TestRefusedStartupParameter(t *testing.T) {
	tests := []struct {
		err  error
		want string
		ok   bool
	}{
		{nil, "", false},
		{errors.New("connection refused"), "", false},
		{&pgconn.PgError{Severity: "FATAL", Code: "08P01", Message: "unsupported startup parameter: options"}, "options", true},
		{fmt.Errorf("wrapped: %w", &pgconn.PgError{Message: "unsupported startup parameter: extra_float_digits"}), "extra_float_digits", true},
		{errors.New(`failed to connect to host=x: server error (FATAL: unsupported startup parameter: search_path (SQLSTATE 08P01))`), "search_path", true},
		{errors.New("unsupported startup parameter"), "", true},
	}
	for _, tt := range tests {
		name, ok := RefusedStartupParameter(tt.err)
		if name != tt.want || ok != tt.ok {
			t.Errorf("RefusedStartupParameter(%v) = %q, %v; want %q, %v", tt.err, name, ok, tt.want, tt.ok)
		}
	}
}

func FuzzRefusedStartupParameter(f *testing.F) {
	f.Add("unsupported startup parameter: options")
	f.Add("FATAL: unsupported startup parameter:")
	f.Fuzz(func(t *testing.T, msg string) {
		name, ok := RefusedStartupParameter(errors.New(msg))
		if !ok && name != "" {
			t.Fatalf("name %q without a refusal", name)
		}
	})
}
