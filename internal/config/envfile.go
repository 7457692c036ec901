package config

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// EnvVar is one assignment read from an environment file.
type EnvVar struct {
	Name  string
	Value string
	Line  int // line where the assignment starts, 1-based
}

// EnvFile is an environment file read the way systemd reads an
// EnvironmentFile= (and the way `kubectl exec … env` prints one).
type EnvFile struct {
	Path string
	Vars []EnvVar
	// Warnings name the lines that were ignored, never their values.
	Warnings []string
}

// Lookup returns the last assignment of name.
func (e *EnvFile) Lookup(name string) (EnvVar, bool) {
	if e == nil {
		return EnvVar{}, false
	}
	for i := len(e.Vars) - 1; i >= 0; i-- {
		if e.Vars[i].Name == name {
			return e.Vars[i], true
		}
	}
	return EnvVar{}, false
}

// LoadEnvFile reads the environment file at path (see ParseEnvFile). Only a
// regular file up to MaxFileSize is read.
func LoadEnvFile(path string) (*EnvFile, error) {
	data, err := readRegular(path, "--env-file", "environment file")
	if err != nil {
		return nil, err
	}
	return ParseEnvFile(path, data), nil
}

// ParseEnvFile decodes the text of an environment file with systemd's
// rules (systemd.exec(5), EnvironmentFile=):
//
//   - empty lines and lines whose first non-blank character is # or ; are
//     comments; there are no comments after a value, so in KEY=a # b the
//     value is "a # b";
//   - blanks around the name and before the value are dropped, and so are
//     blanks at the end of an unquoted value;
//   - a value may be in single quotes (taken literally) or double quotes
//     (where \" \\ \` and \$ stand for the character and other backslashes
//     stay); quoted and unquoted parts run together;
//   - outside single quotes a backslash at the end of a line continues the
//     value on the next line, and outside quotes a backslash takes the next
//     character literally;
//   - a line without "=" and an assignment whose name is not a valid
//     variable name are ignored with a warning.
//
// Line numbers count from 1 and name the line where an assignment starts.
func ParseEnvFile(path string, data []byte) *EnvFile {
	ef := &EnvFile{Path: path}
	src := strings.TrimPrefix(string(data), "\ufeff")
	const (
		preKey = iota
		key
		preValue
		value
		valueEscape
		singleQuote
		doubleQuote
		doubleQuoteEscape
		comment
		commentEscape
	)
	state := preKey
	line := 1
	startLine := 0
	var k, v strings.Builder
	keyEnd, valueEnd := 0, 0 // lengths without trailing blanks
	push := func() {
		name := k.String()[:keyEnd]
		val := v.String()[:max(valueEnd, 0)]
		switch {
		case !validEnvName(name):
			ef.Warnings = append(ef.Warnings, fmt.Sprintf("%s:%d: ignored: not a valid variable name", path, startLine))
		case !utf8.ValidString(val):
			ef.Warnings = append(ef.Warnings, fmt.Sprintf("%s:%d: ignored: the value of %s is not UTF-8", path, startLine, name))
		default:
			ef.Vars = append(ef.Vars, EnvVar{Name: name, Value: val, Line: startLine})
		}
		k.Reset()
		v.Reset()
	}
	appendValue := func(c rune, blank bool) {
		v.WriteRune(c)
		if !blank {
			valueEnd = v.Len()
		}
	}
	isBlank := func(c rune) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	isNewline := func(c rune) bool { return c == '\n' || c == '\r' }
	for _, c := range src + "\n" {
		switch state {
		case preKey:
			switch {
			case c == '#' || c == ';':
				state = comment
			case !isBlank(c):
				state = key
				startLine = line
				k.WriteRune(c)
				keyEnd = k.Len()
			}
		case key:
			switch {
			case isNewline(c):
				ef.Warnings = append(ef.Warnings, fmt.Sprintf("%s:%d: ignored: no \"=\" on the line", path, startLine))
				k.Reset()
				state = preKey
			case c == '=':
				state = preValue
				valueEnd = 0
			default:
				k.WriteRune(c)
				if !isBlank(c) {
					keyEnd = k.Len()
				}
			}
		case preValue:
			switch {
			case isNewline(c):
				push()
				state = preKey
			case c == '\'':
				state = singleQuote
			case c == '"':
				state = doubleQuote
			case c == '\\':
				state = valueEscape
			case !isBlank(c):
				state = value
				appendValue(c, false)
			}
		case value:
			switch {
			case isNewline(c):
				push()
				state = preKey
			case c == '\\':
				state = valueEscape
			default:
				appendValue(c, isBlank(c))
			}
		case valueEscape:
			state = value
			if !isNewline(c) {
				appendValue(c, false)
			}
		case singleQuote:
			if c == '\'' {
				state = preValue
			} else {
				appendValue(c, false)
			}
		case doubleQuote:
			switch c {
			case '"':
				state = preValue
			case '\\':
				state = doubleQuoteEscape
			default:
				appendValue(c, false)
			}
		case doubleQuoteEscape:
			state = doubleQuote
			switch {
			case strings.ContainsRune("\"\\`$", c):
				appendValue(c, false)
			case c == '\n':
			default:
				appendValue('\\', false)
				appendValue(c, false)
			}
		case comment:
			if c == '\\' {
				state = commentEscape
			} else if isNewline(c) {
				state = preKey
			}
		case commentEscape:
			// Since systemd 254 a backslash does not continue a comment.
			state = comment
			if isNewline(c) {
				state = preKey
			}
		}
		if c == '\n' {
			line++
		}
	}
	switch state {
	case singleQuote, doubleQuote, doubleQuoteEscape:
		// An unterminated quote runs to the end of the file; systemd keeps it.
		push()
	}
	return ef
}

// validEnvName reports whether name is a variable name systemd accepts.
func validEnvName(name string) bool {
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for _, c := range name {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// MaxFileSize caps how much of a config or environment file is read;
// Connect's configs are a few kilobytes.
const MaxFileSize = 16 << 20

// readRegular reads a regular file of at most MaxFileSize bytes. A FIFO,
// device or directory is refused before it is opened, so nothing blocks
// and nothing grows without bound. flag and what name the input in messages.
func readRegular(path, flag, what string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, openError(path, flag, what, err)
	}
	if err := regular(path, flag, what, st); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, openError(path, flag, what, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		if err := regular(path, flag, what, st); err != nil {
			return nil, err
		}
	}
	return readCapped(f, path, what)
}

func regular(path, flag, what string, st os.FileInfo) error {
	switch {
	case st.IsDir():
		return fmt.Errorf("%s %s is a directory; pass %s with the path of the file itself", what, path, flag)
	case isDevNull(st):
		// /dev/null is the usual way to say "an empty file": it never
		// blocks and holds nothing.
	case !st.Mode().IsRegular():
		return fmt.Errorf("%s %s is not a regular file (it is a device, pipe or socket); pass %s with the path of a plain file, or \"-\" for standard input where allowed", what, path, flag)
	case st.Size() > MaxFileSize:
		return fmt.Errorf("%s %s is %d bytes, more than the %d MiB connectdb reads; check that %s names the right file", what, path, st.Size(), MaxFileSize>>20, flag)
	}
	return nil
}

// readCapped reads r up to MaxFileSize and fails beyond it.
func readCapped(r io.Reader, name, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s %s: %w", what, name, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s %s is larger than the %d MiB connectdb reads; check that it is a Connect config", what, name, MaxFileSize>>20)
	}
	return data, nil
}

func isDevNull(st os.FileInfo) bool {
	null, err := os.Stat(os.DevNull)
	return err == nil && os.SameFile(st, null)
}
