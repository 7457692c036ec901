package config

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// OriginKind says what kind of place a setting's value came from.
type OriginKind int

const (
	// FromDefault: the setting is not set anywhere; Connect's default applies.
	FromDefault OriginKind = iota
	// FromFile: the config file.
	FromFile
	// FromEnv: an environment variable CONNECT_<SECTION>_<PROPERTY> of
	// connectdb's own process.
	FromEnv
	// FromEnvFile: an assignment in the file given with --env-file.
	FromEnvFile
)

// Origin is where a setting's effective value came from.
type Origin struct {
	Kind OriginKind
	Path string // the config file or the --env-file
	Line int    // 1-based line in Path; 0 when unknown
	Var  string // the environment variable, for FromEnv and FromEnvFile
}

// String names the origin the way messages show it after "from":
// "rstudio-connect.gcfg:12", "CONNECT_POSTGRES_PASSWORD",
// "--env-file /etc/default/rstudio-connect:3", or "Connect's default".
func (o Origin) String() string {
	switch o.Kind {
	case FromFile:
		if o.Line > 0 {
			return fmt.Sprintf("%s:%d", o.Path, o.Line)
		}
		return o.Path
	case FromEnv:
		return o.Var
	case FromEnvFile:
		return fmt.Sprintf("--env-file %s:%d", o.Path, o.Line)
	}
	return "Connect's default"
}

// IsEnv reports whether the value came from the environment or --env-file.
func (o Origin) IsEnv() bool { return o.Kind == FromEnv || o.Kind == FromEnvFile }

// EnvName returns the environment variable Connect reads key from, such as
// CONNECT_POSTGRES_PASSWORD for "Postgres.Password": upper case, section and
// property run together, joined by one underscore.
func EnvName(key string) string {
	sect, name, _ := strings.Cut(key, ".")
	return "CONNECT_" + strings.ToUpper(sect) + "_" + strings.ToUpper(name)
}

// EnvNames lists the environment overrides connectdb reads, one per
// setting it uses, in the order of the settings.
func EnvNames() []string {
	var out []string
	for _, k := range readKeys {
		out = append(out, EnvName(k))
	}
	return out
}

// Settings lists the settings connectdb reads, in canonical spelling.
func Settings() []string { return append([]string(nil), readKeys...) }

// LoadOptions say where a configuration comes from. The zero value reads
// nothing but defaults.
type LoadOptions struct {
	// Path is the config file; "-" reads Stdin. Empty means no file:
	// Connect's defaults plus the environment.
	Path  string
	Stdin io.Reader
	// Getenv reads connectdb's environment for Connect's overrides
	// (CONNECT_<SECTION>_<PROPERTY>); nil reads none.
	Getenv func(string) string
	// EnvFile is the --env-file: Connect's environment written as a
	// systemd EnvironmentFile. Its assignments win over Getenv's.
	EnvFile string
	// Root is prepended to the paths of Connect's own files (the config
	// file, Server.EncryptionKeyFile, {Server.DataDir}/db/secret.key)
	// when they are opened; messages still show the paths as Connect sees
	// them. Empty in production; tests point it at a directory laid out
	// like a Connect host.
	Root string
	// Timeout, when positive, bounds the wait for the whole config on
	// standard input (--timeout): a pipe nobody writes to must not hang.
	Timeout time.Duration
}

// Load reads the configuration: the file (when Path is set), then the
// --env-file and environment overrides, which win over the file.
func (o LoadOptions) Load() (*Config, error) {
	env, err := o.env()
	if err != nil {
		return nil, err
	}
	var name string
	var src []byte
	switch o.Path {
	case "":
	case "-":
		if o.Stdin == nil {
			return nil, fmt.Errorf("no standard input to read the config from; pass --config PATH")
		}
		name = stdinName
		if src, err = readWithin(o.Stdin, o.Timeout); err != nil {
			return nil, err
		}
	default:
		name = o.Path
		if src, err = readRegular(o.HostPath(o.Path), "--config", "config file"); err != nil {
			return nil, rename(err, o.HostPath(o.Path), o.Path)
		}
	}
	cfg, err := parse(name, src, env)
	if err != nil {
		return nil, err
	}
	cfg.Root = o.Root
	return cfg, nil
}

// readWithin reads the config from standard input, giving up after timeout
// (when positive). The reader is left to the process's end on timeout.
func readWithin(r io.Reader, timeout time.Duration) ([]byte, error) {
	if timeout <= 0 {
		return readCapped(r, stdinName, "config file")
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := readCapped(r, stdinName, "config file")
		done <- result{data, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case res := <-done:
		return res.data, res.err
	case <-timer.C:
		return nil, fmt.Errorf("the config did not arrive on standard input within %s (--config -); pipe the file in, or raise --timeout", timeout)
	}
}

// HostPath returns where path is on this machine: path itself, or under Root.
func (o LoadOptions) HostPath(path string) string { return hostPath(o.Root, path) }

func hostPath(root, path string) string {
	if root == "" || !filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(root, path)
}

// HostPath returns where a path of Connect's (such as the key file) is on
// this machine; see LoadOptions.Root.
func (c *Config) HostPath(path string) string { return hostPath(c.Root, path) }

// rename shows the path the user knows instead of its place under Root.
func rename(err error, hostPath, path string) error {
	if hostPath == path {
		return err
	}
	return &renamedError{msg: strings.ReplaceAll(err.Error(), hostPath, path), err: err}
}

type renamedError struct {
	msg string
	err error
}

func (e *renamedError) Error() string { return e.msg }
func (e *renamedError) Unwrap() error { return e.err }

// envSource looks up Connect's overrides: --env-file first, then the process.
type envSource struct {
	getenv func(string) string
	file   *EnvFile
}

func (o LoadOptions) env() (envSource, error) {
	env := envSource{getenv: o.Getenv}
	if o.EnvFile != "" {
		ef, err := LoadEnvFile(o.EnvFile)
		if err != nil {
			// Not wrapped: a missing --env-file must not pass for a
			// missing config file, which callers may forgive.
			return env, errors.New(err.Error())
		}
		env.file = ef
	}
	return env, nil
}

func (e envSource) lookup(key string) (string, Origin, bool) {
	name := EnvName(key)
	if v, ok := e.file.Lookup(name); ok && v.Value != "" {
		return v.Value, Origin{Kind: FromEnvFile, Path: e.file.Path, Line: v.Line, Var: name}, true
	}
	if e.getenv != nil {
		if v := e.getenv(name); v != "" {
			return v, Origin{Kind: FromEnv, Var: name}, true
		}
	}
	return "", Origin{}, false
}

// Origin returns where the effective value of key came from.
func (c *Config) Origin(key string) Origin {
	if o, ok := c.origins[normKey(key)]; ok {
		return o
	}
	if l := c.Line(key); l > 0 {
		return Origin{Kind: FromFile, Path: c.displayPath(), Line: l}
	}
	return Origin{}
}

// EnvWarnings are the findings of reading --env-file (lines ignored).
func (c *Config) EnvWarnings() []string { return c.envWarnings }
