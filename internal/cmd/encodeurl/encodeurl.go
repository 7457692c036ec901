// Package encodeurl implements `connectdb encode-url`: it builds a correctly
// percent-encoded Postgres.URL from its parts (or a ready [Postgres] block for
// rstudio-connect.gcfg, with an encrypted Password), and checks and repairs a
// hand-written URL. The URL rules themselves live in package dsn.
package encodeurl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/connectdb/connectdb/internal/cmdutil"
)

// EncodeURLOptions holds the flags of encode-url and what runEncodeURL needs
// from the outside world.
type EncodeURLOptions struct {
	F *cmdutil.Factory

	// Parts of the URL to build.
	User, Host               string
	Port                     int
	Database, SSLMode        string
	Schema                   string
	SSLCert, SSLKey, SSLRoot string
	Params                   []string // --param k=v, in order

	// Password sources. At most one of them; the prompt is used only when
	// stdin is a terminal and no other source was given.
	PasswordStdin bool
	Password      string // --password (discouraged: argv is visible to ps)
	PasswordSet   bool
	NoPassword    bool

	// --check URL ("-" reads it from stdin).
	Check        string
	CheckSet     bool
	ShowPassword bool

	// --gcfg and its modifiers.
	GCfg            bool
	InlinePassword  bool
	Instrumentation bool
	FIPS            bool

	// ReadSecret reads a line from the terminal without echo, after writing
	// prompt to stderr. nil means golang.org/x/term on the stdin descriptor.
	ReadSecret func(prompt string) (string, error)
}

const example = `  # Prompt for the password (no echo) and print the encoded URL
  connectdb encode-url --user connect --host db.example.com --database connect

  # Password from a file or a secret manager, never from the command line
  connectdb encode-url --user connect --host db.example.com --database connect \
    --schema connect_schema --password-stdin < password.txt

  # A ready [Postgres] block with the password encrypted by Connect's key
  connectdb encode-url --gcfg --secret-key /path/to/secret.key \
    --user connect --host db.example.com --database connect --password-stdin < password.txt

  # Certificate authentication, no password
  connectdb encode-url --no-password --user connect --host db.example.com --database connect \
    --sslmode verify-full --sslcert /etc/ssl/pg/client.crt --sslkey /etc/ssl/pg/client.key \
    --sslrootcert /etc/ssl/pg/root.crt

  # Check and repair a hand-written URL, read from stdin so it stays out of ps
  connectdb encode-url --check - < url.txt
  connectdb encode-url --check 'postgres://connect@db.example.com/connect?sslmode=disable'`

// NewCmdEncodeURL returns the encode-url command.
func NewCmdEncodeURL(f *cmdutil.Factory) *cobra.Command {
	opts := &EncodeURLOptions{F: f}
	cmd := &cobra.Command{
		Use:   "encode-url",
		Short: "Build a correctly encoded Postgres.URL, or check and repair one",
		Long: `encode-url builds the Postgres.URL setting from its parts, percent-encoding the
user and password the way Connect's guide requires (@ # ! $ % / ? and every other
special character), so that Connect, pgx and libpq all read back the same
credentials. The password is read without echo from the terminal, from stdin
with --password-stdin, or from the first line of --password-file; never from the
command line.

With --gcfg it prints a ready [Postgres] block: the URL without the password and
a Password line, encrypted with Connect's secret key when --secret-key is given.

With --check URL it diagnoses a hand-written URL, shows where each problem is
(under the URL with its password hidden), and prints the repaired URL.

Exit codes: 0 done (or the checked URL works), 1 the checked URL as given would
not work, 2 bad flags or input that cannot be repaired automatically.`,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			opts.PasswordSet = fl.Changed("password")
			opts.CheckSet = fl.Changed("check")
			return runEncodeURL(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.User, "user", "", "database user name")
	fl.StringVar(&opts.Host, "host", "", "database server host name or IP address")
	fl.IntVar(&opts.Port, "port", 0, "database server port (omitted from the URL when 0; PostgreSQL's default is 5432)")
	fl.StringVar(&opts.Database, "database", "", "database name (Connect needs its own, already existing database)")
	fl.StringVar(&opts.SSLMode, "sslmode", "", "disable, allow, prefer, require, verify-ca or verify-full (Connect's default is require)")
	fl.StringVar(&opts.Schema, "schema", "", "keep Connect's tables in this schema (adds options=-csearch_path=SCHEMA)")
	fl.StringVar(&opts.SSLCert, "sslcert", "", "client certificate file, for certificate authentication")
	fl.StringVar(&opts.SSLKey, "sslkey", "", "client private key file, for certificate authentication")
	fl.StringVar(&opts.SSLRoot, "sslrootcert", "", "CA certificate file that signed the server's certificate")
	fl.StringArrayVar(&opts.Params, "param", nil, "extra URL parameter `key=value` (repeatable), e.g. connect_timeout=10")
	fl.BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the password from the first line of stdin")
	fl.StringVar(&opts.Password, "password", "", "the password (discouraged: the command line is visible to other users via ps)")
	fl.BoolVar(&opts.NoPassword, "no-password", false, "build a URL without a password and do not prompt for one")
	fl.StringVar(&opts.Check, "check", "", "diagnose and repair `URL` instead of building one (\"-\" reads it from stdin)")
	fl.BoolVar(&opts.ShowPassword, "show-password", false, "with --check, print the repaired URL with its password instead of hidden")
	fl.BoolVar(&opts.GCfg, "gcfg", false, "print a [Postgres] block for rstudio-connect.gcfg (password encrypted with --secret-key)")
	fl.BoolVar(&opts.InlinePassword, "inline-password", false, "with --gcfg, put the encoded password in the URL instead of a Password line")
	fl.BoolVar(&opts.Instrumentation, "instrumentation", false, "with --gcfg, write InstrumentationURL and InstrumentationPassword")
	fl.BoolVar(&opts.FIPS, "fips", false, "with --gcfg and --secret-key, encrypt with AES-256-GCM (Connect's UseFIPSEncryption)")
	return cmd
}

// runEncodeURL runs encode-url. It never touches the network: ctx is
// accepted for the command convention and future use.
func runEncodeURL(ctx context.Context, opts *EncodeURLOptions) error {
	_ = ctx
	if err := opts.F.CheckOutput("text", "json"); err != nil {
		return err
	}
	if err := opts.validateModes(); err != nil {
		return err
	}
	if opts.CheckSet {
		return runCheck(opts)
	}
	return runBuild(opts)
}

// validateModes rejects flags that do not belong to the chosen mode.
func (o *EncodeURLOptions) validateModes() error {
	if o.CheckSet {
		for _, fl := range []struct {
			name string
			set  bool
		}{
			{"--user", o.User != ""}, {"--host", o.Host != ""}, {"--port", o.Port != 0},
			{"--database", o.Database != ""}, {"--sslmode", o.SSLMode != ""}, {"--schema", o.Schema != ""},
			{"--sslcert", o.SSLCert != ""}, {"--sslkey", o.SSLKey != ""}, {"--sslrootcert", o.SSLRoot != ""},
			{"--param", len(o.Params) > 0}, {"--password-stdin", o.PasswordStdin}, {"--password", o.PasswordSet},
			{"--no-password", o.NoPassword}, {"--gcfg", o.GCfg}, {"--inline-password", o.InlinePassword},
			{"--instrumentation", o.Instrumentation}, {"--fips", o.FIPS},
		} {
			if fl.set {
				return cmdutil.Usagef("%s builds a URL and cannot be combined with --check; run encode-url without --check to build one", fl.name)
			}
		}
		if strings.TrimSpace(o.Check) == "" {
			return cmdutil.Usagef("--check needs the URL to check; pass --check URL, or --check - to read it from stdin")
		}
		return nil
	}
	if o.ShowPassword {
		return cmdutil.Usagef("--show-password applies only to --check; without --check the URL is printed with its password anyway")
	}
	if !o.GCfg {
		for _, fl := range []struct {
			name string
			set  bool
		}{{"--inline-password", o.InlinePassword}, {"--instrumentation", o.Instrumentation}, {"--fips", o.FIPS}} {
			if fl.set {
				return cmdutil.Usagef("%s applies only to --gcfg; add --gcfg", fl.name)
			}
		}
	}
	n := 0
	for _, set := range []bool{o.PasswordStdin, o.PasswordSet, o.NoPassword, o.F.Globals.PasswordFile != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return cmdutil.Usagef("give at most one of --password-stdin, --password-file, --password and --no-password")
	}
	return nil
}

// readFirstLine returns the first line of r without its line ending.
func readFirstLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	return line, nil
}

// readSecret reads one line without echo from the terminal on stdin.
func (o *EncodeURLOptions) readSecret(prompt string) (string, error) {
	if o.ReadSecret != nil {
		return o.ReadSecret(prompt)
	}
	fd, ok := o.F.IO.In.(interface{ Fd() uintptr })
	if !ok {
		return "", errors.New("stdin is not a terminal")
	}
	fmt.Fprint(o.F.IO.ErrOut, prompt)
	b, err := term.ReadPassword(int(fd.Fd()))
	fmt.Fprintln(o.F.IO.ErrOut)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// warnf writes one warning line on stderr.
func (o *EncodeURLOptions) warnf(format string, a ...any) {
	cs := o.F.IO.ColorScheme()
	fmt.Fprintf(o.F.IO.ErrOut, "%s %s\n", cs.Yellow("warning:"), fmt.Sprintf(format, a...))
}
