package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Standby is a hot standby of a Server, streaming from it through a
// physical replication slot.
type Standby struct {
	*Server
	primary *Server
	slot    string
}

// Stop stops the standby, removes its files and drops its slot.
func (r *Standby) Stop() {
	r.Server.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = r.primary.Exec(ctx, "postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", r.slot)
}

// StartReplica starts a hot standby of s, made from a base backup taken
// with the low-level backup functions (the npm binaries have no
// pg_basebackup) and streaming from s through a replication slot. Roles and
// databases that exist on s when it is called exist on the standby, and
// later changes follow. The caller must Stop it.
func (s *Server) StartReplica(ctx context.Context) (*Standby, error) {
	bin, err := BinDir(s.Major)
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	c, err := s.Connect(ctx, "postgres")
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	// The standby repeats the primary's command-line settings (TLS,
	// max_connections, which a standby may not lower, and the rest).
	rows, err := c.Query(ctx, `SELECT name, setting FROM pg_settings
		WHERE source = 'command line' AND name NOT IN ('port', 'unix_socket_directories') ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var settings []string
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			rows.Close()
			return nil, err
		}
		settings = append(settings, "-c", name+"="+value)
	}
	rows.Close()
	// pgtest's pg_hba.conf has no replication line: add one for the socket.
	hbaPath := filepath.Join(s.DataDir, "pg_hba.conf")
	hba, err := os.ReadFile(hbaPath)
	if err == nil && !strings.Contains(string(hba), "local replication") {
		err = writeOwned(hbaPath, append([]byte("local replication all trust\n"), hba...), 0o600, cred)
		if err == nil {
			_, err = c.Exec(ctx, "SELECT pg_reload_conf()")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("pgtest: allowing replication connections: %w", err)
	}

	root, err := os.MkdirTemp(runtimeRoot(), strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, err
	}
	r := &Standby{primary: s, slot: "pgtest_" + filepath.Base(root)[strings.Index(filepath.Base(root), "-")+1:], Server: &Server{
		Major: s.Major, Version: s.Version, Host: s.Host, TLS: s.TLS, CA: s.CA, CACertFile: s.CACertFile,
		SuperUser: s.SuperUser, SuperPassword: s.SuperPassword, root: root,
		DataDir: filepath.Join(root, "data"), SocketDir: filepath.Join(root, "sock"), log: filepath.Join(root, "postgres.log"),
	}}
	r.slot = strings.ToLower(unsafeName.ReplaceAllString(strings.ToLower(r.slot), "_"))
	if err := r.baseBackup(ctx, c, cred); err != nil {
		r.Stop()
		return nil, err
	}
	if err := r.startStandby(ctx, bin, cred, settings); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

// baseBackup copies the primary's data folder between the start and the
// stop of a non-exclusive backup, then writes the backup label and the
// standby settings.
func (r *Standby) baseBackup(ctx context.Context, c *pgx.Conn, cred *syscall.Credential) error {
	if _, err := c.Exec(ctx, "SELECT pg_create_physical_replication_slot($1, true)", r.slot); err != nil {
		return fmt.Errorf("pgtest: creating replication slot: %w", err)
	}
	start, stop := "SELECT pg_backup_start('pgtest', true)", "SELECT labelfile FROM pg_backup_stop(false)"
	if r.Major < 15 {
		start, stop = "SELECT pg_start_backup('pgtest', true, false)", "SELECT labelfile FROM pg_stop_backup(false, false)"
	}
	if _, err := c.Exec(ctx, start); err != nil {
		return fmt.Errorf("pgtest: starting the base backup: %w", err)
	}
	skip := map[string]bool{"postmaster.pid": true, "postmaster.opts": true, "pg_wal": true, "pg_replslot": true, "standby.signal": true}
	copyErr := copyTree(r.primary.DataDir, r.DataDir, cred, skip)
	var label string
	if err := c.QueryRow(ctx, stop).Scan(&label); err != nil {
		return fmt.Errorf("pgtest: stopping the base backup: %w", err)
	}
	if copyErr != nil {
		return copyErr
	}
	// WAL written up to the stop, copied after it; the slot keeps the rest.
	if err := copyTree(filepath.Join(r.primary.DataDir, "pg_wal"), filepath.Join(r.DataDir, "pg_wal"), cred, map[string]bool{"archive_status": true}); err != nil {
		return err
	}
	for _, d := range []string{"pg_replslot", filepath.Join("pg_wal", "archive_status")} {
		if err := os.MkdirAll(filepath.Join(r.DataDir, d), 0o700); err != nil {
			return err
		}
		if err := chown(filepath.Join(r.DataDir, d), cred); err != nil {
			return err
		}
	}
	conninfo := fmt.Sprintf("host=%s port=%d user=%s application_name=pgtest_standby", r.primary.SocketDir, r.primary.Port, r.primary.SuperUser)
	auto := fmt.Sprintf("primary_conninfo = '%s'\nprimary_slot_name = '%s'\n", conninfo, r.slot)
	old, _ := os.ReadFile(filepath.Join(r.DataDir, "postgresql.auto.conf"))
	files := map[string][]byte{
		"backup_label":         []byte(label),
		"standby.signal":       nil,
		"postgresql.auto.conf": append(old, auto...),
	}
	for name, data := range files {
		if err := writeOwned(filepath.Join(r.DataDir, name), data, 0o600, cred); err != nil {
			return err
		}
	}
	return nil
}

// copyTree copies the folder src to dst (created 0700), owned by cred,
// leaving out the top-level names in skip. Files that vanish while it
// runs (temporary files of the running server) are left out.
func copyTree(src, dst string, cred *syscall.Credential, skip map[string]bool) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if rel != "." && skip[strings.Split(rel, string(filepath.Separator))[0]] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			if err := os.MkdirAll(to, 0o700); err != nil {
				return err
			}
			return chown(to, cred)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		return writeOwned(to, data, 0o600, cred)
	})
}

func (r *Standby) startStandby(ctx context.Context, bin string, cred *syscall.Credential, settings []string) error {
	if err := os.Chmod(r.root, 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(r.SocketDir, 0o700); err != nil {
		return err
	}
	for _, d := range []string{r.root, r.SocketDir, r.DataDir} {
		if err := chown(d, cred); err != nil {
			return err
		}
	}
	if err := os.Chmod(r.DataDir, 0o700); err != nil {
		return err
	}
	args := append([]string{"-D", r.DataDir, "-k", r.SocketDir}, settings...)
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		r.Port = port
		lastErr = r.launch(ctx, bin, cred, append(args, "-p", strconv.Itoa(port)))
		if lastErr == nil || !strings.Contains(lastErr.Error(), "already in use") {
			return lastErr
		}
	}
	return lastErr
}

// Replica starts a hot standby of s for the test and stops it when the
// test ends.
func (s *Server) Replica(t testing.TB) *Standby {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := s.StartReplica(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}
