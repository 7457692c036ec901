// Package e2e tests the built connectdb binary end to end against a real
// PostgreSQL server: monitoring mode (--output nagios) with its exit codes,
// and the CI recipes of docs/ci.md run command by command.
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/connectdb/connectdb/internal/pgtest"
)

var (
	srv *pgtest.Server
	bin string // the connectdb binary built for this run
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "connectdb-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "connectdb")
	build := exec.Command("go", "build", "-o", bin, "./cmd/connectdb")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: building connectdb: %v\n%s", err, out)
		return 1
	}
	return pgtest.Run(m, pgtest.Options{}, &srv)
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// connectdb runs the binary with args in dir (the test's temp folder when
// ""), with env added to a minimal environment.
func connectdb(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running connectdb %q: %v", args, err)
	}
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// writeFile writes body to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
