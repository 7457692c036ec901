package root

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConnectEnvForEveryCommand: Connect's CONNECT_* overrides and
// --env-file reach commands through the shared config loader, not only
// check. size-pool works offline, so it shows the effective setting and
// where it came from.
func TestConnectEnvForEveryCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "rstudio-connect.gcfg")
	if err := os.WriteFile(cfg, []byte("[Database]\nProvider = postgres\nMaxOpenConnections = 10\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(dir, "rstudio-connect.env")
	if err := os.WriteFile(envFile, []byte("# systemd EnvironmentFile\nCONNECT_DATABASE_MAXOPENCONNECTIONS=\"33\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"size-pool", "--config", cfg, "--nodes", "2", "--max-connections", "500", "--output", "json"}

	code, out, errOut := run(t, map[string]string{"CONNECT_DATABASE_MAXOPENCONNECTIONS": "21"}, args...)
	if code != 0 || !strings.Contains(out, "21") || !strings.Contains(out, "CONNECT_DATABASE_MAXOPENCONNECTIONS") {
		t.Errorf("environment: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = run(t, nil, append(args, "--env-file", envFile)...)
	if code != 0 || !strings.Contains(out, "33") || !strings.Contains(out, "--env-file "+envFile+":2") {
		t.Errorf("--env-file: exit %d\n%s%s", code, out, errOut)
	}
	for _, bad := range []string{filepath.Join(dir, "missing.env"), "/dev/zero", dir} {
		code, _, errOut = run(t, nil, append(args, "--env-file", bad)...)
		if code != 2 || !strings.Contains(errOut, bad) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("--env-file %s: exit %d, %q", bad, code, errOut)
		}
	}
	code, _, errOut = run(t, map[string]string{"CONNECT_DATABASE_MAXOPENCONNECTIONS": "many"}, args...)
	if code != 2 || !strings.Contains(errOut, "CONNECT_DATABASE_MAXOPENCONNECTIONS: invalid integer") {
		t.Errorf("bad override: exit %d, %q", code, errOut)
	}
}
