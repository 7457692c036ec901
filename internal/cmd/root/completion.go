package root

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	engine "github.com/connectdb/connectdb/internal/check"
)

// outputFormats lists the --output values each command accepts beyond text
// and json, by command name. It mirrors the commands' CheckOutput calls;
// TestOutputCompletionMatchesCommands keeps the two in step.
var outputFormats = map[string][]string{
	"check":      {"junit", "github", "nagios"},
	"size-pool":  {"gcfg"},
	"show-locks": {"nagios"},
}

// fixedValues are the closed sets of values of local flags, by flag name.
var fixedValues = map[string][]string{
	"pooler":  {"none", "session", "transaction"},
	"data":    {"core", "instrumentation", "all"},
	"sslmode": {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"},
}

// registerCompletions attaches value completion to the flags of every
// command in the tree, in one place, so command files stay unaware of it.
func registerCompletions(root *cobra.Command) {
	_ = root.RegisterFlagCompletionFunc("output", completeOutput)
	_ = root.RegisterFlagCompletionFunc("config", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"gcfg"}, cobra.ShellCompDirectiveFilterFileExt
	})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for name, values := range fixedValues {
			if c.LocalNonPersistentFlags().Lookup(name) != nil {
				_ = c.RegisterFlagCompletionFunc(name, fixed(values))
			}
		}
		if c.Name() == "check" {
			for _, name := range []string{"only", "skip"} {
				if c.Flags().Lookup(name) != nil {
					_ = c.RegisterFlagCompletionFunc(name, completeCheckIDs)
				}
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func fixed(values []string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

func completeOutput(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	return slices.Concat([]string{"text", "json"}, outputFormats[cmd.Name()]), cobra.ShellCompDirectiveNoFileComp
}

// completeCheckIDs completes the last item of a comma-separated list of
// check IDs (and their "group.*" prefixes), keeping the items before it.
func completeCheckIDs(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	done := ""
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		done = toComplete[:i+1]
	}
	var out []string
	seen := map[string]bool{}
	for _, id := range engine.IDs() {
		candidates := []string{id}
		if group, _, ok := strings.Cut(id, "."); ok && !seen[group] {
			seen[group] = true
			candidates = append([]string{group + ".*"}, candidates...)
		}
		for _, c := range candidates {
			if !strings.Contains(","+done, ","+c+",") {
				out = append(out, done+c)
			}
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}
