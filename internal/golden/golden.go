// Package golden compares test output with golden files and, when the test
// binary runs with -update, rewrites them instead.
//
// Importing the package registers the -update flag once, so a test package
// that uses it must not define its own:
//
//	go test ./internal/check -run TestRenderGolden -update
//
// Normalising output (ports, pids, temporary paths) stays with the caller:
// pass Assert what the golden file should hold.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Assert fails t unless the file at path holds exactly got. With -update it
// writes got to path instead, creating the directory when needed.
func Assert[T string | []byte](t testing.TB, path string, got T) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file: %v (run go test with -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("output differs from %s (run go test with -update to accept it, then review the diff):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}
