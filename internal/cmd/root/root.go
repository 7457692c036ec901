// Package root assembles the connectdb command tree and runs it.
package root

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/connectdb/connectdb/internal/buildinfo"
	"github.com/connectdb/connectdb/internal/cmd/check"
	"github.com/connectdb/connectdb/internal/cmd/encodeurl"
	"github.com/connectdb/connectdb/internal/cmd/migrate"
	"github.com/connectdb/connectdb/internal/cmd/releaselocks"
	"github.com/connectdb/connectdb/internal/cmd/showlocks"
	"github.com/connectdb/connectdb/internal/cmd/sizepool"
	"github.com/connectdb/connectdb/internal/cmd/version"
	"github.com/connectdb/connectdb/internal/cmdutil"
)

// NewCmdRoot returns the connectdb command with every subcommand attached.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	g := f.Globals
	cmd := &cobra.Command{
		Use:   "connectdb <command> [flags]",
		Short: "Check and repair the PostgreSQL database behind Posit Connect",
		Long: `connectdb turns the rules of Posit Connect's PostgreSQL admin guide into commands:
preflight a config and its database before an upgrade, build a correctly encoded
Postgres.URL, find and free a stuck upgrade lock, move SQLite data into
PostgreSQL, and size connection pools for a cluster.`,
		Example: `  connectdb check --config /etc/rstudio-connect/rstudio-connect.gcfg
  connectdb encode-url --user connect --host db.example.com --database connect
  connectdb show-locks --url "postgres://admin@db.example.com/connect"
  connectdb size-pool --nodes 3 --max-connections 100`,
		Version:       buildinfo.Version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return applyEnv(cmd, f)
		},
	}
	cmd.SetVersionTemplate("connectdb {{.Version}}\n")
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	cmd.SetIn(f.IO.In)

	fl := cmd.PersistentFlags()
	fl.StringVar(&g.ConfigPath, "config", cmdutil.DefaultConfigPath, "Connect config file (gcfg); \"-\" reads stdin (env CONNECTDB_CONFIG)")
	fl.StringVarP(&g.Output, "output", "o", "text", "output format: text or json (some commands add more)")
	fl.BoolVar(&g.NoColor, "no-color", false, "never colour output (also NO_COLOR)")
	fl.DurationVar(&g.Timeout, "timeout", 10*time.Second, "bound on every network operation")
	fl.StringVar(&g.URL, "url", "", "PostgreSQL URL overriding Postgres.URL (env CONNECTDB_URL)")
	fl.StringVar(&g.InstrumentationURL, "instrumentation-url", "", "PostgreSQL URL overriding Postgres.InstrumentationURL")
	fl.StringVar(&g.SecretKey, "secret-key", "", "Connect secret key file to decrypt encrypted settings (env CONNECTDB_SECRET_KEY)")
	fl.StringVar(&g.PasswordFile, "password-file", "", "file whose first line is the database password")
	fl.StringVar(&g.EnvFile, "env-file", "", "Connect's environment (CONNECT_* overrides) as KEY=VALUE lines, systemd EnvironmentFile syntax (env CONNECTDB_ENV_FILE)")
	fl.StringVar(&g.AzureAuthorityHost, "azure-authority-host", "", "Entra ID authority for Azure service principal logins (env AZURE_AUTHORITY_HOST; default https://login.microsoftonline.com)")

	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return cmdutil.Usagef("%v; see '%s --help'", explainFlagError(err), c.CommandPath())
	})

	cmd.AddCommand(version.NewCmdVersion(f))
	for _, add := range subcommands {
		cmd.AddCommand(add(f))
	}
	guardHelp(cmd)
	showHonouredGlobals(cmd)
	registerCompletions(cmd)
	return cmd
}

// targetGlobals are the global flags that choose and reach the database.
var targetGlobals = []string{"config", "env-file", "url", "secret-key", "password-file", "azure-authority-host", "timeout"}

// honours lists the global flags each command reads; its help shows only
// these (see docs/global-flags.md).
var honours = map[string][]string{
	"version":       {"output", "no-color"},
	"encode-url":    {"output", "no-color", "password-file", "secret-key"},
	"check":         append([]string{"output", "no-color", "instrumentation-url"}, targetGlobals...),
	"size-pool":     append([]string{"output", "no-color", "instrumentation-url"}, targetGlobals...),
	"migrate":       append([]string{"output", "no-color", "instrumentation-url"}, targetGlobals...),
	"show-locks":    append([]string{"output", "no-color"}, targetGlobals...),
	"release-locks": append([]string{"output", "no-color"}, targetGlobals...),
}

// showHonouredGlobals makes each command's help list only the global
// flags the command honours.
func showHonouredGlobals(root *cobra.Command) {
	help := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		if keep, ok := honours[c.Name()]; ok && c != root {
			var hidden []*pflag.Flag
			c.InheritedFlags().VisitAll(func(fl *pflag.Flag) {
				if !fl.Hidden && !slices.Contains(keep, fl.Name) {
					fl.Hidden = true
					hidden = append(hidden, fl)
				}
			})
			defer func() {
				for _, fl := range hidden {
					fl.Hidden = false
				}
			}()
		}
		help(c, args)
	})
}

// subcommands lists the constructors of the database commands, in help order.
var subcommands = []func(*cmdutil.Factory) *cobra.Command{
	check.NewCmdCheck,
	encodeurl.NewCmdEncodeURL,
	sizepool.NewCmdSizePool,
	showlocks.NewCmdShowLocks, releaselocks.NewCmdReleaseLocks,
	migrate.NewCmdMigrate,
}

// applyEnv fills globals from the environment where the flag was not given.
func applyEnv(cmd *cobra.Command, f *cmdutil.Factory) error {
	g := f.Globals
	fl := cmd.Flags()
	envs := []struct {
		flag, env string
		dst       *string
	}{
		{"config", "CONNECTDB_CONFIG", &g.ConfigPath},
		{"url", "CONNECTDB_URL", &g.URL},
		{"secret-key", "CONNECTDB_SECRET_KEY", &g.SecretKey},
		{"env-file", "CONNECTDB_ENV_FILE", &g.EnvFile},
	}
	for _, e := range envs {
		if v := f.Getenv(e.env); v != "" && !fl.Changed(e.flag) {
			*e.dst = v
		}
	}
	g.ConfigExplicit = fl.Changed("config") || f.Getenv("CONNECTDB_CONFIG") != ""
	f.IO.ApplyColorEnv(f.Getenv)
	if g.NoColor {
		f.IO.SetColorEnabled(false)
	}
	if err := checkRanges(cmd); err != nil {
		return err
	}
	if err := checkText(cmd, f.Getenv("CONNECTDB_URL")); err != nil {
		return err
	}
	// Each command checks --output against the formats it takes.
	return nil
}

// Run executes connectdb with args and returns the process exit code. Errors
// are printed as one line on stderr; nothing ever prints a stack trace.
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	return execute(ctx, f, NewCmdRoot(f), args)
}

// execute runs the command tree cmd with args; see Run.
func execute(ctx context.Context, f *cmdutil.Factory, cmd *cobra.Command, args []string) int {
	cmd.SetArgs(args)
	reached := false
	pre := cmd.PersistentPreRunE
	cmd.PersistentPreRunE = func(c *cobra.Command, a []string) error {
		reached = true
		return pre(c, a)
	}
	ran, err := cmd.ExecuteContextC(ctx)
	if in := interruption(ctx); in != nil {
		// A signal ends every command the same way: one line saying so,
		// and the shell's exit code for that signal (130, 143).
		path := "connectdb"
		if ran != nil {
			path = ran.CommandPath()
		}
		fmt.Fprintf(f.IO.ErrOut, "connectdb: %s\n", printable(oneLine(redactArgs(interruptedMessage(in, path, err), argTokens(args)))))
		return in.ExitCode()
	}
	if code, ok := nagiosExit(f, err); ok {
		return code
	}
	if err == nil {
		return cmdutil.ExitOK
	}
	var ee *cmdutil.ExitError
	if !errors.As(err, &ee) && !reached {
		// Cobra's own argument and command errors: unknown command (with its
		// "Did you mean" suggestion), wrong number of arguments.
		err = cmdutil.UsageError(err)
	}
	if msg := strings.TrimSpace(err.Error()); msg != "" {
		// Before the command ran, a message can quote any argument (a flag's
		// value too); after, only positional arguments are Cobra's to quote.
		toks := argTokens(args)
		if reached && ran != nil {
			toks = ran.Flags().Args()
		}
		fmt.Fprintf(f.IO.ErrOut, "connectdb: %s\n", printable(oneLine(redactArgs(msg, toks))))
	}
	return cmdutil.ExitCode(err)
}

// oneLine keeps Cobra's suggestions readable on a single line.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n\nDid you mean this?\n\t", "; did you mean ")
	s = strings.ReplaceAll(s, "\n\t", ", ")
	s = strings.ReplaceAll(s, "\n", " ")
	if strings.HasPrefix(s, "unknown command") {
		s += "; run 'connectdb --help' for the list of commands"
	}
	return s
}
