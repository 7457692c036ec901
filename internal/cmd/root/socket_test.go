package root

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestUnixSocketURLsEveryCommand: both ways of writing a socket directory
// work in every database command, and encode-url builds one that does.
func TestUnixSocketURLsEveryCommand(t *testing.T) {
	role := srv.NewRole(t, "") // the socket trusts local users: no password
	db := srv.NewDatabase(t, role)
	code, built, errOut := run(t, map[string]string{}, "encode-url", "--user", role, "--host", srv.SocketDir, "--port", fmt.Sprint(srv.Port), "--database", db, "--no-password")
	if code != 0 {
		t.Fatalf("encode-url: exit %d: %s", code, errOut)
	}
	forms := map[string]string{
		"host parameter": fmt.Sprintf("postgres://%s@/%s?host=%s&port=%d", role, db, srv.SocketDir, srv.Port),
		"%2F host":       fmt.Sprintf("postgres://%s@%s:%d/%s", role, url.PathEscape(srv.SocketDir), srv.Port, db),
		"encode-url":     strings.TrimSpace(built),
	}
	for name, u := range forms {
		for _, c := range [][]string{{"show-locks"}, {"check"}, {"size-pool", "--nodes", "2"}, {"release-locks", "--pid", "1"}, {"encode-url", "--check", u}} {
			args := append(append([]string{}, c...), "--url", u)
			if c[0] == "encode-url" {
				args = c
			}
			code, out, errOut := run(t, map[string]string{}, args...)
			if code != 0 {
				t.Errorf("%s: %v: exit %d\n%s%s", name, c, code, out, errOut)
				continue
			}
			if c[0] == "show-locks" && !strings.Contains(out, "not encrypted: a Unix socket") {
				t.Errorf("%s: show-locks does not report the socket:\n%s", name, out)
			}
		}
	}
}
