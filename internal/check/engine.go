package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connectdb/connectdb/internal/dsn"
	"github.com/connectdb/connectdb/internal/locks"
	"github.com/connectdb/connectdb/internal/target"
)

// Options configure one run of the engine.
type Options struct {
	Input *Input
	// Targets are the databases to connect to, from target.Resolve; empty
	// when running offline.
	Targets []*target.Target
	// SharedMetrics is true when operational metrics go to the primary database.
	SharedMetrics bool
	// LiveSkipReason, when set, skips every live check with this reason
	// (--offline, or the targets could not be built).
	LiveSkipReason string
	// Selected says which checks run (nil: all); see Select.
	Selected map[string]bool
	// Timeout bounds the connection and every query.
	Timeout time.Duration
	// Lock is Connect's upgrade lock, nil when unknown.
	Lock *locks.Key

	// probeHook, when set, is called inside the privilege probe after each
	// step; tests use it to break the connection mid-probe.
	probeHook func(step string, conn *pgx.Conn)
	// latencyLimit overrides slowRoundTrip, so golden files do not depend
	// on the machine's load.
	latencyLimit time.Duration
}

// TargetInfo describes a target in a report, without secrets.
type TargetInfo struct {
	Scope  Scope  `json:"target"`
	Source string `json:"source,omitempty"`
	URL    string `json:"url,omitempty"` // redacted
	// PasswordSource says where the password came from, never the password:
	// "rstudio-connect.gcfg:12 (decrypted)", "CONNECT_POSTGRES_PASSWORD".
	// Text shows it in the header when no connection report does.
	PasswordSource string `json:"password_source,omitempty"`
	Reached        bool   `json:"reached"`
	ServerVersion  string `json:"server_version,omitempty"`
	// Connection is the connection-setup report (see connection.go).
	Connection *target.Connection `json:"connection,omitempty"`
}

// Report is the result of a run.
type Report struct {
	// ConfigPath is the config file checked; "" when only flags were given.
	ConfigPath string       `json:"config,omitempty"`
	Targets    []TargetInfo `json:"targets"`
	Results    []Result     `json:"results"`
	// Provider is Database.Provider: "postgres" or "sqlite".
	Provider string `json:"provider,omitempty"`
	// InputError is why connectdb could not use its input (a missing
	// --password-file, an encrypted password without a key); it makes
	// the exit code 2, whatever the checks found.
	InputError string `json:"input_error,omitempty"`
	// live is true when at least one target was tried.
	live bool
}

// Counts returns how many results have each status.
func (r *Report) Counts() map[Status]int {
	m := map[Status]int{Pass: 0, Warn: 0, Fail: 0, Skip: 0}
	for _, res := range r.Results {
		m[res.Status]++
	}
	return m
}

// Unreachable reports whether targets were tried and none could be reached.
func (r *Report) Unreachable() bool {
	if !r.live {
		return false
	}
	for _, t := range r.Targets {
		if t.Reached {
			return false
		}
	}
	for _, res := range r.Results {
		if res.ID == "pg.connect" && res.Status == Fail {
			return true
		}
	}
	return false
}

// Reached reports whether the server of scope accepted the login.
func (r *Report) Reached(scope Scope) bool {
	for _, t := range r.Targets {
		if t.Scope == scope {
			return t.Reached
		}
	}
	return false
}

// ExitCode is 0 when nothing failed (with strict, nothing warned either),
// 2 when the input was unusable, 3 when no target could be reached, 1
// otherwise.
func (r *Report) ExitCode(strict bool) int {
	c := r.Counts()
	switch {
	case r.InputError != "":
		return 2
	case r.Unreachable():
		return 3
	case c[Fail] > 0, strict && c[Warn] > 0:
		return 1
	}
	return 0
}

// Run runs the selected checks and returns the report. It never returns
// an error for a finding; errors are reserved for a canceled context.
func Run(ctx context.Context, opts Options) (*Report, error) {
	in := opts.Input
	if in == nil {
		in = &Input{}
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	if in.Nodes <= 0 {
		in.Nodes = 1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	reg := Registry()
	selected := func(id string) bool { return opts.Selected == nil || opts.Selected[id] }
	rep := &Report{ConfigPath: in.ConfigPath, Provider: in.Provider}
	if rep.Provider == "" {
		rep.Provider = "postgres"
	}

	// Offline, whole-config checks.
	for _, c := range reg {
		if c.Kind == Config && selected(c.ID) {
			rep.Results = append(rep.Results, c.result(ScopeConfig, c.config(in)))
		}
	}

	// Per scope: URL checks then live checks. Scopes run concurrently.
	type scopeRun struct {
		scope  Scope
		url    *URLInput
		target *target.Target
	}
	var runs []scopeRun
	for _, u := range in.urls() {
		runs = append(runs, scopeRun{scope: u.Scope, url: u})
	}
	for _, t := range opts.Targets {
		s := Scope(t.Kind)
		i := slices.IndexFunc(runs, func(r scopeRun) bool { return r.scope == s })
		if i < 0 {
			runs = append(runs, scopeRun{scope: s})
			i = len(runs) - 1
		}
		runs[i].target = t
	}
	slices.SortStableFunc(runs, func(a, b scopeRun) int {
		return strings.Compare(string(scopeOrder(a.scope)), string(scopeOrder(b.scope)))
	})

	results := make([][]Result, len(runs))
	infos := make([]TargetInfo, len(runs))
	env := &runEnv{opts: opts, in: in, reg: reg, selected: selected}
	var wg sync.WaitGroup
	for i, r := range runs {
		infos[i] = TargetInfo{Scope: r.scope}
		if r.url != nil {
			infos[i].Source = r.url.Source
			if r.url.URL != "" {
				infos[i].URL = dsn.RedactInput(r.url.URL)
			}
		}
		if r.target != nil {
			infos[i].URL, infos[i].Source = r.target.Redacted, r.target.Source
			infos[i].PasswordSource = r.target.PasswordSource
		}
		wg.Go(func() {
			results[i] = env.runScope(ctx, r.scope, r.url, r.target, &infos[i])
		})
	}
	wg.Wait()
	for i := range runs {
		infos[i].Connection = connectionInfo(runs[i].target, opts.LiveSkipReason)
		rep.Results = append(rep.Results, results[i]...)
		rep.Targets = append(rep.Targets, infos[i])
	}
	rep.live = opts.LiveSkipReason == "" && len(opts.Targets) > 0
	if err := ctx.Err(); err != nil && errors.Is(err, context.Canceled) {
		return rep, err
	}
	return rep, nil
}

func scopeOrder(s Scope) string {
	switch s {
	case ScopePrimary:
		return "1"
	case ScopeInstrumentation:
		return "2"
	}
	return "3" + string(s)
}

type runEnv struct {
	opts     Options
	in       *Input
	reg      []Check
	selected func(string) bool
}

func (c Check) result(scope Scope, o Outcome) Result {
	k := o.consequence
	if k == "" {
		k = c.consequenceOf()
	}
	return Result{ID: c.ID, Title: c.Title, Target: scope, Status: o.Status, Message: o.Message, Remedy: o.Remedy, Cause: o.Cause, Details: o.Details, Consequence: k, Perf: o.Perf}
}

func (e *runEnv) runScope(ctx context.Context, scope Scope, u *URLInput, t *target.Target, info *TargetInfo) []Result {
	var out []Result
	status := map[string]Status{}
	blocked := func(c Check) (string, bool) {
		for _, n := range c.Needs {
			if st, ok := status[n]; ok && (st == Fail || st == Skip) {
				if st == Fail {
					return fmt.Sprintf("skipped: %s failed; fix that first", n), true
				}
				return fmt.Sprintf("skipped: needs %s, which was skipped", n), true
			}
		}
		return "", false
	}
	anyLive := false
	for _, c := range e.reg {
		anyLive = anyLive || c.Kind == Live && e.selected(c.ID)
	}
	add := func(c Check, o Outcome) {
		if o.Status != Skip || o.blocking {
			status[c.ID] = o.Status
		}
		// pg.connect is shown whenever a live check runs: its cause
		// explains every skip that follows.
		if e.selected(c.ID) || c.ID == "pg.connect" && anyLive {
			out = append(out, c.result(scope, o))
		}
	}
	for _, c := range e.reg {
		if c.Kind != URL {
			continue
		}
		if u == nil {
			continue
		}
		if reason, ok := blocked(c); ok {
			add(c, skip(reason))
			continue
		}
		add(c, c.url(u))
	}

	lc := &liveCtx{env: e, scope: scope, url: u, target: t}
	defer lc.close()
	for _, c := range e.reg {
		if c.Kind != Live || !anyLive {
			continue
		}
		var o Outcome
		switch reason, blockedBy := blocked(c); {
		case e.opts.LiveSkipReason != "":
			o = skip(e.opts.LiveSkipReason)
		case t == nil:
			o = skip("skipped: no connection details for this database")
		case blockedBy:
			o = skip(reason)
		case !e.selected(c.ID) && c.ID != "pg.connect":
			continue
		default:
			o = c.live(lc.withContext(ctx))
		}
		add(c, o)
	}
	info.Reached = lc.reached
	if lc.conn != nil {
		info.ServerVersion = lc.facts.ServerVersion
	}
	return out
}

// liveCtx is what live checks see: one connection and facts read once.
type liveCtx struct {
	ctx    context.Context
	env    *runEnv
	scope  Scope
	url    *URLInput
	target *target.Target
	conn   *pgx.Conn
	facts  facts
	// reached is true once the server accepted the login.
	reached bool
}

func (lc *liveCtx) withContext(ctx context.Context) *liveCtx { lc.ctx = ctx; return lc }

func (lc *liveCtx) close() {
	if lc.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = lc.conn.Close(ctx)
	}
}

// bounded returns a context limited by --timeout.
func (lc *liveCtx) bounded() (context.Context, context.CancelFunc) {
	return context.WithTimeout(lc.ctx, lc.env.opts.Timeout)
}

func isLoopback(host string) bool {
	if host == "" || host == "localhost" || strings.HasPrefix(host, "/") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
