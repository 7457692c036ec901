// Package iostreams holds the standard streams a command writes to, whether
// they are terminals, and the colour policy that follows from that.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"github.com/fatih/color"
	"golang.org/x/term"
)

// IOStreams is the set of streams a command uses. Tests build one with Test
// and read what the command wrote from the returned buffers.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool
	color     bool
}

// System returns streams bound to the process's stdin, stdout and stderr,
// with colour decided by ApplyColorEnv from the process environment.
func System() *IOStreams {
	s := &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		stdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		stdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		stderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
	}
	s.ApplyColorEnv(os.Getenv)
	return s
}

// ApplyColorEnv decides colour from the environment, in this order:
// NO_COLOR set to anything but "" turns it off (no-color.org);
// CLICOLOR_FORCE or FORCE_COLOR set to anything but "", "0" or "false"
// turns it on even without a terminal (CI logs); otherwise colour is on
// when stdout is a terminal and TERM is not "dumb". --no-color is applied
// after this, with SetColorEnabled(false).
func (s *IOStreams) ApplyColorEnv(getenv func(string) string) {
	forced := func(name string) bool {
		v := getenv(name)
		return v != "" && v != "0" && v != "false"
	}
	switch {
	case getenv("NO_COLOR") != "":
		s.color = false
	case forced("CLICOLOR_FORCE") || forced("FORCE_COLOR"):
		s.color = true
	default:
		s.color = s.stdoutTTY && getenv("TERM") != "dumb"
	}
}

// Test returns streams backed by buffers: stdin, stdout, stderr.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether stderr is a terminal; progress is drawn only then.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetTTY overrides terminal detection, for tests.
func (s *IOStreams) SetTTY(stdin, stdout, stderr bool) {
	s.stdinTTY, s.stdoutTTY, s.stderrTTY = stdin, stdout, stderr
}

// ColorEnabled reports whether output may carry ANSI colour.
func (s *IOStreams) ColorEnabled() bool { return s.color }

// SetColorEnabled forces colour on or off (--no-color turns it off).
func (s *IOStreams) SetColorEnabled(on bool) { s.color = on }

// ColorScheme returns colour helpers that honour ColorEnabled.
func (s *IOStreams) ColorScheme() *ColorScheme {
	mk := func(attrs ...color.Attribute) *color.Color {
		c := color.New(attrs...)
		if s.color {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c
	}
	return &ColorScheme{
		green:  mk(color.FgGreen),
		yellow: mk(color.FgYellow),
		red:    mk(color.FgRed),
		gray:   mk(color.FgHiBlack),
		bold:   mk(color.Bold),
	}
}

// ColorScheme paints text; every method returns s unchanged when colour is off.
type ColorScheme struct {
	green, yellow, red, gray, bold *color.Color
}

func (c *ColorScheme) Green(s string) string  { return c.green.Sprint(s) }
func (c *ColorScheme) Yellow(s string) string { return c.yellow.Sprint(s) }
func (c *ColorScheme) Red(s string) string    { return c.red.Sprint(s) }
func (c *ColorScheme) Gray(s string) string   { return c.gray.Sprint(s) }
func (c *ColorScheme) Bold(s string) string   { return c.bold.Sprint(s) }
