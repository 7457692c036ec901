package sizepool_test

import (
	"context"
	"strings"
	"testing"

	"github.com/connectdb/connectdb/internal/cmd/root"
	"github.com/connectdb/connectdb/internal/cmdutil"
	"github.com/connectdb/connectdb/internal/iostreams"
)

// TestFlagErrorsThroughRoot runs the whole CLI so that flag parsing errors
// are checked as the user sees them: exit 2 and one line naming the flag.
func TestFlagErrorsThroughRoot(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"non-numeric nodes", []string{"--nodes", "three", "--max-connections", "100"}, 2, `invalid argument "three" for "--nodes"`},
		{"non-numeric max connections", []string{"--nodes", "3", "--max-connections", "lots"}, 2, `"--max-connections"`},
		{"non-numeric reserve", []string{"--nodes", "3", "--max-connections", "100", "--reserve", "1.5"}, 2, `"--reserve"`},
		{"negative nodes", []string{"--nodes", "-2", "--max-connections", "100"}, 2, "--nodes must be at least 1, got -2"},
		{"fits", []string{"--nodes", "3", "--max-connections", "100"}, 0, ""},
		{"does not fit", []string{"--nodes", "10", "--max-connections", "100"}, 1, "do not fit the server"},
		{"gcfg output", []string{"--nodes", "1", "--max-connections", "100", "-o", "gcfg"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			io, _, out, errOut := iostreams.Test()
			f := cmdutil.NewFactory(io)
			f.Getenv = func(string) string { return "" }
			args := append([]string{"size-pool", "--config", "testdata/empty.gcfg"}, tt.args...)
			code := root.Run(context.Background(), f, args)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, errOut)
			}
			e := errOut.String()
			if !strings.Contains(e, tt.want) || strings.Count(e, "\n") > 1 {
				t.Errorf("stderr %q, want one line containing %q", e, tt.want)
			}
			if tt.code == 2 && out.Len() > 0 {
				t.Errorf("usage error printed a report: %q", out)
			}
		})
	}
}
