package docgen

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestManPagesUpToDate fails when docs/man no longer matches the command
// tree: run `make man` and commit the result.
func TestManPagesUpToDate(t *testing.T) {
	stale, err := Stale(filepath.Join("..", "..", "docs", "man"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(stale)
	if len(stale) > 0 {
		t.Fatalf("docs/man is stale (%s); run `make man` and commit the pages", strings.Join(stale, ", "))
	}
}

func TestManPagesCoverEveryCommand(t *testing.T) {
	dir := t.TempDir()
	if err := Man(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"connectdb.1", "connectdb-check.1", "connectdb-encode-url.1", "connectdb-show-locks.1",
		"connectdb-release-locks.1", "connectdb-migrate.1", "connectdb-size-pool.1", "connectdb-version.1", "connectdb-completion-bash.1"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("missing page: %v", err)
			continue
		}
		if !strings.HasPrefix(string(b), `.nh`) || !strings.Contains(string(b), ".SH NAME") {
			t.Errorf("%s is not a man page:\n%.200s", name, b)
		}
	}
	// A stale page is detected.
	p := filepath.Join(dir, "connectdb-check.1")
	if err := os.WriteFile(p, []byte(".TH old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if stale, err := Stale(dir); err != nil || !slices.Equal(stale, []string{"connectdb-check.1"}) {
		t.Fatalf("Stale after editing a page = %q, %v; want [connectdb-check.1]", stale, err)
	}
}
