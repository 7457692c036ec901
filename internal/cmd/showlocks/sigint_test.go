package showlocks

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWatchJSONLinesAndCtrlC runs the real binary with --watch --output
// json: every line is one JSON object, and Ctrl-C ends it with exit 130.
func TestWatchJSONLinesAndCtrlC(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "connectdb")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/connectdb/connectdb/cmd/connectdb").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	db := srv.NewDatabase(t, "")
	role := srv.NewRole(t, sentinel) // Connect's own unprivileged role
	srv.MustExec(t, db, "GRANT CONNECT ON DATABASE "+db+" TO "+role)
	cmd := exec.Command(bin, "show-locks", "--watch", "10ms", "--output", "json", "--url", srv.URL(role, "", db))
	cmd.Env = append(os.Environ(), "CONNECTDB_CONFIG=", "CONNECTDB_POSTGRES_PASSWORD="+sentinel)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	lines := 0
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Errorf("line %d is not one JSON object: %v: %q", lines+1, err, sc.Text())
		}
		lines++
		if lines == 3 {
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd.Wait()
	if lines < 3 {
		t.Fatalf("only %d refreshes before the end; stderr %q", lines, stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d after Ctrl-C, want 130; stderr %q", code, stderr.String())
	}
	if strings.Contains(stderr.String(), sentinel) {
		t.Error("the password appears on stderr")
	}
}
