package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BouncerOptions configure a PgBouncer in front of a Server.
type BouncerOptions struct {
	// PoolMode is PgBouncer's pool_mode: "session" (default) or "transaction".
	PoolMode string
	// IgnoreStartupParameters lists startup parameters PgBouncer accepts
	// and drops instead of refusing the login (ignore_startup_parameters),
	// e.g. "options".
	IgnoreStartupParameters []string
}

// Bouncer is a running PgBouncer. Clients log in with the PostgreSQL
// role's own password (auth_query against pg_shadow); PgBouncer reaches the
// server over its Unix socket.
type Bouncer struct {
	Host     string // 127.0.0.1
	Port     int
	PoolMode string
	Version  string // e.g. "1.18.0"

	dir  string
	log  string
	cmd  *exec.Cmd
	done chan error
}

// BouncerBin returns the pgbouncer binary: CONNECTDB_PGBOUNCER, or the
// Debian package's, installed with scripts/fetch-pgbouncer.sh when missing.
func BouncerBin() (string, error) {
	if b := os.Getenv("CONNECTDB_PGBOUNCER"); b != "" {
		return b, nil
	}
	find := func() (string, bool) {
		for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"} {
			if _, err := os.Stat(p); err == nil {
				return p, true
			}
		}
		p, err := exec.LookPath("pgbouncer")
		return p, err == nil
	}
	if p, ok := find(); ok {
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	script := filepath.Join(root, "scripts", "fetch-pgbouncer.sh")
	if out, err := exec.Command("bash", script).CombinedOutput(); err != nil {
		return "", fmt.Errorf("pgtest: pgbouncer is not installed and %s failed: %w\n%s", script, err, out)
	}
	if p, ok := find(); ok {
		return p, nil
	}
	return "", errors.New("pgtest: scripts/fetch-pgbouncer.sh ran but no pgbouncer binary was found")
}

// StartBouncer starts a PgBouncer in front of s. The caller must Stop it.
func (s *Server) StartBouncer(ctx context.Context, opts BouncerOptions) (*Bouncer, error) {
	if opts.PoolMode == "" {
		opts.PoolMode = "session"
	}
	bin, err := BouncerBin()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(s.root, "pgbouncer-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	if err := chown(dir, cred); err != nil {
		return nil, err
	}
	b := &Bouncer{Host: "127.0.0.1", PoolMode: opts.PoolMode, dir: dir, log: filepath.Join(dir, "pgbouncer.log")}
	userlist := filepath.Join(dir, "userlist.txt")
	if err := writeOwned(userlist, []byte(fmt.Sprintf("%q %q\n", s.SuperUser, s.SuperPassword)), 0o600, cred); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput(); err == nil {
		if f := strings.Fields(string(out)); len(f) >= 2 {
			b.Version = f[1]
		}
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		b.Port = port
		ini := fmt.Sprintf(`[databases]
* = host=%s port=%d
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = scram-sha-256
auth_file = %s
auth_user = %s
auth_query = SELECT usename, passwd FROM pg_shadow WHERE usename = $1
pool_mode = %s
ignore_startup_parameters = %s
max_client_conn = 200
default_pool_size = 20
server_lifetime = 3600
logfile = %s
pidfile = %s
`, s.SocketDir, s.Port, port, userlist, s.SuperUser, opts.PoolMode,
			strings.Join(append([]string{"extra_float_digits"}, opts.IgnoreStartupParameters...), ","),
			b.log, filepath.Join(dir, "pgbouncer.pid"))
		conf := filepath.Join(dir, "pgbouncer.ini")
		if err := writeOwned(conf, []byte(ini), 0o600, cred); err != nil {
			return nil, err
		}
		lastErr = b.launch(ctx, bin, conf, cred)
		if lastErr == nil {
			return b, nil
		}
		if !strings.Contains(lastErr.Error(), "in use") {
			break
		}
	}
	_ = os.RemoveAll(dir)
	return nil, lastErr
}

func (b *Bouncer) launch(ctx context.Context, bin, conf string, cred *syscall.Credential) error {
	cmd := exec.Command(bin, conf)
	cmd.Dir = b.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: starting pgbouncer: %w", err)
	}
	b.cmd = cmd
	b.done = make(chan error, 1)
	go func() { b.done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	addr := net.JoinHostPort(b.Host, strconv.Itoa(b.Port))
	for {
		var d net.Dialer
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case werr := <-b.done:
			b.cmd = nil
			return fmt.Errorf("pgtest: pgbouncer exited during start-up (%v): %s", werr, b.logTail())
		case <-ctx.Done():
			b.Stop()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Stop()
			return fmt.Errorf("pgtest: pgbouncer did not listen on %s within 60s: %s", addr, b.logTail())
		}
	}
}

func (b *Bouncer) logTail() string {
	data, _ := os.ReadFile(b.log)
	s := strings.TrimSpace(string(data))
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s
}

// URL returns a URL that reaches db as user through the bouncer, without
// TLS, with the given extra query parameters.
func (b *Bouncer) URL(user, password, db string, params ...string) string {
	u := &url.URL{Scheme: "postgres", Host: net.JoinHostPort(b.Host, strconv.Itoa(b.Port)), Path: "/" + db}
	if password != "" {
		u.User = url.UserPassword(user, password)
	} else {
		u.User = url.User(user)
	}
	u.RawQuery = strings.Join(append([]string{"sslmode=disable"}, params...), "&")
	return u.String()
}

// Stop ends PgBouncer and removes its files.
func (b *Bouncer) Stop() {
	stopChild(b.cmd, b.done)
	b.cmd = nil
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

// Bouncer starts a PgBouncer in front of s for the test and stops it when
// the test ends.
func (s *Server) Bouncer(t testing.TB, opts BouncerOptions) *Bouncer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := s.StartBouncer(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	return b
}
