package migrate

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMRollsBack runs the real binary and sends it SIGTERM while it
// copies: it must exit 143 (docs/exit-codes.md) saying it was interrupted,
// leave no table and no advisory lock behind, and a re-run must succeed.
func TestSIGTERMRollsBack(t *testing.T) { signalRollsBack(t, syscall.SIGTERM, 143) }

// TestCtrlCRollsBack is the same with Ctrl-C (SIGINT), which exits 130.
func TestCtrlCRollsBack(t *testing.T) { signalRollsBack(t, syscall.SIGINT, 130) }

func signalRollsBack(t *testing.T, sig syscall.Signal, wantCode int) {
	bin := filepath.Join(t.TempDir(), "connectdb")
	build := exec.Command("go", "build", "-o", bin, "github.com/connectdb/connectdb/cmd/connectdb")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sqlite := gen(t, 60000)
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)
	url := srv.URL(role, sentinel, db, "sslmode=disable", "application_name=sigterm-test")

	cmd := exec.Command(bin, "migrate", "--sqlite", sqlite, "--url", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "CONNECTDB_CONFIG=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	watcher := srv.Conn(t, "postgres")
	sent := false
	deadline := time.Now().Add(20 * time.Second)
	for !sent && time.Now().Before(deadline) {
		var n int
		if err := watcher.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'sigterm-test' AND query ILIKE 'COPY%' AND state = 'active'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			sent = true
		}
	}
	err := cmd.Wait()
	if !sent {
		t.Fatalf("the COPY was never seen (exit %v, stderr %q)", err, stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != wantCode || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("exit %d, stderr %q; want exit %d and an interruption message", code, stderr.String(), wantCode)
	}
	if strings.Contains(stderr.String(), sentinel) {
		t.Fatal("the password appears on stderr")
	}
	var tables, locks int
	c := srv.Conn(t, db)
	deadline = time.Now().Add(5 * time.Second)
	for {
		if err := c.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public'),
			(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory')`).Scan(&tables, &locks); err != nil {
			t.Fatal(err)
		}
		if locks == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if tables != 0 || locks != 0 {
		t.Fatalf("%d tables and %d advisory locks left after %v", tables, locks, sig)
	}
	rerun := exec.Command(bin, "migrate", "--sqlite", sqlite, "--url", url)
	rerun.Env = cmd.Env
	if out, err := rerun.CombinedOutput(); err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
}
