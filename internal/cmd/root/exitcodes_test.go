package root

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
)

// TestDocumentedExitCodes reads the table of docs/exit-codes.md and
// produces each code with a real run; a documented code nothing produces,
// or a produced code the page does not list, fails the test.
func TestDocumentedExitCodes(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/exit-codes.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[int]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\| (\d+) \|`).FindAllStringSubmatch(string(doc), -1) {
		n, _ := strconv.Atoi(m[1])
		documented[n] = true
	}
	if len(documented) == 0 {
		t.Fatal("no exit codes found in docs/exit-codes.md")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	role := srv.NewRole(t, sentinel)
	db := srv.NewDatabase(t, role)

	runs := map[int]func(t *testing.T) int{
		0: func(t *testing.T) int { code, _, _ := run(t, map[string]string{}, "version"); return code },
		1: func(t *testing.T) int {
			code, _, _ := run(t, map[string]string{}, "size-pool", "--config", os.DevNull, "--nodes", "20", "--max-connections", "50")
			return code
		},
		2: func(t *testing.T) int {
			code, _, _ := run(t, map[string]string{}, "check", "--output", "yaml")
			return code
		},
		3: func(t *testing.T) int {
			code, _, _ := run(t, map[string]string{}, "show-locks", "--url", "postgres://connect@"+down+"/connect?sslmode=disable")
			wrong, _, _ := run(t, map[string]string{"PGPASSWORD": "wrong"}, "show-locks", "--url", srv.URL(role, "", db))
			if wrong != code {
				t.Errorf("a wrong password exits %d, a server that is down %d", wrong, code)
			}
			return code
		},
		130: func(t *testing.T) int { return interrupt(t, srv.URL(role, "", db), syscall.SIGINT) },
		143: func(t *testing.T) int { return interrupt(t, srv.URL(role, "", db), syscall.SIGTERM) },
	}
	for code := range documented {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			r, ok := runs[code]
			if !ok {
				t.Fatalf("exit code %d is documented, but no test produces it", code)
			}
			if got := r(t); got != code {
				t.Errorf("exit %d, want the documented %d", got, code)
			}
		})
	}
	for code := range runs {
		if !documented[code] {
			t.Errorf("exit code %d happens but is not in docs/exit-codes.md", code)
		}
	}
}

// interrupt runs the real binary's show-locks --watch and sends it sig
// (Ctrl-C is SIGINT) once it has drawn the first screen; it returns the
// exit code.
func interrupt(t *testing.T, url string, sig syscall.Signal) int {
	bin := filepath.Join(t.TempDir(), "connectdb")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/connectdb/connectdb/cmd/connectdb").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "show-locks", "--watch", "1h", "--url", url)
	cmd.Env = append(os.Environ(), "CONNECTDB_CONFIG=", "CONNECTDB_POSTGRES_PASSWORD="+sentinel)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if regexp.MustCompile(`press Ctrl-C to stop`).MatchString(sc.Text()) {
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(fmt.Errorf("waiting for connectdb: %w", err))
	}
	return cmd.ProcessState.ExitCode()
}
