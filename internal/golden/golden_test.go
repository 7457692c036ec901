package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures instead of reporting them.
// Fatal ends the goroutine like the real one, so Assert runs in its own.
type recorder struct {
	testing.TB
	errors, fatals []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatal(args ...any) {
	r.fatals = append(r.fatals, fmt.Sprint(args...))
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

// assert runs Assert against a recorder and returns it.
func assert[T string | []byte](t *testing.T, path string, got T) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Assert(r, path, got)
	}()
	<-done
	return r
}

// setUpdate sets the -update flag for one test, so the tests mean the same
// whether or not go test was given -update.
func setUpdate(t *testing.T, v bool) {
	old := *update
	*update = v
	t.Cleanup(func() { *update = old })
}

func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.golden")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAssertMatch(t *testing.T) {
	setUpdate(t, false)
	path := write(t, "same\n")
	for _, r := range []*recorder{assert(t, path, "same\n"), assert(t, path, []byte("same\n"))} {
		if len(r.errors)+len(r.fatals) != 0 {
			t.Errorf("matching output failed: %q %q", r.errors, r.fatals)
		}
	}
}

func TestAssertMismatchShowsGotWantAndHowToUpdate(t *testing.T) {
	setUpdate(t, false)
	path := write(t, "want-text\n")
	r := assert(t, path, []byte("got-text\n"))
	if len(r.errors) != 1 || len(r.fatals) != 0 {
		t.Fatalf("want one error, got errors %q fatals %q", r.errors, r.fatals)
	}
	msg := r.errors[0]
	for _, s := range []string{path, "-update", "--- got ---\ngot-text\n", "--- want ---\nwant-text\n"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message lacks %q:\n%s", s, msg)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != "want-text\n" {
		t.Errorf("golden file changed without -update: %q", b)
	}
}

func TestAssertMissingFileIsFatal(t *testing.T) {
	setUpdate(t, false)
	r := assert(t, filepath.Join(t.TempDir(), "absent.golden"), "x")
	if len(r.fatals) != 1 || !strings.Contains(r.fatals[0], "-update") || !strings.Contains(r.fatals[0], "absent.golden") {
		t.Errorf("want one fatal naming the file and -update, got %q", r.fatals)
	}
}

func TestAssertUpdateWritesFile(t *testing.T) {
	setUpdate(t, true)
	path := filepath.Join(t.TempDir(), "new", "dir", "out.golden")
	if r := assert(t, path, "fresh\n"); len(r.errors)+len(r.fatals) != 0 {
		t.Fatalf("update failed: %q %q", r.errors, r.fatals)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "fresh\n" {
		t.Fatalf("after -update the file holds %q (%v), want %q", b, err, "fresh\n")
	}
	path = write(t, "stale\n")
	if r := assert(t, path, "fresh\n"); len(r.errors)+len(r.fatals) != 0 {
		t.Fatalf("update of a differing file failed: %q %q", r.errors, r.fatals)
	}
	if b, _ := os.ReadFile(path); string(b) != "fresh\n" {
		t.Errorf("-update left %q, want %q", b, "fresh\n")
	}
}
