package root

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/iostreams"
)

// TestNumericFlagRanges gives every numeric flag in flagRanges a value just
// outside its range, far outside it (overflowing int64 arithmetic), and one
// that does not parse: each is exit 2 with one line naming the flag and the
// documented range.
func TestNumericFlagRanges(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"size-pool", "--nodes", "0"}, "--nodes must be at least 1, got 0: pass a whole number from 1 to 262143"},
		{[]string{"size-pool", "--nodes", "-2"}, "--nodes must be at least 1, got -2"},
		{[]string{"size-pool", "--nodes", "262144"}, "--nodes must be at most 262143, got 262144"},
		{[]string{"size-pool", "--nodes", "three"}, `invalid argument "three" for "--nodes": pass a whole number from 1 to 262143`},
		{[]string{"size-pool", "--nodes", "1", "--max-connections", "9223372036854775807"}, "--max-connections must be at most 262143"},
		{[]string{"size-pool", "--nodes", "1", "--max-connections", "99999999999999999999"}, `invalid argument "99999999999999999999" for "--max-connections"`},
		{[]string{"size-pool", "--nodes", "1", "--reserve", "9223372036854775807"}, "--reserve must be at most 262143"},
		{[]string{"size-pool", "--nodes", "1", "--reserve", "-1"}, "--reserve must not be negative, got -1: pass a whole number from 0 to 262143"},
		{[]string{"size-pool", "--nodes", "1", "--superuser-reserved", "-9223372036854775808"}, "--superuser-reserved must not be negative"},
		{[]string{"size-pool", "--nodes", "1", "--reserved-connections", "262144"}, "--reserved-connections must be at most 262143"},
		{[]string{"size-pool", "--nodes", "1", "--target-open", "4611686018427387904"}, "--target-open must be at most 262143"},
		{[]string{"size-pool", "--nodes", "1", "--max-open", "-1"}, "--max-open must not be negative"},
		{[]string{"size-pool", "--nodes", "1", "--max-idle", "300000"}, "--max-idle must be at most 262143"},
		{[]string{"check", "--nodes", "0"}, "--nodes must be at least 1"},
		{[]string{"encode-url", "--port", "65536"}, "--port must be at most 65535, got 65536: pass a whole number from 0 (leave it out) to 65535"},
		{[]string{"encode-url", "--port", "-1"}, "--port must not be negative"},
		{[]string{"version", "--timeout", "0s"}, "--timeout must be positive, got 0s: pass a duration such as 10s or 5m from 1ms to 24h"},
		{[]string{"version", "--timeout", "25h"}, "--timeout must be at most 24h0m0s"},
		{[]string{"version", "--timeout", "9999999999h"}, `invalid argument "9999999999h" for "--timeout": pass a duration`},
		{[]string{"migrate", "--lock-timeout", "-5m"}, "--lock-timeout must be positive"},
		{[]string{"show-locks", "--watch=10ms"}, "--watch must be at least 100ms, got 10ms"},
	}
	for _, tt := range tests {
		code, out, errOut := run(t, nil, tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) || strings.Count(errOut, "\n") != 1 || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", tt.args, code, out, errOut, tt.want)
		}
	}
}

// TestFlagRangesAreDocumented checks that every range enforced here is in
// docs/global-flags.md as written, and that every numeric flag of every
// command has a range here or is one the locks commands validate.
func TestFlagRangesAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/global-flags.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range flagRanges {
		row := "| `--" + name + "` |"
		i := strings.Index(string(doc), row)
		if i < 0 {
			t.Errorf("docs/global-flags.md has no row %q", row)
			continue
		}
		line, _, _ := strings.Cut(string(doc)[i:], "\n")
		if !strings.Contains(line, r.shown) {
			t.Errorf("docs/global-flags.md row %q does not give the range %q", line, r.shown)
		}
	}
	validatedElsewhere := map[string]bool{"stuck-after": true, "grace": true, "wait": true, "idle-for": true}
	io := NewCmdRoot(testFactory())
	for _, c := range append(io.Commands(), io) {
		visit := func(f *pflag.Flag) {
			switch f.Value.Type() {
			case "int", "int64", "duration", "uint", "float64":
				if _, ok := flagRanges[f.Name]; !ok && !validatedElsewhere[f.Name] {
					t.Errorf("%s --%s (%s) has no documented range", c.Name(), f.Name, f.Value.Type())
				}
			}
		}
		c.Flags().VisitAll(visit)
		c.PersistentFlags().VisitAll(visit)
	}
}

func testFactory() *cmdutil.Factory {
	io, _, _, _ := iostreams.Test()
	f := cmdutil.NewFactory(io)
	f.Getenv = func(string) string { return "" }
	return f
}
