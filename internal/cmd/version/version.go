// Package version implements `connectdb version`.
package version

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/connectdb/connectdb/internal/buildinfo"
	"github.com/connectdb/connectdb/internal/cmdutil"
)

// Options holds what runVersion needs.
type Options struct {
	F *cmdutil.Factory
}

// Info is the JSON shape of `connectdb version --output json`.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
}

// NewCmdVersion returns the version command.
func NewCmdVersion(f *cmdutil.Factory) *cobra.Command {
	opts := &Options{F: f}
	return &cobra.Command{
		Use:     "version",
		Short:   "Print connectdb's version, commit and Go version",
		Example: "  connectdb version\n  connectdb version --output json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVersion(opts)
		},
	}
}

func runVersion(opts *Options) error {
	if err := opts.F.CheckOutput("text", "json"); err != nil {
		return err
	}
	info := Info{Version: buildinfo.Version(), Commit: buildinfo.Commit(), GoVersion: runtime.Version()}
	if opts.F.JSON() {
		return cmdutil.WriteJSON(opts.F.IO.Out, info)
	}
	_, err := fmt.Fprintf(opts.F.IO.Out, "connectdb %s\ncommit %s\n%s\n", info.Version, info.Commit, info.GoVersion)
	return err
}
