package check

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzURLChecks runs every offline check on arbitrary URLs that carry a
// known password: nothing panics, every result has a status and a message,
// and the password never appears in any rendering.
func FuzzURLChecks(f *testing.F) {
	for _, s := range []string{
		"db.example.com/connect",
		"db.example.com:5432/connect?sslmode=disable&options=-csearch_path=connect_schema",
		"a.b.rds.amazonaws.com/connect?sslmode=prefer",
		"[::1]:5432/x?options=-c%20search_path%3DA,b",
		"h/d?sslcert=/nonexistent&sslkey=/nonexistent",
		"h/d?options=search_path=x&options=",
		"h/d#frag?x",
		"%zz/d",
	} {
		f.Add("connect", s)
	}
	const secret = "Zq9SentinelPw"
	f.Fuzz(func(t *testing.T, user, rest string) {
		if strings.Contains(user+rest, "Zq9") {
			return
		}
		raw := "postgres://" + user + ":" + secret + "@" + rest
		in := &Input{Provider: "postgres", MaxOpenConnections: 10, MaxIdleConnections: 5, Now: time.Now(),
			Primary: &URLInput{Scope: ScopePrimary, URL: raw, Password: "x"}}
		rep, err := Run(t.Context(), Options{Input: in, LiveSkipReason: "skipped: --offline"})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_ = rep.WriteText(&b, TextOptions{Verbose: true})
		_ = json.NewEncoder(&b).Encode(rep.JSON(false))
		_ = rep.WriteJUnit(&b, false)
		_ = rep.WriteGitHub(&b, false)
		if strings.Contains(b.String(), "Zq9") {
			t.Fatalf("password leaked for %q", raw)
		}
		for _, r := range rep.Results {
			if r.Status == "" || r.Message == "" {
				t.Fatalf("%s: empty result %+v", r.ID, r)
			}
		}
	})
}
