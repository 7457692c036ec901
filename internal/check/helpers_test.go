package check

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/target"
)

// liveRun resolves url as --url (and instr as --instrumentation-url) the
// way the command does and runs every check.
func liveRun(t *testing.T, url string, mod func(*Options)) *Report {
	t.Helper()
	return liveRun2(t, url, "", mod)
}

func liveRun2(t *testing.T, url, instr string, mod func(*Options)) *Report {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IO: ios, Globals: &cmdutil.Globals{URL: url, InstrumentationURL: instr, ConfigPath: "/nonexistent/rstudio-connect.gcfg"},
		Getenv: func(string) string { return "" }, Now: time.Now}
	set, err := target.Resolve(context.Background(), f)
	in := &Input{Provider: "postgres", MaxOpenConnections: 10, MaxIdleConnections: 5,
		Primary: &URLInput{Scope: ScopePrimary, URL: url, Source: "--url"}}
	if instr != "" {
		in.Instrumentation = &URLInput{Scope: ScopeInstrumentation, URL: instr, Source: "--instrumentation-url"}
	}
	opts := Options{Input: in, SharedMetrics: true, Timeout: 10 * time.Second}
	if err != nil {
		opts.LiveSkipReason = "skipped: fix the failures above first"
	} else {
		opts.Targets, opts.SharedMetrics = set.Targets(), set.SharedMetrics
	}
	if mod != nil {
		mod(&opts)
	}
	rep, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// liveRunInput resolves in.Primary.URL and runs with in.
func liveRunInput(t *testing.T, in *Input, mod func(*Options)) *Report {
	t.Helper()
	return liveRun(t, in.Primary.URL, func(o *Options) {
		o.Input = in
		if mod != nil {
			mod(o)
		}
	})
}

func find(t *testing.T, rep *Report, scope Scope, id string) Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.ID == id && r.Target == scope {
			return r
		}
	}
	t.Fatalf("no result %s for %s in %+v", id, scope, rep.Results)
	return Result{}
}

func wantStatus(t *testing.T, rep *Report, scope Scope, id string, want Status, msgContains ...string) Result {
	t.Helper()
	r := find(t, rep, scope, id)
	if r.Status != want {
		var b strings.Builder
		_ = rep.WriteText(&b, TextOptions{Verbose: true})
		t.Fatalf("%s/%s = %s (%s; fix: %s), want %s\n%s", scope, id, r.Status, r.Message, r.Remedy, want, b.String())
	}
	for _, s := range msgContains {
		if !strings.Contains(r.Message+" "+r.Remedy+" "+r.Cause+" "+strings.Join(r.Details, " "), s) {
			t.Errorf("%s/%s: %q (fix %q) does not mention %q", scope, id, r.Message, r.Remedy, s)
		}
	}
	return r
}
