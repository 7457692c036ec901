package sizepool

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/golden"
	"github.com/connectdb/connectdb/internal/iostreams"
	"github.com/connectdb/connectdb/internal/pool"
)

// result is what one run of runSizePool produced.
type result struct {
	err         error
	code        int
	out, errOut string
}

// newOptions returns options with the flag defaults and a factory whose
// config path does not exist, so Connect's defaults apply.
func newOptions(t *testing.T) *SizePoolOptions {
	t.Helper()
	io, _, _, _ := iostreams.Test()
	f := cmdutil.NewFactory(io)
	f.Globals.ConfigPath = filepath.Join(t.TempDir(), "absent.gcfg")
	f.Getenv = func(string) string { return "" }
	return &SizePoolOptions{F: f, SuperuserReserved: pool.DefaultSuperuserReserved, Pooler: string(pool.PoolerNone)}
}

// run calls runSizePool with the options after mod, treating the named
// flags as given on the command line.
func run(t *testing.T, opts *SizePoolOptions, changed ...string) result {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	io.In = opts.F.IO.In // keep a config a test put on stdin
	opts.F.IO = io
	opts.Changed = func(name string) bool { return slices.Contains(changed, name) }
	err := runSizePool(context.Background(), opts)
	return result{err: err, code: cmdutil.ExitCode(err), out: out.String(), errOut: errOut.String()}
}

func TestOfflineGolden(t *testing.T) {
	tests := []struct {
		name     string
		output   string
		mod      func(*SizePoolOptions)
		changed  []string
		wantCode int
	}{
		{"three-nodes.txt", "text", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections = 3, 100 }, []string{"nodes", "max-connections"}, 0},
		{"three-nodes.json", "json", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections = 3, 100 }, []string{"nodes", "max-connections"}, 0},
		{"three-nodes.gcfg", "gcfg", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections = 3, 100 }, []string{"nodes", "max-connections"}, 0},
		{"ten-nodes-target.txt", "text", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections, o.TargetOpen, o.Reserve = 10, 200, 20, 10 }, []string{"nodes", "max-connections", "target-open", "reserve"}, 1},
		{"ten-nodes-target.json", "json", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections, o.TargetOpen, o.Reserve = 10, 200, 20, 10 }, []string{"nodes", "max-connections", "target-open", "reserve"}, 1},
		{"ten-nodes-target.gcfg", "gcfg", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections, o.TargetOpen, o.Reserve = 10, 200, 20, 10 }, []string{"nodes", "max-connections", "target-open", "reserve"}, 1},
		{"sweep.txt", "text", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections, o.Sweep = 8, 100, true }, []string{"nodes", "max-connections", "sweep"}, 1},
		{"sweep.json", "json", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections, o.Sweep = 3, 100, true }, []string{"nodes", "max-connections", "sweep"}, 0},
		{"config.txt", "text", func(o *SizePoolOptions) {
			o.Nodes, o.MaxConnections = 4, 100
			o.F.Globals.ConfigPath, o.F.Globals.ConfigExplicit = "testdata/connect.gcfg", true
		}, []string{"nodes", "max-connections"}, 1},
		{"session-pooler.gcfg", "gcfg", func(o *SizePoolOptions) {
			o.Nodes, o.MaxConnections, o.Pooler, o.MaxIdle, o.MaxLifetime = 2, 60, "session", 0, "1000000000"
		}, []string{"nodes", "max-connections", "pooler", "max-idle", "max-lifetime"}, 0},
		{"transaction-pooler.txt", "text", func(o *SizePoolOptions) {
			o.Nodes, o.MaxConnections, o.Pooler, o.Instrumentation = 2, 100, "transaction", "off"
		}, []string{"nodes", "max-connections", "pooler", "instrumentation"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := newOptions(t)
			opts.F.Globals.Output = tt.output
			tt.mod(opts)
			r := run(t, opts, tt.changed...)
			if r.code != tt.wantCode {
				t.Fatalf("exit code %d, want %d (err %v)", r.code, tt.wantCode, r.err)
			}
			golden.Assert(t, filepath.Join("testdata", tt.name), r.out)
			if tt.output == "json" && !json.Valid([]byte(r.out)) {
				t.Errorf("output is not valid JSON")
			}
		})
	}
}

func TestConfigValuesAndOverrides(t *testing.T) {
	opts := newOptions(t)
	opts.F.Globals.Output = "json"
	opts.F.Globals.ConfigPath, opts.F.Globals.ConfigExplicit = "testdata/connect.gcfg", true
	opts.Nodes, opts.MaxConnections = 2, 100
	opts.MaxIdle = 7
	r := run(t, opts, "nodes", "max-connections", "max-idle")
	var got jsonReport
	if err := json.Unmarshal([]byte(r.out), &got); err != nil {
		t.Fatal(err)
	}
	c := got.Current
	if c.MaxOpen != 25 || c.OpenFrom != "testdata/connect.gcfg:7" || c.MaxIdle != 7 || c.IdleFrom != "--max-idle" || c.MaxLifetime != "5m" {
		t.Errorf("current = %+v; want MaxOpen 25 from line 7, MaxIdle 7 from --max-idle, lifetime 5m", c)
	}
	// InstrumentationURL on another host: the metrics pool is not on this server.
	if got.Instrumentation != "separate" || got.Evaluation.PoolsPerNode != 1 {
		t.Errorf("instrumentation = %s with %d pools, want separate with 1", got.Instrumentation, got.Evaluation.PoolsPerNode)
	}
}

func TestInstrumentationDefaults(t *testing.T) {
	tests := []struct {
		name, primary, instr string
		want                 pool.Instrumentation
	}{
		{"no instrumentation url shares the primary", "postgres://u@db/connect", "", pool.MetricsSame},
		{"instrumentation url on another host is separate", "postgres://u@db/connect", "postgres://u@metrics/m", pool.MetricsSeparate},
		{"instrumentation url on the same host and port still shares max_connections", "postgres://u@db:5432/connect", "postgres://u@DB/m", pool.MetricsSame},
		{"same host other port is another server", "postgres://u@db/connect", "postgres://u@db:5433/m", pool.MetricsSeparate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := newOptions(t)
			got, _, err := chooseInstrumentation(opts, func(string) bool { return false }, current{PrimaryURL: tt.primary, InstrumentationURL: tt.instr}, nil)
			if err != nil || got != tt.want {
				t.Errorf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestBadInputExitsTwoNamingTheFlag(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*SizePoolOptions)
		changed []string
		want    string
	}{
		{"nodes missing", func(o *SizePoolOptions) { o.MaxConnections = 100 }, []string{"max-connections"}, "--nodes is required"},
		{"negative nodes", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections = -3, 100 }, []string{"nodes", "max-connections"}, "--nodes must be at least 1, got -3"},
		{"negative nodes live", func(o *SizePoolOptions) { o.Nodes = -1 }, []string{"nodes"}, "--nodes must be at least 1"},
		{"zero max connections", func(o *SizePoolOptions) { o.Nodes = 1 }, []string{"nodes", "max-connections"}, "--max-connections must be at least 1"},
		{"negative reserve", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections, o.Reserve = 1, 100, -1 }, []string{"nodes", "max-connections", "reserve"}, "--reserve must not be negative"},
		{"negative reserve live checked before connecting", func(o *SizePoolOptions) { o.Nodes, o.Reserve = 1, -1 }, []string{"nodes", "reserve"}, "--reserve must not be negative"},
		{"negative target", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections, o.TargetOpen = 1, 100, -4 }, []string{"nodes", "max-connections", "target-open"}, "--target-open must not be negative"},
		{"bad pooler", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections, o.Pooler = 1, 100, "statement" }, []string{"nodes", "max-connections", "pooler"}, `--pooler "statement" is not none, session or transaction`},
		{"bad instrumentation", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections, o.Instrumentation = 1, 100, "both" }, []string{"nodes", "max-connections", "instrumentation"}, `--instrumentation "both"`},
		{"bad lifetime", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections, o.MaxLifetime = 1, 100, "soon" }, []string{"nodes", "max-connections", "max-lifetime"}, `--max-lifetime "soon" is not a duration`},
		{"sweep too large", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections, o.Sweep = 5000, 100, true }, []string{"nodes", "max-connections", "sweep"}, "--sweep handles at most 1000"},
		{"sweep with gcfg", func(o *SizePoolOptions) {
			o.Nodes, o.MaxConnections, o.Sweep, o.F.Globals.Output = 3, 100, true, "gcfg"
		}, []string{"nodes", "max-connections", "sweep"}, "--sweep prints a table"},
		{"superuser reserved live", func(o *SizePoolOptions) { o.Nodes = 1 }, []string{"nodes", "superuser-reserved"}, "--superuser-reserved applies only offline"},
		{"missing config given explicitly", func(o *SizePoolOptions) {
			o.Nodes, o.MaxConnections = 1, 100
			o.F.Globals.ConfigPath, o.F.Globals.ConfigExplicit = "testdata/none.gcfg", true
		}, []string{"nodes", "max-connections"}, "config file testdata/none.gcfg not found"},
		{"live without url", func(o *SizePoolOptions) { o.Nodes = 1 }, []string{"nodes"}, "no PostgreSQL URL"},
		{"junit output", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections, o.F.Globals.Output = 1, 100, "junit" }, []string{"nodes", "max-connections"}, `--output "junit" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := newOptions(t)
			tt.mod(opts)
			r := run(t, opts, tt.changed...)
			if r.code != cmdutil.ExitUsage {
				t.Fatalf("exit code %d, want 2 (err %v)", r.code, r.err)
			}
			if msg := r.err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line containing %q", msg, tt.want)
			}
			if r.out != "" {
				t.Errorf("bad input printed a report: %q", r.out)
			}
		})
	}
}

func TestExitCodeFollowsTheVerdict(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*SizePoolOptions)
		changed []string
		want    int
	}{
		{"fits", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections = 1, 100 }, nil, 0},
		{"fits with a warning still exits zero", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections, o.MaxIdle = 1, 100, 2 }, []string{"max-idle"}, 0},
		{"does not fit", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections = 5, 100 }, nil, 1},
		{"fits but zero idle directly against postgres breaks a rule", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections, o.MaxIdle = 1, 100, 0 }, []string{"max-idle"}, 1},
		{"unbounded open breaks a rule", func(o *SizePoolOptions) { o.Nodes, o.MaxConnections, o.MaxOpen = 1, 100, 0 }, []string{"max-open"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := newOptions(t)
			tt.mod(opts)
			r := run(t, opts, append(tt.changed, "nodes", "max-connections")...)
			if r.code != tt.want {
				t.Errorf("exit code %d, want %d (err %v)\n%s", r.code, tt.want, r.err, r.out)
			}
		})
	}
}

func TestTextIsPlainWithoutTTY(t *testing.T) {
	opts := newOptions(t)
	opts.Nodes, opts.MaxConnections = 1, 100
	r := run(t, opts, "nodes", "max-connections")
	if bytes.ContainsRune([]byte(r.out), 0x1b) {
		t.Errorf("escape codes in non-TTY output: %q", r.out)
	}
}

func TestSQLiteProviderIsNoted(t *testing.T) {
	for _, tt := range []struct {
		path string
		want bool
	}{{"testdata/sqlite.gcfg", true}, {"testdata/connect.gcfg", false}, {"testdata/empty.gcfg", false}} {
		opts := newOptions(t)
		opts.F.Globals.ConfigPath, opts.F.Globals.ConfigExplicit = tt.path, true
		opts.Nodes, opts.MaxConnections = 1, 100
		r := run(t, opts, "nodes", "max-connections")
		if got := strings.Contains(r.out, "Database.Provider is sqlite"); got != tt.want {
			t.Errorf("%s: sqlite note shown = %v, want %v\n%s", tt.path, got, tt.want, r.out)
		}
	}
}

func TestVerdictsAreColouredOnATerminal(t *testing.T) {
	io, _, out, _ := iostreams.Test()
	io.SetColorEnabled(true)
	opts := newOptions(t)
	opts.Nodes, opts.MaxConnections = 10, 100
	rep := &report{Mode: "offline", Nodes: 10, Pooler: pool.PoolerNone, Instrumentation: pool.MetricsSame}
	rep.Input = pool.Input{Nodes: 10, Server: pool.Server{MaxConnections: 100, SuperuserReserved: 3},
		Instrumentation: pool.MetricsSame, Pooler: pool.PoolerNone, Current: pool.Settings{MaxOpen: 10, MaxIdle: 5}}
	rep.Plan = pool.Size(rep.Input)
	if err := writeText(out, io.ColorScheme(), rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\x1b[31mfail\x1b[0m") {
		t.Errorf("no red fail verdict in coloured output:\n%q", out.String())
	}
}
