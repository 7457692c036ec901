package pgtest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCheckReachableNeverWidens proves the harness reports a private parent
// folder instead of adding o+x to it (it used to make /root world-searchable).
func TestCheckReachableNeverWidens(t *testing.T) {
	// t.TempDir's folders are private (0700); this test needs a searchable
	// base to put its own private folder in.
	base, err := os.MkdirTemp("", "pgtest-reach-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(base, "private")
	bin := filepath.Join(private, "postgres", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	// An account that neither owns the folders nor shares their group.
	other := &syscall.Credential{Uid: uint32(os.Getuid()) + 4242, Gid: uint32(os.Getgid()) + 4242}

	err = checkReachable(bin, other)
	if err == nil || !strings.Contains(err.Error(), private+" is not searchable") || !strings.Contains(err.Error(), "CONNECTDB_PG_CACHE") {
		t.Fatalf("checkReachable = %v, want an error naming %s and CONNECTDB_PG_CACHE", err, private)
	}
	fi, err := os.Stat(private)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Fatalf("checkReachable changed %s to %o; it must never widen a permission", private, got)
	}

	if err := os.Chmod(private, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := checkReachable(bin, other); err != nil {
		t.Fatalf("checkReachable with o+x on every parent = %v, want nil", err)
	}
	// The owner reaches its own 0700 folder.
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	owner := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	if err := checkReachable(bin, owner); err != nil {
		t.Fatalf("checkReachable for the owner = %v, want nil", err)
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv("CONNECTDB_PG_CACHE", "/somewhere/else")
	if got := CacheDir("/repo"); got != "/somewhere/else" {
		t.Errorf("CacheDir with CONNECTDB_PG_CACHE = %q", got)
	}
	t.Setenv("CONNECTDB_PG_CACHE", "")
	want := "/repo/.cache/postgres"
	if os.Geteuid() == 0 {
		want = rootCache
	}
	if got := CacheDir("/repo"); got != want {
		t.Errorf("CacheDir = %q, want %q", got, want)
	}
	// The server's own tree (what Start used) holds no widened parent: the
	// cache in use is reachable by the server account as it is.
	if os.Geteuid() == 0 {
		cred, err := serverCredential()
		if err != nil {
			t.Fatal(err)
		}
		bin, err := BinDir(srv.Major)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkReachable(bin, cred); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(bin, "/root/") {
			t.Errorf("binaries for root are cached under /root (%s), which only a widened /root lets %s reach", bin, OSUser)
		}
	}
}
