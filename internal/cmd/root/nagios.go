package root

import (
	"errors"
	"fmt"
	"strings"

	"github.com/connectdb/connectdb/internal/cmdutil"
)

// nagiosExit handles the end of a run with --output nagios, where the
// monitoring-plugin conventions replace connectdb's exit codes: a command
// that printed its status line exits with its plugin state; any other error
// (bad flags, unreadable config, an unsupported command) could not check, so
// it becomes "CONNECTDB UNKNOWN - …" on stdout and exit 3.
func nagiosExit(f *cmdutil.Factory, err error) (int, bool) {
	if f.Globals.Output != "nagios" || err == nil {
		return 0, false
	}
	var ne *cmdutil.NagiosExit
	if errors.As(err, &ne) {
		return ne.State, true
	}
	msg := strings.ReplaceAll(oneLine(strings.TrimSpace(err.Error())), "|", "/")
	fmt.Fprintf(f.IO.Out, "CONNECTDB UNKNOWN - %s\n", msg)
	return 3, true
}
