package showlocks_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connectdb/connectdb/internal/cmd/root"
	"github.com/connectdb/connectdb/internal/cmd/showlocks"
	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/locks/lockstest"
)

// run runs connectdb with args and env, as a shell would.
func run(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	f := cmdutil.NewFactory(io)
	f.Getenv = func(k string) string { return env[k] }
	code := root.Run(context.Background(), f, args)
	return code, out.String() + errOut.String()
}

// shellWords splits a command line the way a POSIX shell does for
// unquoted words, backslash escapes and single-quoted strings.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, in = true, true
		case c == ' ':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		case c == '"' || c == '$' || c == '`':
			t.Fatalf("hint %q needs more than single quotes", s)
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// TestHintsRunWhenPasted runs each "next:" command show-locks prints, for
// a target chosen by --url (with a password in it) and by --config.
func TestHintsRunWhenPasted(t *testing.T) {
	srv := showlocks.Server()
	db := showlocks.StuckScenario(t)
	// --stuck-after takes 1s at least: wait until the holder has been idle
	// that long by the server's clock, so show-locks calls it stuck.
	lockstest.Until(t, srv, db, lockstest.InState("rstudio-connect", "idle", time.Second))
	noPW := strings.Replace(srv.SuperURL(db), ":"+srv.SuperPassword+"@", "@", 1)
	cfg := filepath.Join(t.TempDir(), "it's connect.gcfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[Database]\nProvider = postgres\n[Postgres]\nURL = %q\n", noPW)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CONNECTDB_POSTGRES_PASSWORD": srv.SuperPassword}
	for name, args := range map[string][]string{
		"--url":    {"--url", srv.SuperURL(db)},
		"--config": {"--config", cfg},
	} {
		t.Run(name, func(t *testing.T) {
			code, out := run(t, env, append([]string{"show-locks", "--lock-id", "4242", "--stuck-after", "1s"}, args...)...)
			if code != 0 {
				t.Fatalf("show-locks exit %d:\n%s", code, out)
			}
			var hints []string
			for _, line := range strings.Split(out, "\n") {
				if _, h, ok := strings.Cut(line, "next: "); ok {
					h, _, _ = strings.Cut(h, "   (")
					hints = append(hints, h)
				}
			}
			if len(hints) == 0 {
				t.Fatalf("no next: line in\n%s", out)
			}
			for _, h := range hints {
				if strings.Contains(h, srv.SuperPassword) {
					t.Fatalf("hint shows the password: %s", h)
				}
				if !strings.Contains(h, args[0]+" ") {
					t.Errorf("hint %q lacks %s", h, args[0])
				}
				words := shellWords(t, h)
				if words[0] != "connectdb" {
					t.Fatalf("hint %q does not start with connectdb", h)
				}
				code, out := run(t, env, words[1:]...)
				if code != 0 || !strings.Contains(out, "Dry run: nothing was ended") {
					t.Errorf("pasted hint %q: exit %d\n%s", h, code, out)
				}
			}
		})
	}
}
