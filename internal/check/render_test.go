package check

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/connectdb/connectdb/internal/golden"
	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/locks"
)

var normalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},
	{regexp.MustCompile(`\br_[a-z0-9_]+`), "ROLE"},
	{regexp.MustCompile(`\bdb_[a-z0-9_]+`), "DB"},
	{regexp.MustCompile(`PostgreSQL \d+\.\d+`), "PostgreSQL VERSION"},
	{regexp.MustCompile(`"server_version": "[^"]+"`), `"server_version": "VERSION"`},
	{regexp.MustCompile(`TLSv1\.\d`), "TLSvX"},
	{regexp.MustCompile(`(Round trip|connect time:) [0-9.]+(µs|ms|s)`), "$1 DURATION"},
	{regexp.MustCompile(`in use by others \d+`), "in use by others N"},
	{regexp.MustCompile(`\d+ of \d+ free connection slots`), "N of M free connection slots"},
	{regexp.MustCompile(`\d+ sessions? of other roles (is|are)`), "K sessions of other roles are"},
	{regexp.MustCompile(`pid \d+`), "pid PID"},
	{regexp.MustCompile(`session age [0-9dhms]+`), "session age AGE"},
	{regexp.MustCompile(`/tmp/[^ "&<]+`), "/TMP/FILE"},
	{regexp.MustCompile(`sslrootcert=[^ "&<)]+`), "sslrootcert=FILE"},
}

func normalise(s string) string {
	for _, n := range normalisers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return s
}

// assertGolden compares got, normalised, with testdata/name.
func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Assert(t, filepath.Join("testdata", name), normalise(got))
}

// goldenReport is a live run with a failure, a warning, skips and passes
// that are the same on every supported PostgreSQL version.
func goldenReport(t *testing.T) *Report {
	role, db, _ := ownedDB(t)
	url := srv.URL(role, sentinel, db, "options=-csearch_path%3Dconnect_schema")
	srv.MustExec(t, "postgres", "ALTER ROLE "+role+" PASSWORD '"+sentinel+"'")
	holder := srv.Conn(t, db)
	if _, err := holder.Exec(context.Background(), "SELECT pg_advisory_lock(4242)"); err != nil {
		t.Fatal(err)
	}
	return liveRun(t, url, func(o *Options) {
		o.Lock = new(locks.BigintKey(4242))
		o.Input.MaxIdleConnections = 20
		o.latencyLimit = time.Minute
	})
}

// sentinel is a password that must never appear in any output.
const sentinel = "S3ntinel-pw-XYZZY"

func TestRenderGolden(t *testing.T) {
	rep := goldenReport(t)
	var text, verbose, js, junit, gh bytes.Buffer
	if err := rep.WriteText(&text, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteText(&verbose, TextOptions{Verbose: true}); err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(&js)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep.JSON(false)); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJUnit(&junit, false); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteGitHub(&gh, false); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "verbose": verbose.String(), "json": js.String(), "junit": junit.String(), "github": gh.String()} {
		if strings.Contains(out, sentinel) {
			t.Errorf("%s output contains the password", name)
		}
	}
	assertGolden(t, "report.txt", text.String())
	assertGolden(t, "report.json", js.String())
	assertGolden(t, "report.junit.xml", junit.String())
	assertGolden(t, "report.github.txt", gh.String())

	// The JUnit document is well-formed and counts one failure.
	var doc junitSuites
	if err := xml.Unmarshal(junit.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Failures != 1 || doc.Tests != len(rep.Results) {
		t.Errorf("junit counts: %d failures, %d tests (results %d)", doc.Failures, doc.Tests, len(rep.Results))
	}
	if !strings.Contains(verbose.String(), "proved:") && !strings.Contains(verbose.String(), "max_connections") {
		t.Error("verbose output lacks passing details")
	}
}

func TestWrongSentinelPasswordNeverPrinted(t *testing.T) {
	role, db, _ := ownedDB(t)
	rep := liveRun(t, srv.URL(role, sentinel, db), nil)
	wantStatus(t, rep, ScopePrimary, "pg.connect", Fail)
	var b bytes.Buffer
	_ = rep.WriteText(&b, TextOptions{Verbose: true})
	_ = json.NewEncoder(&b).Encode(rep.JSON(true))
	_ = rep.WriteJUnit(&b, true)
	_ = rep.WriteGitHub(&b, true)
	if strings.Contains(b.String(), sentinel) || strings.Contains(b.String(), "XYZZY") {
		t.Fatal("the password appears in the output")
	}
}

func TestTextColourOnlyWhenEnabled(t *testing.T) {
	rep := offline(t, baseInput("postgres://connect@db.example.com/connect?sslmode=disable"))
	ios, _, _, _ := iostreams.Test()
	var plain, coloured bytes.Buffer
	_ = rep.WriteText(&plain, TextOptions{Color: ios.ColorScheme()})
	ios.SetColorEnabled(true)
	_ = rep.WriteText(&coloured, TextOptions{Color: ios.ColorScheme()})
	if strings.Contains(plain.String(), "\x1b[") || !strings.Contains(coloured.String(), "\x1b[") {
		t.Fatal("colour escapes wrong")
	}
}

func TestGitHubEscaping(t *testing.T) {
	rep := &Report{Results: []Result{{ID: "x.y", Target: ScopeConfig, Status: Fail, Message: "100% bad\nline", Remedy: "a: b, c"}}}
	var b bytes.Buffer
	_ = rep.WriteGitHub(&b, false)
	want := "::error title=x.y (config)::100%25 bad%0Aline%0AFix: a: b, c\n"
	if !strings.HasPrefix(b.String(), want) {
		t.Fatalf("got %q", b.String())
	}
}
