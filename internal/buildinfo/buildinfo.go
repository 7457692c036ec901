// Package buildinfo holds the version stamp that the Makefile sets with
// -ldflags at build time.
package buildinfo

import "runtime/debug"

// These are set with -ldflags "-X ..." by the Makefile; they are never
// written at run time.
var (
	version = ""
	commit  = ""
)

// Version returns the release version, or the module version recorded by
// `go install`, or "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Commit returns the VCS revision the binary was built from, or "unknown".
func Commit() string {
	if commit != "" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// UserAgent is the application_name connectdb sets on its connections.
func UserAgent() string { return "connectdb/" + Version() }
