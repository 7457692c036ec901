package main

import (
	"strings"
	"testing"
	"time"
)

func TestProgressLines(t *testing.T) {
	now := time.Unix(0, 0)
	var b strings.Builder
	p := newProgress(&b, func() time.Time { return now })
	in := strings.Join([]string{
		`{"Action":"start","Package":"m/a"}`,
		`{"Action":"start","Package":"m/b"}`,
		`{"Action":"run","Package":"m/a","Test":"TestOK"}`,
		`{"Action":"output","Package":"m/a","Test":"TestOK","Output":"quiet\n"}`,
		`{"Action":"pass","Package":"m/a","Test":"TestOK"}`,
		`{"Action":"pass","Package":"m/a","Elapsed":1.5}`,
		`{"Action":"output","Package":"m/b","Test":"TestBad","Output":"    b_test.go:9: boom\n"}`,
		`{"Action":"fail","Package":"m/b","Test":"TestBad"}`,
		`{"Action":"fail","Package":"m/b","Elapsed":2}`,
		`{"ImportPath":"m/c","Action":"build-output","Output":"c.go:1: syntax error\n"}`,
		`{"ImportPath":"m/c","Action":"build-fail"}`,
		`not json`,
	}, "\n")
	p.read(strings.NewReader(in))
	now = now.Add(31 * time.Second)
	p.heartbeat()
	p.summary()
	got := b.String()
	for _, want := range []string{
		"  run   m/a\n", "  ok    m/a (1.5s)\n", "FAIL  m/b (2.0s)\n", "b_test.go:9: boom",
		"BUILD FAIL m/c\nc.go:1: syntax error\n", "not json\n", "31s: 2 packages done", "2 packages in 31s: 2 FAILED",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "quiet") {
		t.Errorf("output of a passing test was printed:\n%s", got)
	}
}
